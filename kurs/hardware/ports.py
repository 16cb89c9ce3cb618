"""Find the ESP32 board's serial port and open it, with Norwegian advice per operating system.

Dev boards talk serial through a USB-UART bridge chip; we recognise the common ones by USB
vendor and product id. The operating system is a parameter (``platform``, defaulting to
``sys.platform``) so advice for macOS, Linux and Windows can be checked from any machine.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kurs.errors import CourseError

CABLE_TIP = (
    "Bruk en USB-kabel som kan overføre data: mange kabler (særlig de som fulgte med "
    "lader eller leker) kan bare lade, og da ser ikke maskinen kortet i det hele tatt."
)


@dataclass(frozen=True)
class UsbBridge:
    """A USB-UART bridge chip found on ESP32 boards."""

    vid: int
    pid: int
    chip: str
    maker: str
    family: str  # key into the driver advice table

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04X}:{self.pid:04X}"


_BRIDGE_LIST = [
    UsbBridge(0x10C4, 0xEA60, "CP210x (CP2102/CP2104)", "Silicon Labs", "cp210x"),
    UsbBridge(0x10C4, 0xEA70, "CP2105", "Silicon Labs", "cp210x"),
    UsbBridge(0x1A86, 0x7523, "CH340", "WCH", "ch34x"),
    UsbBridge(0x1A86, 0x7522, "CH340K", "WCH", "ch34x"),
    UsbBridge(0x1A86, 0x5523, "CH341", "WCH", "ch34x"),
    UsbBridge(0x1A86, 0x55D4, "CH9102", "WCH", "ch9102"),
    UsbBridge(0x1A86, 0x55D3, "CH343", "WCH", "ch9102"),
    UsbBridge(0x0403, 0x6001, "FT232R", "FTDI", "ftdi"),
    UsbBridge(0x0403, 0x6010, "FT2232H", "FTDI", "ftdi"),
    UsbBridge(0x0403, 0x6014, "FT232H", "FTDI", "ftdi"),
    UsbBridge(0x0403, 0x6015, "FT231X", "FTDI", "ftdi"),
    UsbBridge(0x303A, 0x1001, "innebygd USB (USB-JTAG/serie)", "Espressif", "native"),
    UsbBridge(0x303A, 0x0002, "innebygd USB (ESP32-S2/S3)", "Espressif", "native"),
]
KNOWN_BRIDGES: dict[tuple[int, int], UsbBridge] = {(b.vid, b.pid): b for b in _BRIDGE_LIST}


def os_family(platform: str = sys.platform) -> str:
    """``"macos"``, ``"linux"``, ``"windows"`` or ``"other"`` for a ``sys.platform`` value."""
    if platform == "darwin":
        return "macos"
    if platform.startswith("linux"):
        return "linux"
    if platform in ("win32", "cygwin", "msys"):
        return "windows"
    return "other"


# Driver advice: bridge family -> OS -> Norwegian text.
_DRIVER_ADVICE: dict[str, dict[str, str]] = {
    "cp210x": {
        "macos": (
            "Brikken er en CP210x fra Silicon Labs. Nyere macOS har ofte en innebygd driver "
            "(porten heter da /dev/cu.usbserial-…); med Silicon Labs' egen driver heter den "
            "/dev/cu.SLAB_USBtoUART. Dukker ingen port opp: installer «CP210x VCP Driver» fra "
            "Silicon Labs, godkjenn den under Systeminnstillinger > Personvern og sikkerhet, "
            "og koble kortet til på nytt."
        ),
        "linux": (
            "Brikken er en CP210x fra Silicon Labs. Linux har driveren (cp210x) innebygd; "
            "porten heter /dev/ttyUSB0 (eller et annet tall)."
        ),
        "windows": (
            "Brikken er en CP210x fra Silicon Labs. Dukker kortet ikke opp som en COM-port i "
            "Enhetsbehandling, installer «CP210x Universal Windows Driver» fra Silicon Labs."
        ),
    },
    "ch34x": {
        "macos": (
            "Brikken er en CH340/CH341 fra WCH. Nyere macOS har ofte en innebygd driver "
            "(porten heter /dev/cu.usbserial-…). Dukker ingen port opp: installer WCH sin "
            "«CH34xVCPDriver», godkjenn den under Systeminnstillinger > Personvern og sikkerhet, "
            "og koble kortet til på nytt."
        ),
        "linux": (
            "Brikken er en CH340/CH341 fra WCH. Linux har driveren (ch341) innebygd; porten heter "
            "/dev/ttyUSB0. På Ubuntu tar tjenesten brltty (for leselister) ofte over CH340-porten "
            "så den forsvinner igjen med en gang: fjern den med «sudo apt remove brltty» og koble "
            "kortet til på nytt."
        ),
        "windows": (
            "Brikken er en CH340/CH341 fra WCH. Dukker kortet ikke opp som en COM-port i "
            "Enhetsbehandling, installer driveren «CH341SER» fra WCH."
        ),
    },
    "ch9102": {
        "macos": (
            "Brikken er en CH9102/CH343 fra WCH. Dukker ingen /dev/cu.wchusbserial… eller "
            "/dev/cu.usbmodem…-port opp: installer WCH sin «CH34xVCPDriver» (den dekker CH9102), "
            "godkjenn den under Systeminnstillinger > Personvern og sikkerhet, og koble til på nytt."
        ),
        "linux": (
            "Brikken er en CH9102/CH343 fra WCH. Linux har driveren innebygd (cdc_acm eller "
            "ch343); porten heter /dev/ttyACM0 eller /dev/ttyUSB0."
        ),
        "windows": (
            "Brikken er en CH9102/CH343 fra WCH. Dukker kortet ikke opp som en COM-port i "
            "Enhetsbehandling, installer driveren «CH343SER» fra WCH."
        ),
    },
    "ftdi": {
        "macos": (
            "Brikken er fra FTDI. macOS har driveren innebygd; porten heter /dev/cu.usbserial-…."
        ),
        "linux": "Brikken er fra FTDI. Linux har driveren (ftdi_sio) innebygd; porten heter /dev/ttyUSB0.",
        "windows": (
            "Brikken er fra FTDI. Windows henter som regel driveren selv (Windows Update); ellers "
            "installer «VCP Driver» fra FTDI."
        ),
    },
    "native": {
        "macos": (
            "Kortet bruker ESP32-brikkens innebygde USB (ESP32-S3/C3/C6, ikke den klassiske ESP32-en). "
            "Ingen driver trengs; porten heter /dev/cu.usbmodem…. Sjekk at fastvaren er bygd for "
            "riktig brikke."
        ),
        "linux": (
            "Kortet bruker ESP32-brikkens innebygde USB (ESP32-S3/C3/C6, ikke den klassiske ESP32-en). "
            "Ingen driver trengs; porten heter /dev/ttyACM0. Sjekk at fastvaren er bygd for riktig brikke."
        ),
        "windows": (
            "Kortet bruker ESP32-brikkens innebygde USB (ESP32-S3/C3/C6, ikke den klassiske ESP32-en). "
            "Windows 10 og nyere har driveren innebygd. Sjekk at fastvaren er bygd for riktig brikke."
        ),
    },
}

_NO_BOARD_ADVICE = {
    "macos": (
        "Kjør «ls /dev/cu.*» i Terminal før og etter at du kobler til kortet, og se etter en ny port. "
        "Dukker ingen opp: installer driveren for USB-brikken på kortet (CP210x fra Silicon Labs eller "
        "CH34x fra WCH; navnet står ofte på brikken ved USB-kontakten) og godkjenn den under "
        "Systeminnstillinger > Personvern og sikkerhet. Prøv også en annen USB-port."
    ),
    "linux": (
        "Kjør «ls /dev/ttyUSB* /dev/ttyACM*» og «sudo dmesg | tail» etter at du kobler til kortet. "
        "Viser dmesg at en ch341-port kobles fra med en gang, er det brltty som tar den: "
        "«sudo apt remove brltty». Viser dmesg ingenting, ser ikke maskinen kortet: prøv en annen "
        "kabel og en annen USB-port."
    ),
    "windows": (
        "Åpne Enhetsbehandling > Porter (COM og LPT) og koble til kortet. Står det under "
        "«Andre enheter» eller med gult utropstegn, mangler driveren: installer CP210x-driveren fra "
        "Silicon Labs eller CH340-driveren (CH341SER) fra WCH. Prøv også en annen USB-port."
    ),
    "other": "Sjekk at kortet er koblet til og at driveren for USB-brikken er installert.",
}

_PERMISSION_FIX = {
    "linux": (
        "Legg brukeren din i gruppa dialout: «sudo usermod -aG dialout $USER», og logg ut og inn "
        "igjen (på Arch heter gruppa uucp). Alternativt en udev-regel som gir alle tilgang, f.eks. "
        "SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"10c4\", MODE=\"0666\" i /etc/udev/rules.d/99-esp32.rules."
    ),
    "macos": "Koble kortet fra og til igjen; hjelper ikke det, start maskinen på nytt.",
    "windows": "Lukk andre programmer som bruker porten, og koble kortet fra og til igjen.",
    "other": "Sjekk at brukeren din har lese- og skrivetilgang til porten.",
}

_BUSY_FIX = (
    "Lukk andre programmer som bruker kortet (mos, Arduino IDE, screen, minicom, PuTTY, en annen "
    "notebook eller terminal med en seriell monitor) og prøv igjen."
)


def driver_advice(bridge: UsbBridge | None, platform: str = sys.platform) -> str:
    """Norwegian advice about the driver this bridge needs on this OS, plus the cable tip."""
    family = os_family(platform)
    if bridge is None:
        text = _NO_BOARD_ADVICE[family]
    else:
        text = _DRIVER_ADVICE[bridge.family].get(family, _NO_BOARD_ADVICE["other"])
    return f"{text} {CABLE_TIP}"


@dataclass(frozen=True)
class PortInfo:
    """One serial port, with the bridge chip when we recognise it."""

    device: str
    description: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    bridge: UsbBridge | None = None

    @property
    def is_usb(self) -> bool:
        return self.vid is not None

    def advice(self, platform: str = sys.platform) -> str:
        return driver_advice(self.bridge, platform)

    def __str__(self) -> str:
        if self.bridge is not None:
            return f"{self.device} ({self.bridge.chip} fra {self.bridge.maker}, USB {self.bridge.usb_id})"
        if self.vid is not None:
            return f"{self.device} ({self.description or 'ukjent USB-enhet'}, USB {self.vid:04X}:{self.pid or 0:04X})"
        return f"{self.device} ({self.description or 'ikke USB'})"


def port_info(raw: Any) -> PortInfo:
    """A :class:`PortInfo` from a pyserial ``ListPortInfo`` (or anything with the same attributes)."""
    vid = getattr(raw, "vid", None)
    pid = getattr(raw, "pid", None)
    bridge = KNOWN_BRIDGES.get((vid, pid)) if vid is not None and pid is not None else None
    description = getattr(raw, "description", "") or ""
    return PortInfo(
        device=raw.device,
        description="" if description == "n/a" else description,
        vid=vid,
        pid=pid,
        serial_number=getattr(raw, "serial_number", None),
        manufacturer=getattr(raw, "manufacturer", None),
        bridge=bridge,
    )


def list_ports(ports: Iterable[Any] | None = None) -> list[PortInfo]:
    """Every serial port on this machine (or in ``ports``, pyserial ``ListPortInfo``-like objects)."""
    if ports is None:
        from serial.tools import list_ports as pyserial_list_ports

        ports = pyserial_list_ports.comports()
    return sorted((port_info(p) for p in ports), key=lambda p: p.device)


def find_boards(ports: Iterable[Any] | None = None) -> list[PortInfo]:
    """The ports whose USB bridge is one found on ESP32 boards."""
    return [p for p in list_ports(ports) if p.bridge is not None]


def find_board(platform: str = sys.platform, ports: Iterable[Any] | None = None) -> PortInfo:
    """The port of the one connected ESP32 board, or a CourseError saying what to do.

    ``ports`` replaces pyserial's port scan (tests pass ``ListPortInfo`` objects); ``platform``
    chooses the operating system the advice is written for.
    """
    all_ports = list_ports(ports)
    boards = [p for p in all_ports if p.bridge is not None]
    if len(boards) == 1:
        return boards[0]
    if len(boards) > 1:
        listing = "\n".join(f"  • {p}" for p in boards)
        raise CourseError(
            f"Fant {len(boards)} ESP32-kort, og vet ikke hvilket du mener:\n{listing}",
            "Oppgi porten selv, f.eks. port=\"" + boards[0].device + "\", eller koble fra kortene du "
            "ikke skal bruke nå.",
        )
    usb_unknown = [p for p in all_ports if p.is_usb]
    if usb_unknown:
        listing = "\n".join(f"  • {p}" for p in usb_unknown)
        raise CourseError(
            "Fant ingen kjent ESP32-USB-brikke, men disse USB-serieportene:\n" + listing,
            "Er en av dem kortet ditt, oppgi porten selv (port=\"…\"). Ellers: "
            + driver_advice(None, platform),
        )
    raise CourseError(
        "Fant ikke noe ESP32-kort koblet til maskinen.", driver_advice(None, platform)
    )


def refuse_native_usb(device: str, ports: Iterable[Any] | None = None) -> None:
    """Raise a CourseError if ``device`` is an ESP32's own USB (USB-Serial-JTAG / USB-OTG).

    Mongoose OS puts its console and serial RPC on UART0 only; on the chip's own USB port
    flashing works (the ROM bootloader speaks there), but ``info``, ``wifi``, ``put`` and the
    console would just time out.
    """
    port = next((p for p in list_ports(ports) if p.device == device), None)
    if port is None or port.bridge is None or port.bridge.family != "native":
        return
    raise CourseError(
        f"Kortet på {device} er koblet til med ESP32-brikkens innebygde USB ({port.bridge.usb_id}). Mongoose OS "
        "har ingen konsoll eller RPC der: flashing virker, men konsollen, Wi-Fi-oppsett og opplasting av filer "
        "går bare over UART0-pinnene (TX/RX).",
        "Koble en USB-UART-adapter (f.eks. CP2102 eller CH340) til kortets TX, RX og GND (TX til RX og RX til "
        "TX), og bruk porten til adapteren. Har kortet to USB-kontakter, bruk den som er merket UART.",
    )


def _describe_open_failure(exc: BaseException) -> str:
    """``busy``, ``permission``, ``missing`` or ``other`` for an error from opening a port."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    lowered = text.lower()
    # Windows reports a port held by another program as "Access is denied".
    if "access is denied" in lowered or "resource busy" in lowered or "exclusively lock" in lowered:
        return "busy"
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK):
        return "busy"
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in lowered:
        return "permission"
    if (
        code in (errno.ENOENT, errno.ENODEV, errno.ENXIO)
        or "no such file" in lowered
        or "filenotfounderror" in lowered
        or "cannot find the file" in lowered
    ):
        return "missing"
    return "other"


def explain_open_error(exc: BaseException, path: str, platform: str = sys.platform) -> CourseError:
    """A Norwegian CourseError for a failure to open serial port ``path``."""
    kind = _describe_open_failure(exc)
    family = os_family(platform)
    if kind == "busy":
        return CourseError(f"Porten {path} er opptatt: et annet program bruker kortet.", _BUSY_FIX)
    if kind == "permission":
        return CourseError(
            f"Du har ikke tilgang til porten {path}.", _PERMISSION_FIX.get(family, _PERMISSION_FIX["other"])
        )
    if kind == "missing":
        return CourseError(
            f"Finner ikke porten {path}. Kortet er kanskje koblet fra, eller porten har fått et annet navn.",
            "Koble til kortet og la kurs finne porten selv (uten port=…), eller sjekk navnet med "
            "kurs.hardware.ports.list_ports(). " + CABLE_TIP,
        )
    return CourseError(f"Klarte ikke å åpne porten {path}: {exc}", driver_advice(None, platform))


def open_port(
    path: str,
    *,
    baudrate: int = 115200,
    timeout: float | None = 0.1,
    exclusive: bool = True,
    platform: str = sys.platform,
    opener: Callable[..., Any] | None = None,
) -> Any:
    """Open ``path`` (a device or any pyserial URL) without resetting the board.

    DTR and RTS are released before opening, as ``mos`` does: on most ESP32 dev boards those
    lines drive the chip's EN and BOOT pins, and holding them would keep it in reset.
    ``exclusive`` takes an advisory lock on POSIX so two programs cannot share the port.
    ``opener`` replaces ``serial.serial_for_url`` (tests simulate OS errors with it).
    """
    import serial

    opener = opener or serial.serial_for_url
    try:
        port = opener(path, baudrate=baudrate, timeout=timeout, exclusive=exclusive, do_not_open=True)
        port.dtr = False
        port.rts = False
        port.open()
    except (serial.SerialException, OSError, ValueError) as exc:
        raise explain_open_error(exc, path, platform) from exc
    return port
