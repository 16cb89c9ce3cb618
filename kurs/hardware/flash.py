"""Flash a Mongoose OS firmware onto a real ESP32 with esptool's Python API.

What ``mos flash`` does, in Python: connect (auto-reset into the ROM bootloader), load
esptool's flasher stub, switch to a fast baud rate (staying at 115200 if the USB bridge
refuses), write every part of a checked :class:`~kurs.hardware.firmware_zip.WritePlan`
(esptool verifies each region's MD5 after writing), and reset the board into the new
firmware. Progress shows as a tqdm bar, which also renders in Jupyter. esptool's own
messages are kept (``FlashResult.log``) instead of printed; its errors become Norwegian
CourseErrors.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from kurs.errors import CourseError
from kurs.hardware import ports
from kurs.hardware.firmware_zip import WritePlan, read_firmware_zip

ROM_BAUD = 115200
FAST_BAUD = 460800
CONNECT_ATTEMPTS = 7  # esptool's default; each attempt tries its reset sequences
# The bootloader header's flash settings, as `mos flash` sets them by default: DIO mode (works
# on every ESP32 module, unlike the QIO the build writes), 80 MHz, and the detected size.
FLASH_SETTINGS = {"flash_mode": "dio", "flash_freq": "80m", "flash_size": "detect"}

_flash_lock = threading.Lock()  # esptool's logger is process-global: one session at a time

_DOWNLOAD_MODE_FIX = (
    "Sett kortet i nedlastingsmodus for hånd: hold inne BOOT-knappen (IO0), trykk og slipp "
    "EN/RST, slipp BOOT, og prøv igjen med en gang. Lukk også andre programmer som bruker porten. "
    + ports.CABLE_TIP
)


def _esptool_cmds() -> ModuleType:
    """esptool's public API module (imported late: it is heavy). Tests replace this function."""
    from esptool import cmds

    return cmds


def _esptool_errors() -> tuple[type[BaseException], ...]:
    import serial
    from esptool.util import FatalError

    return (FatalError, serial.SerialException, OSError)


def chip_platform(chip_name: str) -> str:
    """esptool's chip name ("ESP32-S3") as a Mongoose OS platform name ("esp32s3")."""
    return chip_name.lower().replace("-", "").replace(" ", "")


def format_mac(mac: str | bytes | Sequence[int]) -> str:
    """A MAC address as ``aa:bb:cc:dd:ee:ff`` from bytes, ints or any hex notation."""
    if isinstance(mac, str):
        digits = re.sub(r"[^0-9a-fA-F]", "", mac)
        if len(digits) != 12 or len(re.sub(r"[0-9a-fA-F:.\- ]", "", mac)) != 0:
            raise CourseError(f"«{mac}» er ikke en MAC-adresse.", "En MAC-adresse har seks byte, f.eks. 24:0a:c4:f7:f2:ad.")
        values = [int(digits[i : i + 2], 16) for i in range(0, 12, 2)]
    else:
        values = list(mac)
    if len(values) != 6 or not all(isinstance(v, int) and 0 <= v <= 255 for v in values):
        raise CourseError(f"«{mac!r}» er ikke en MAC-adresse.", "En MAC-adresse har seks byte.")
    return ":".join(f"{v:02x}" for v in values)


def thing_name_from_mac(mac: str | bytes | Sequence[int], platform: str = "esp32") -> str:
    """The thing name Mongoose OS gives the board: ``esp32_`` + the MAC's last 3 bytes in upper-case hex.

    Mongoose OS's default ``device.id`` is ``esp32_??????``; at boot each ``?`` is replaced,
    from the end, by the hex digits of the base MAC printed with ``%02X`` (upper case), so
    ``24:0a:c4:f7:f2:ad`` gives ``esp32_F7F2AD``. ``mos aws-iot-setup`` names the thing after
    ``device.id``.
    """
    normalized = format_mac(mac).replace(":", "").upper()
    return f"{platform}_{normalized[-6:]}"


@dataclass(frozen=True)
class FlashResult:
    """What was flashed where."""

    port: str
    chip: str
    mac: str
    thing_name: str
    baud: int
    parts: tuple[str, ...]
    bytes_written: int
    log: tuple[str, ...] = field(default=(), repr=False)


def classify_esptool_error(exc: BaseException, *, during_write: bool = False) -> str:
    """One of ``open``, ``boot-mode``, ``no-download-mode``, ``wrong-chip``, ``verify``,
    ``unknown-chip``, ``lost-connection`` or ``other`` for an esptool/pyserial exception."""
    lowered = str(exc).lower()
    if during_write and ("no serial data received" in lowered or "failed to connect" in lowered):
        return "lost-connection"  # it answered before: silence now means the link broke
    if "could not open" in lowered or "could not exclusively lock" in lowered:
        return "open"
    if "wrong boot mode" in lowered:
        return "boot-mode"
    if "failed to connect" in lowered or "no serial data received" in lowered:
        return "no-download-mode"
    if re.search(r"is not an? esp\S* image|does not contain an? esp\S* image", lowered):
        return "wrong-chip"
    if "md5 of file does not match" in lowered or "written flash region is empty" in lowered:
        return "verify"
    if "unexpected chip" in lowered or "failed to autodetect" in lowered:
        return "unknown-chip"
    if _is_serial_error(exc) or any(
        marker in lowered
        for marker in (
            "serial data stream stopped",
            "packet content transfer stopped",
            "timed out",
            "input/output error",
            "device disconnected",
            "device reports readiness to read but returned no data",
        )
    ):
        return "lost-connection"
    return "other"


def explain_esptool_error(
    exc: BaseException,
    port: str,
    platform: str = sys.platform,
    *,
    log: Sequence[str] = (),
    during_write: bool = False,
) -> CourseError:
    """A Norwegian CourseError for an exception from esptool (or pyserial under it).

    ``during_write``: the board had answered before, so silence now means a lost
    connection rather than a board that never entered download mode.
    """
    text = str(exc).strip()
    kind = classify_esptool_error(exc, during_write=during_write)
    if kind == "open":
        inner = re.search(r"\((.*)\)", text, re.S)
        return ports.explain_open_error(
            _TextError(inner.group(1) if inner else text, getattr(exc, "errno", None)), port, platform
        )
    if kind == "boot-mode":
        return CourseError(
            f"Kortet på {port} svarte, men startet vanlig i stedet for i nedlastingsmodus.",
            _DOWNLOAD_MODE_FIX,
        )
    if kind == "no-download-mode":
        return CourseError(
            f"Fikk ikke kontakt med ESP32-ens oppstartslaster på {port}: kortet gikk ikke i "
            "nedlastingsmodus.",
            _DOWNLOAD_MODE_FIX,
        )
    if kind == "wrong-chip":
        return CourseError(
            f"Fastvaren er bygd for en annen ESP-brikke enn den på {port} (esptool: {text.split('. ')[0]}).",
            "Bygg fastvaren for riktig brikke, f.eks. «mos build --platform=esp32» for en vanlig ESP32.",
        )
    if kind == "verify":
        return CourseError(
            f"Det som ble skrevet til kortet på {port}, stemmer ikke med fastvarefila "
            "(kontrollen etter skrivingen feilet).",
            "Flash på nytt med lavere hastighet (baud=115200). Hjelper ikke det, prøv en annen kabel "
            "eller USB-port; flashminnet kan også være skadet.",
        )
    if kind == "unknown-chip":
        return CourseError(
            f"Kortet på {port} har en ESP-brikke som esptool ikke kjenner igjen.",
            "Sjekk at det er et ESP32-kort, og oppdater esptool («pip install -U esptool»).",
        )
    if kind == "lost-connection":
        return CourseError(
            f"Forbindelsen til kortet på {port} ble brutt underveis.",
            "Sjekk at kabelen sitter godt (koble den gjerne rett i maskinen, ikke via en hub), og "
            "flash på nytt, gjerne med lavere hastighet (baud=115200). Kortet starter ikke riktig "
            "før en flashing er fullført.",
        )
    first_line = text.splitlines()[0] if text else type(exc).__name__
    tail = "\n".join(list(log)[-3:])
    detail = f"\nSiste linjer fra esptool:\n{tail}" if tail else ""
    return CourseError(
        f"esptool feilet mot kortet på {port}: {first_line}{detail}",
        "Prøv igjen; hjelper ikke det, trykk EN/RST på kortet eller koble det fra og til.",
    )


class _TextError(Exception):
    def __init__(self, text: str, code: int | None) -> None:
        super().__init__(text)
        self.errno = code


def _is_serial_error(exc: BaseException) -> bool:
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return False
    return isinstance(exc, serial.SerialException)


def _make_logger(on_progress: Callable[[int, int, str], None] | None, lines: list[str]) -> Any:
    """An esptool TemplateLogger that keeps messages in ``lines`` and forwards progress."""
    from esptool.logger import TemplateLogger

    class _CourseLogger(TemplateLogger):
        def print(self, message: Any = "", *args: Any, **kwargs: Any) -> None:
            text = " ".join(str(m) for m in (message, *args)).strip()
            if text and text != ".":
                lines.append(text)

        def note(self, message: str) -> None:
            lines.append(f"Note: {message}")

        def warning(self, message: str, suggestion: str | None = None) -> None:
            lines.append(f"Warning: {message}")

        def error(self, message: str, suggestion: str | None = None) -> None:
            lines.append(f"Error: {message}")

        def stage(self, finish: bool = False) -> None:
            pass

        def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "",
                         bar_length: int = 30) -> None:
            if on_progress is not None:
                on_progress(int(cur_iter), int(total_iters), str(prefix).strip())

        def set_verbosity(self, verbosity: str) -> None:
            pass

    return _CourseLogger()


@contextmanager
def _esptool_logger(logger: Any) -> Iterator[None]:
    """Route esptool's output through ``logger`` for the duration, then restore its own."""
    from esptool.logger import log

    try:
        from esp_pylib.logger import EspLog as holder  # esptool 5.x with esp-pylib
    except ImportError:  # older esptool 5 keeps the singleton on its own logger class
        from esptool.logger import EsptoolLogger as holder
    previous = holder.instance
    log.set_logger(logger)
    try:
        yield
    finally:
        holder.instance = previous


class _TqdmProgress:
    """One tqdm bar per flashed part (esptool reports each region separately)."""

    def __init__(self, plan: WritePlan | None, enabled: bool) -> None:
        self._plan = plan
        self._enabled = enabled
        self._bar: Any = None
        self._last = 0

    def __call__(self, current: int, total: int, prefix: str) -> None:
        if not self._enabled or total <= 0:
            return
        if self._bar is None or total != self._bar.total or current < self._last:
            self.close()
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit="B", unit_scale=True, desc=self._label(prefix), leave=True)
            self._last = 0
        self._bar.update(current - self._last)
        self._last = current
        if current >= total:
            self.close()

    def _label(self, prefix: str) -> str:
        match = re.search(r"0x([0-9a-fA-F]+)", prefix)
        if match and self._plan is not None:
            address = int(match.group(1), 16)
            for part in self._plan.parts:
                if part.offset <= address <= part.end:
                    return f"Skriver {part.name}"
        return "Skriver"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _connect(cmds: ModuleType, port: str, attempts: int) -> Any:
    # default-reset: pulse DTR/RTS so the board's auto-reset circuit enters the ROM bootloader.
    return cmds.detect_chip(port, baud=ROM_BAUD, connect_mode="default-reset", connect_attempts=attempts)


def _read_mac(esp: Any) -> str:
    return format_mac(esp.read_mac("BASE_MAC"))


def _raise_fast(esp: Any, baud: int, lines: list[str]) -> int:
    """Switch to ``baud``; if the bridge or driver refuses, stay at the ROM's 115200."""
    if baud <= ROM_BAUD:
        return ROM_BAUD
    try:
        esp.change_baud(baud)
    except _esptool_errors() as exc:
        lines.append(f"Could not change baud rate to {baud} ({exc}); staying at {ROM_BAUD}.")
        return ROM_BAUD
    return baud


def _resolve_port(port: str | None, platform: str) -> str:
    return port or ports.find_board(platform).device


def flash(
    firmware: str | Path | WritePlan,
    port: str | None = None,
    *,
    baud: int = FAST_BAUD,
    erase_all: bool = False,
    progress: bool = True,
    connect_attempts: int = CONNECT_ATTEMPTS,
    platform: str = sys.platform,
) -> FlashResult:
    """Write a Mongoose OS firmware zip (or a ready :class:`WritePlan`) to the board on ``port``.

    The zip is checked completely before the board is touched. Without ``port`` the one
    connected ESP32 board is used. ``erase_all`` wipes the whole flash first (configuration
    and files included). After a connection lost at the fast baud rate the whole write is
    retried once at 115200. Wi-Fi and AWS settings must be set again after flashing, as with
    ``mos flash``.
    """
    plan = firmware if isinstance(firmware, WritePlan) else read_firmware_zip(firmware)
    device = _resolve_port(port, platform)
    with _flash_lock:
        try:
            return _flash_once(plan, device, baud, erase_all, progress, connect_attempts, platform)
        except _RetrySlow as retry:
            retry.lines.append(f"Connection lost at {baud} baud; writing everything again at {ROM_BAUD}.")
            # At 115200 a lost connection is final: _flash_once raises CourseError itself.
            return _flash_once(
                plan, device, ROM_BAUD, erase_all, progress, connect_attempts, platform, retry.lines
            )


class _RetrySlow(Exception):
    def __init__(self, error: BaseException, lines: list[str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.lines = lines


def _flash_once(
    plan: WritePlan,
    device: str,
    baud: int,
    erase_all: bool,
    progress: bool,
    connect_attempts: int,
    platform: str,
    lines: list[str] | None = None,
) -> FlashResult:
    cmds = _esptool_cmds()
    lines = lines if lines is not None else []
    bar = _TqdmProgress(plan, progress)
    used_baud = ROM_BAUD
    started_writing = False
    try:
        with _esptool_logger(_make_logger(bar, lines)):
            esp = _connect(cmds, device, connect_attempts)
            with esp:
                chip = esp.CHIP_NAME
                if plan.platform and chip_platform(chip) != plan.platform.lower():
                    raise CourseError(
                        f"Fastvaren er bygd for {plan.platform}, men kortet på {device} har en {chip}.",
                        f"Bygg for riktig brikke («mos build --platform={chip_platform(chip)}») eller "
                        "bruk et kort med brikken fastvaren er laget for. Ingenting er skrevet til kortet.",
                    )
                mac = _read_mac(esp)
                esp = cmds.run_stub(esp)
                cmds.attach_flash(esp)
                used_baud = _raise_fast(esp, baud, lines)
                started_writing = True
                if erase_all:
                    cmds.erase_flash(esp)
                cmds.write_flash(esp, plan.addr_data(), **FLASH_SETTINGS)
                cmds.reset_chip(esp, "hard-reset")
    except CourseError:
        raise
    except _esptool_errors() as exc:
        lost = classify_esptool_error(exc, during_write=started_writing) == "lost-connection"
        if lost and started_writing and used_baud > ROM_BAUD:
            raise _RetrySlow(exc, lines) from exc
        raise explain_esptool_error(exc, device, platform, log=lines, during_write=started_writing) from exc
    finally:
        bar.close()
    return FlashResult(
        port=device,
        chip=chip,
        mac=mac,
        thing_name=thing_name_from_mac(mac, chip_platform(chip)),
        baud=used_baud,
        parts=tuple(p.name for p in plan.parts),
        bytes_written=plan.total_size,
        log=tuple(lines),
    )


@contextmanager
def _quiet_session(port: str | None, connect_attempts: int, platform: str) -> Iterator[tuple[Any, Any]]:
    """``(cmds, esp)``: a connected chip for a short job with no progress bar; esptool's errors
    become Norwegian ones, and its log is kept for them."""
    device = _resolve_port(port, platform)
    cmds = _esptool_cmds()
    lines: list[str] = []
    with _flash_lock:
        try:
            with _esptool_logger(_make_logger(None, lines)):
                esp = _connect(cmds, device, connect_attempts)
                with esp:
                    yield cmds, esp
        except _esptool_errors() as exc:
            raise explain_esptool_error(exc, device, platform, log=lines) from exc


def chip_info(
    port: str | None = None, *, connect_attempts: int = CONNECT_ATTEMPTS, platform: str = sys.platform
) -> tuple[str, str]:
    """``(chip, mac)`` of the board, e.g. ``("ESP32", "24:0a:c4:f7:f2:ad")``; resets it afterwards."""
    with _quiet_session(port, connect_attempts, platform) as (cmds, esp):
        chip, mac = esp.CHIP_NAME, _read_mac(esp)
        cmds.reset_chip(esp, "hard-reset")
    return chip, mac


def erase(
    port: str | None = None, *, connect_attempts: int = CONNECT_ATTEMPTS, platform: str = sys.platform
) -> None:
    """Erase the whole flash (firmware, configuration and files) of the board on ``port``."""
    with _quiet_session(port, connect_attempts, platform) as (cmds, esp):
        esp = cmds.run_stub(esp)
        cmds.attach_flash(esp)
        cmds.erase_flash(esp)
        cmds.reset_chip(esp, "hard-reset")
