"""Finding the board's serial port and opening it, with the advice each OS needs."""

from __future__ import annotations

import os

import pytest
import serial
from serial.tools.list_ports_common import ListPortInfo

from kurs.errors import CourseError
from kurs.hardware import ports


def usb_port(device: str, vid: int | None, pid: int | None, description: str = "USB Serial") -> ListPortInfo:
    """A port as pyserial's scan reports it."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, pid, description
    return info


@pytest.mark.parametrize(
    ("vid", "pid", "chip"),
    [
        (0x10C4, 0xEA60, "CP210x"),
        (0x1A86, 0x7523, "CH340"),
        (0x1A86, 0x5523, "CH341"),
        (0x1A86, 0x55D4, "CH9102"),
        (0x0403, 0x6001, "FT232R"),
        (0x0403, 0x6010, "FT2232H"),
        (0x0403, 0x6015, "FT231X"),
        (0x303A, 0x1001, "innebygd USB"),
    ],
)
def test_each_known_bridge_is_found_as_the_board(vid: int, pid: int, chip: str) -> None:
    scan = [usb_port("/dev/ttyS0", None, None, "ttyS0"), usb_port("/dev/ttyUSB0", vid, pid)]
    board = ports.find_board("linux", ports=scan)
    assert board.device == "/dev/ttyUSB0"
    assert board.bridge is not None and chip in board.bridge.chip
    assert chip in str(board)


@pytest.mark.parametrize(
    ("vid", "pid", "platform", "expected"),
    [
        (0x10C4, 0xEA60, "darwin", ["Silicon Labs", "Systeminnstillinger > Personvern og sikkerhet", "/dev/cu.SLAB_USBtoUART"]),
        (0x10C4, 0xEA60, "linux", ["innebygd", "/dev/ttyUSB0"]),
        (0x10C4, 0xEA60, "win32", ["COM-port", "Enhetsbehandling", "CP210x Universal Windows Driver"]),
        (0x1A86, 0x7523, "darwin", ["CH34xVCPDriver", "Personvern og sikkerhet"]),
        (0x1A86, 0x7523, "linux", ["brltty", "sudo apt remove brltty"]),
        (0x1A86, 0x7523, "win32", ["CH341SER", "COM-port"]),
        (0x1A86, 0x55D4, "win32", ["CH343SER"]),
        (0x1A86, 0x55D4, "linux", ["/dev/ttyACM0"]),
        (0x0403, 0x6001, "darwin", ["innebygd", "/dev/cu.usbserial"]),
        (0x303A, 0x1001, "linux", ["Ingen driver trengs", "/dev/ttyACM0", "riktig brikke"]),
    ],
)
def test_driver_advice_fits_bridge_and_os(vid: int, pid: int, platform: str, expected: list[str]) -> None:
    board = ports.find_board(platform, ports=[usb_port("/dev/x", vid, pid)])
    advice = board.advice(platform)
    for phrase in expected:
        assert phrase in advice
    assert "bare lade" in advice  # the charge-only cable tip, always


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("darwin", ["ls /dev/cu.*", "Systeminnstillinger > Personvern og sikkerhet", "CP210x", "CH34x"]),
        ("linux", ["ls /dev/ttyUSB* /dev/ttyACM*", "dmesg", "brltty"]),
        ("win32", ["Enhetsbehandling", "Porter (COM og LPT)", "CH341SER"]),
    ],
)
def test_no_board_gives_os_specific_advice(platform: str, expected: list[str]) -> None:
    # macOS always lists a Bluetooth port; it must not be mistaken for a board.
    scan = [usb_port("/dev/cu.Bluetooth-Incoming-Port", None, None, "n/a")]
    with pytest.raises(CourseError) as caught:
        ports.find_board(platform, ports=scan)
    text = str(caught.value)
    assert "Fant ikke noe ESP32-kort" in text
    for phrase in expected:
        assert phrase in text
    assert "bare lade" in text


def test_unknown_usb_serial_port_is_listed_not_guessed() -> None:
    scan = [usb_port("/dev/ttyACM3", 0x2341, 0x0043, "Arduino Uno")]
    with pytest.raises(CourseError) as caught:
        ports.find_board("linux", ports=scan)
    text = str(caught.value)
    assert "/dev/ttyACM3" in text and "Arduino Uno" in text
    assert "port=" in text


def test_two_boards_are_ambiguous_and_both_named() -> None:
    scan = [usb_port("/dev/ttyUSB1", 0x1A86, 0x7523), usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60)]
    assert [p.device for p in ports.find_boards(scan)] == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    with pytest.raises(CourseError) as caught:
        ports.find_board("linux", ports=scan)
    text = str(caught.value)
    assert "Fant 2 ESP32-kort" in text and "/dev/ttyUSB0" in text and "/dev/ttyUSB1" in text


def test_os_family_names() -> None:
    assert [ports.os_family(p) for p in ("darwin", "linux", "win32", "freebsd14")] == [
        "macos", "linux", "windows", "other",
    ]


# --- opening ---------------------------------------------------------------------------------


@pytest.fixture
def pty_path():
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_open_real_port_releases_dtr_and_rts(pty_path: str) -> None:
    port = ports.open_port(pty_path)
    try:
        assert port.is_open
        # Held DTR/RTS would keep an ESP32 dev board in reset or in its bootloader.
        assert port.dtr is False and port.rts is False
    finally:
        port.close()


def test_busy_port_is_explained(pty_path: str) -> None:
    first = ports.open_port(pty_path)
    try:
        with pytest.raises(CourseError) as caught:
            ports.open_port(pty_path)
        assert "opptatt" in str(caught.value)
        assert "mos" in caught.value.fix and "screen" in caught.value.fix
    finally:
        first.close()
    ports.open_port(pty_path).close()  # free again once the first user is done


def test_missing_port_is_explained() -> None:
    with pytest.raises(CourseError) as caught:
        ports.open_port("/dev/ttyUSB-finnes-ikke")
    assert "Finner ikke porten /dev/ttyUSB-finnes-ikke" in str(caught.value)
    assert "list_ports" in caught.value.fix


def _raiser(exc: BaseException):
    def opener(*args, **kwargs):
        raise exc

    return opener


@pytest.mark.parametrize(
    ("platform", "exc", "expected"),
    [
        # pyserial on Linux, user not in dialout
        ("linux", serial.SerialException(13, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied: '/dev/ttyUSB0'"),
         ["ikke tilgang", "usermod -aG dialout", "logg ut og inn"]),
        # another program holds the port (flock by esptool/mos/us)
        ("linux", serial.SerialException(11, "Could not exclusively lock port /dev/ttyUSB0: [Errno 11] Resource temporarily unavailable"),
         ["opptatt"]),
        ("darwin", serial.SerialException(16, "could not open port /dev/cu.SLAB_USBtoUART: [Errno 16] Resource busy: '/dev/cu.SLAB_USBtoUART'"),
         ["opptatt"]),
        # Windows says "Access is denied" for a port another program has open
        ("win32", serial.SerialException("could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)"),
         ["opptatt"]),
        ("win32", serial.SerialException("could not open port 'COM7': FileNotFoundError(2, 'The system cannot find the file specified.', None, 2)"),
         ["Finner ikke porten"]),
    ],
)
def test_open_errors_per_os(platform: str, exc: BaseException, expected: list[str]) -> None:
    with pytest.raises(CourseError) as caught:
        ports.open_port("PORT", platform=platform, opener=_raiser(exc))
    text = str(caught.value)
    for phrase in expected:
        assert phrase in text
    assert caught.value.__cause__ is exc


def test_native_usb_is_refused_for_console_and_rpc_with_the_reason() -> None:
    # Mongoose OS has its console and rpc-uart on UART0 only, never on USB-Serial-JTAG.
    refuse_native_usb = ports.refuse_native_usb
    native = usb_port("/dev/ttyACM0", 0x303A, 0x1001)
    bridge = usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60)
    with pytest.raises(CourseError) as caught:
        refuse_native_usb("/dev/ttyACM0", [native, bridge])
    assert "303A:1001" in str(caught.value) and "flashing virker" in str(caught.value)
    assert "USB-UART-adapter" in caught.value.fix
    refuse_native_usb("/dev/ttyUSB0", [native, bridge])  # a UART bridge is fine
    refuse_native_usb("/dev/pts/7", [native, bridge])    # an unknown port (a virtual board) too
