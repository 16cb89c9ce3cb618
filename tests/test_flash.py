"""Flashing without a chip: the real esptool against ports with no ESP32 on them, and the
calls we make into esptool's API recorded by a stand-in (esptool cannot run without a chip).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import serial
from esptool.util import FatalError
from hardware_firmware import default_blobs, default_manifest, write_firmware_zip

from kurs.errors import CourseError
from kurs.hardware import flash, ports
from kurs.hardware.firmware_zip import read_firmware_zip

MAC = (0x24, 0x0A, 0xC4, 0xF7, 0xF2, 0xAD)


@pytest.mark.parametrize(
    ("mac", "thing"),
    [
        ("24:0a:c4:f7:f2:ad", "esp32_F7F2AD"),
        ("24-0A-C4-F7-F2-AD", "esp32_F7F2AD"),
        ("240ac4f7f2ad", "esp32_F7F2AD"),
        (bytes(MAC), "esp32_F7F2AD"),
        (MAC, "esp32_F7F2AD"),
        ("a4:cf:12:00:0b:0c", "esp32_000B0C"),  # leading zeros kept, as %02X does
    ],
)
def test_thing_name_is_esp32_and_last_three_mac_bytes_upper_case(mac, thing: str) -> None:
    assert flash.thing_name_from_mac(mac) == thing


def test_thing_name_for_other_platforms_and_bad_macs() -> None:
    assert flash.thing_name_from_mac(MAC, "esp32c3") == "esp32c3_F7F2AD"
    for bad in ("24:0a:c4", "zz:0a:c4:f7:f2:ad", (1, 2, 3, 4, 5, 256)):
        with pytest.raises(CourseError, match="MAC-adresse"):
            flash.thing_name_from_mac(bad)


# --- the real esptool, no chip -----------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[str]:
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_real_esptool_on_a_silent_port_says_download_mode(silent_port: str, capsys) -> None:
    with pytest.raises(CourseError) as caught:
        flash.chip_info(silent_port, connect_attempts=1)
    assert "nedlastingsmodus" in str(caught.value) and "BOOT" in caught.value.fix
    out = capsys.readouterr()
    assert "Connecting" not in out.out + out.err  # esptool's English output is kept, not printed


def test_real_esptool_busy_and_missing_ports(silent_port: str) -> None:
    holder = ports.open_port(silent_port)
    try:
        with pytest.raises(CourseError, match="opptatt"):
            flash.chip_info(silent_port, connect_attempts=1)
    finally:
        holder.close()
    with pytest.raises(CourseError, match="Finner ikke porten /dev/ttyUSB-finnes-ikke"):
        flash.erase("/dev/ttyUSB-finnes-ikke", connect_attempts=1)


def test_esptool_logger_is_restored_after_use(silent_port: str) -> None:
    from esp_pylib.logger import EspLog

    before = EspLog.instance
    with pytest.raises(CourseError):
        flash.chip_info(silent_port, connect_attempts=1)
    assert EspLog.instance is before


# --- the calls we make into esptool --------------------------------------------------------------


class FakeEsp:
    def __init__(self, calls: list, chip: str, refuse_baud: bool) -> None:
        self.calls, self.CHIP_NAME, self.refuse_baud = calls, chip, refuse_baud

    def __enter__(self) -> FakeEsp:
        return self

    def __exit__(self, *exc) -> None:
        self.calls.append(("close",))

    def read_mac(self, kind: str = "BASE_MAC"):
        return MAC

    def change_baud(self, baud: int) -> None:
        if self.refuse_baud:
            raise FatalError(f"Failed to set baud rate {baud}. The driver may not support this rate.")
        self.calls.append(("baud", baud))


def fake_esptool(chip: str = "ESP32", refuse_baud: bool = False, write_errors: list | None = None,
                 connect_error: BaseException | None = None) -> SimpleNamespace:
    calls: list = []
    write_errors = list(write_errors or [])

    def detect_chip(port, baud, connect_mode, connect_attempts):
        calls.append(("detect", port, baud, connect_mode))
        if connect_error is not None:
            raise connect_error
        return FakeEsp(calls, chip, refuse_baud)

    def write_flash(esp, addr_data, **settings):
        from esptool.logger import log  # drive esptool's logger the way the real write does

        calls.append(("write", addr_data, settings))
        for address, data in addr_data:
            with log.progress(total=len(data), unit="B") as progress:
                progress.update(advance=len(data), description=f"Writing at {address:#010x}")
            log.print(f"Wrote {len(data)} bytes at {address:#010x}.")
        if write_errors:
            raise write_errors.pop(0)

    return SimpleNamespace(
        calls=calls,
        detect_chip=detect_chip,
        run_stub=lambda esp: calls.append(("stub",)) or esp,
        attach_flash=lambda esp: calls.append(("attach",)),
        write_flash=write_flash,
        erase_flash=lambda esp: calls.append(("erase",)),
        reset_chip=lambda esp, mode: calls.append(("reset", mode)),
    )


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    return write_firmware_zip(tmp_path / "fw.zip", default_blobs())


def use(monkeypatch: pytest.MonkeyPatch, fake: SimpleNamespace) -> SimpleNamespace:
    monkeypatch.setattr(flash, "_esptool_cmds", lambda: fake)
    return fake


def names(calls: list) -> list:
    return [c[0] if c[0] != "baud" else c for c in calls]


def test_flash_writes_exactly_the_plan_then_resets(monkeypatch, firmware: Path) -> None:
    fake = use(monkeypatch, fake_esptool())
    result = flash.flash(firmware, "/dev/ttyUSB0", progress=False)

    plan = read_firmware_zip(firmware)
    writes = [c for c in fake.calls if c[0] == "write"]
    assert len(writes) == 1
    assert writes[0][1] == plan.addr_data()  # every part, at its offset, byte for byte
    assert writes[0][2] == {"flash_mode": "dio", "flash_freq": "80m", "flash_size": "detect"}
    assert fake.calls[0] == ("detect", "/dev/ttyUSB0", 115200, "default-reset")
    assert names(fake.calls) == ["detect", "stub", "attach", ("baud", 460800), "write", "reset", "close"]
    assert ("reset", "hard-reset") in fake.calls
    assert (result.chip, result.mac, result.thing_name) == ("ESP32", "24:0a:c4:f7:f2:ad", "esp32_F7F2AD")
    assert result.baud == 460800 and result.parts == tuple(p.name for p in plan.parts)
    assert any("Wrote" in line for line in result.log)  # esptool's messages kept for diagnosis


def test_progress_bar_per_part(monkeypatch, firmware: Path, capsys) -> None:
    use(monkeypatch, fake_esptool())
    flash.flash(firmware, "/dev/ttyUSB0", progress=True)
    err = capsys.readouterr().err
    for part in ("boot", "app", "fs"):
        assert f"Skriver {part}" in err
    assert "100%" in err


def test_erase_all_erases_before_writing(monkeypatch, firmware: Path) -> None:
    fake = use(monkeypatch, fake_esptool())
    flash.flash(firmware, "/dev/ttyUSB0", erase_all=True, progress=False)
    order = names(fake.calls)
    assert order.index("erase") < order.index("write")


def test_fast_baud_refused_stays_at_115200(monkeypatch, firmware: Path) -> None:
    fake = use(monkeypatch, fake_esptool(refuse_baud=True))
    result = flash.flash(firmware, "/dev/ttyUSB0", progress=False)
    assert result.baud == 115200
    assert [c[0] for c in fake.calls].count("write") == 1


def test_connection_lost_at_fast_baud_is_retried_at_115200(monkeypatch, firmware: Path) -> None:
    lost = serial.SerialException("write failed: [Errno 5] Input/output error")
    fake = use(monkeypatch, fake_esptool(write_errors=[lost]))
    result = flash.flash(firmware, "/dev/ttyUSB0", progress=False)
    assert result.baud == 115200
    assert [c[0] for c in fake.calls].count("write") == 2
    assert [c for c in fake.calls if c[0] == "baud"] == [("baud", 460800)]  # second round stays slow


def test_connection_lost_at_115200_is_final(monkeypatch, firmware: Path) -> None:
    lost = FatalError("Serial data stream stopped: Possible serial noise or corruption.")
    use(monkeypatch, fake_esptool(write_errors=[lost]))
    with pytest.raises(CourseError, match="ble brutt underveis"):
        flash.flash(firmware, "/dev/ttyUSB0", baud=115200, progress=False)


def test_wrong_chip_refused_before_anything_is_written(monkeypatch, firmware: Path) -> None:
    fake = use(monkeypatch, fake_esptool(chip="ESP32-S3"))
    with pytest.raises(CourseError) as caught:
        flash.flash(firmware, "/dev/ttyUSB0", progress=False)
    assert "bygd for esp32, men kortet på /dev/ttyUSB0 har en ESP32-S3" in str(caught.value)
    assert "--platform=esp32s3" in caught.value.fix
    assert "write" not in names(fake.calls) and "close" in names(fake.calls)


def test_corrupt_zip_never_reaches_the_board(monkeypatch, tmp_path: Path) -> None:
    fake = use(monkeypatch, fake_esptool())
    blobs = default_blobs()
    manifest = default_manifest(blobs)
    blobs["fs.img"] = blobs["fs.img"][:-1] + b"!"  # the last part in flash order is damaged
    path = write_firmware_zip(tmp_path / "fw.zip", blobs, manifest)
    with pytest.raises(CourseError, match="«fs».*ødelagt"):
        flash.flash(path, "/dev/ttyUSB0", progress=False)
    assert fake.calls == []  # not even a connection attempt


def test_chip_info_and_erase(monkeypatch) -> None:
    fake = use(monkeypatch, fake_esptool(chip="ESP32"))
    assert flash.chip_info("/dev/ttyUSB0") == ("ESP32", "24:0a:c4:f7:f2:ad")
    flash.erase("/dev/ttyUSB0")
    assert names(fake.calls) == [
        "detect", "reset", "close",  # chip_info
        "detect", "stub", "attach", "erase", "reset", "close",  # erase
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (FatalError("Failed to connect to ESP32: No serial data received.\nFor troubleshooting steps visit: …"),
         "gikk ikke i nedlastingsmodus"),
        (FatalError("Failed to connect to ESP32: Wrong boot mode detected (0x13)! The chip needs to be in download mode."),
         "startet vanlig i stedet for i nedlastingsmodus"),
        (FatalError("Could not open /dev/ttyUSB0, the port is busy or doesn't exist.\n([Errno 16] could not open port "
                    "/dev/ttyUSB0: [Errno 16] Device or resource busy: '/dev/ttyUSB0')\n"), "opptatt"),
        (FatalError("Could not open /dev/ttyUSB0, the port is busy or doesn't exist.\n([Errno 13] could not open port "
                    "/dev/ttyUSB0: [Errno 13] Permission denied: '/dev/ttyUSB0')\n\nHint: Try to add user into dialout "
                    "or uucp group.\n"), "usermod -aG dialout"),
        (FatalError("'bootloader.bin' is not an ESP32-S3 image. Use --force to flash anyway."), "annen ESP-brikke"),
        (FatalError("MD5 of file does not match data in flash!"), "stemmer ikke med fastvarefila"),
        (FatalError("Unexpected chip magic value 0xdeadbeef. Failed to autodetect chip type."), "ikke kjenner igjen"),
        (serial.SerialException("device reports readiness to read but returned no data (device disconnected or "
                                "multiple access on port?)"), "ble brutt underveis"),
        (FatalError("Something nobody expected"), "esptool feilet mot kortet på /dev/ttyUSB0: Something nobody expected"),
    ],
)
def test_esptool_errors_in_norwegian(error: BaseException, expected: str) -> None:
    assert expected in str(flash.explain_esptool_error(error, "/dev/ttyUSB0", "linux"))


def test_silence_after_writing_started_is_a_lost_connection() -> None:
    error = FatalError("No serial data received.")
    assert "nedlastingsmodus" in str(flash.explain_esptool_error(error, "COM3", "win32"))
    assert "ble brutt" in str(flash.explain_esptool_error(error, "COM3", "win32", during_write=True))
