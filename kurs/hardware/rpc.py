"""Talk to a Mongoose OS board over its serial port with RPC, as ``mos`` does.

``RpcClient`` opens the port (a device path or any pyserial URL, e.g. a pseudo-terminal
served by :mod:`kurs.esp32.rpc_server`), reads in a background thread, and sends
requests framed like ``mos`` (see :mod:`kurs.hardware.framing`). Everything the board prints
that is not an RPC frame is its console log: kept in ``console_lines`` and passed to
``on_console``. At 115200 baud without flow control the board's receive buffer is small, so
like ``mos`` we send in 16-byte chunks 5 ms apart and repeat the handshake before each
request. Errors from the board become Norwegian :class:`RpcError`s.

Typical use::

    with RpcClient() as kort:              # finds the one connected board
        print(kort.get_info()["id"])       # e.g. esp32_F7F2AD
        kort.set_wifi("Kontoret", "hemmelig-passord")
"""

from __future__ import annotations

import base64
import collections
import itertools
import queue
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.hardware import framing, ports

DEFAULT_TIMEOUT = 10.0
RETRIES = 3  # mos: Config.Get, Config.Set and every FS.Put chunk (mongoose-os/mos cli/dev)
FS_CHUNK_SIZE = 512  # bytes of file data per FS.Put / FS.Get, as mos uses
HANDSHAKE_INTERVAL = 0.2
_LOST = object()


class RpcError(CourseError):
    """The board answered a request with an error."""

    def __init__(self, message: str, fix: str | None, *, method: str, code: int, device_message: str) -> None:
        super().__init__(message, fix)
        self.method = method
        self.code = code
        self.device_message = device_message


def explain_device_error(method: str, params: Any, code: int, message: str) -> RpcError:
    """A Norwegian RpcError for the board's ``{"error": {"code", "message"}}`` answer."""
    said = f" (kortet sa: «{message}»)" if message else ""
    lowered = message.lower()
    key = params.get("key") if isinstance(params, dict) else None
    filename = params.get("filename") if isinstance(params, dict) else None

    def err(text: str, fix: str | None) -> RpcError:
        return RpcError(text, fix, method=method, code=code, device_message=message)

    if code == 404 and "no handler" in lowered:
        library = {"FS": "rpc-service-fs", "Config": "rpc-service-config"}.get(method.split(".")[0])
        fix = (
            f"Fastvaren mangler biblioteket {library}: legg det til under libs i mos.yml og bygg på nytt."
            if library
            else "Sjekk stavemåten. Fastvaren kan mangle biblioteket som gir denne kommandoen."
        )
        return err(f"Kortet kjenner ikke kommandoen {method}{said}.", fix)
    if code == 404 and "config key" in lowered:
        name = f"«{key}»" if key else "den"
        return err(
            f"Kortet har ingen innstilling som heter {name}.",
            "Sjekk stavemåten; config_get() uten nøkkel viser alle innstillingene.",
        )
    if code == 400 and "config value" in lowered:
        return err(
            f"Kortet godtok ikke verdien{said}.",
            "Sjekk at verdien har riktig type (tekst i anførselstegn, tall uten, true/false).",
        )
    if code == 400 and "failed to open file" in lowered:
        name = f"«{filename}»" if filename else "fila"
        if method == "FS.Get":
            return err(f"Fila {name} finnes ikke på kortet.", "Se hvilke filer som finnes med fs_list().")
        return err(f"Kortet klarte ikke å åpne {name} for skriving{said}.",
                   "Filnavnet kan være for langt (høyst 31 tegn) eller inneholde mapper som ikke finnes.")
    if code == 403:
        return err(
            f"Kortet nektet å utføre {method}{said}.",
            "Konfigurasjonen (rpc.acl) begrenser hvem som får bruke RPC; sett den tilbake eller flash på nytt.",
        )
    if code == 418:
        return err(f"Kortet holder på å starte på nytt{said}.", "Vent et par sekunder og prøv igjen.")
    if code == 429:
        return err(f"Kortet har for mange forespørsler i kø{said}.", "Vent litt og prøv igjen.")
    if method == "FS.Put" and code == 500:
        return err(
            f"Kortet klarte ikke å skrive {f'«{filename}»' if filename else 'fila'}{said}.",
            "Filsystemet kan være fullt: se fs_list() og fjern filer du ikke trenger.",
        )
    if "saving config" in lowered:
        return err(f"Kortet klarte ikke å lagre konfigurasjonen{said}.", "Prøv igjen; hjelper ikke det, flash på nytt.")
    return err(f"Kortet svarte med feil {code} på {method}{said}.", None)


def expand_dotted(config: dict[str, Any]) -> dict[str, Any]:
    """``{"wifi.sta.ssid": "x"}`` -> ``{"wifi": {"sta": {"ssid": "x"}}}`` (nested keys kept)."""
    result: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            value = expand_dotted(value)
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise CourseError(f"Innstillingen «{key}» krasjer med en annen du setter samtidig.")
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            node[leaf] = _merge(node[leaf], value)
        else:
            node[leaf] = value
    return result


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def check_wifi(ssid: str, password: str) -> None:
    """Refuse an SSID or WPA2 password the board cannot use, in Norwegian."""
    if not ssid or len(ssid.encode("utf-8")) > 32:
        raise CourseError(
            "Navnet på Wi-Fi-nettet (SSID) må være mellom 1 og 32 byte langt.",
            "Skriv navnet nøyaktig slik det står i nettverkslista på maskinen din.",
        )
    if password and not 8 <= len(password) <= 63:
        raise CourseError(
            "Wi-Fi-passordet må være mellom 8 og 63 tegn (WPA2), eller tomt for et åpent nett.",
            "Sjekk passordet.",
        )


class RpcClient:
    """Mongoose OS RPC over a serial port. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        port: str | None = None,
        *,
        baudrate: int = 115200,
        timeout: float = DEFAULT_TIMEOUT,
        on_console: Callable[[str], None] | None = None,
        chunk_size: int = 16,
        chunk_delay: float = 0.005,
        src: str = "kurs",
        platform: str = sys.platform,
    ) -> None:
        self.port = port or ports.find_board(platform).device
        ports.refuse_native_usb(self.port)
        self.timeout = timeout
        self.on_console = on_console
        self.console_lines: collections.deque[str] = collections.deque(maxlen=2000)
        self._chunk_size = max(1, chunk_size)
        self._chunk_delay = chunk_delay
        self._src = src
        self._ids = itertools.count(random.randint(1, 1 << 30))
        self._pending: dict[int, queue.Queue[Any]] = {}
        self._pending_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ack = threading.Event()
        self._may_send = threading.Event()
        self._may_send.set()
        self._console_cond = threading.Condition()
        self._handshaken = False
        self._corrupt_frames = 0
        self._lost: BaseException | None = None
        self._closed = threading.Event()
        self._serial = ports.open_port(self.port, baudrate=baudrate, timeout=0.05, platform=platform)
        self._reader = threading.Thread(target=self._read_loop, name=f"rpc-reader {self.port}", daemon=True)
        self._reader.start()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._reader.join(timeout=2)
        try:
            self._serial.close()
        except Exception:  # noqa: BLE001 - closing a vanished device must not raise
            pass

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def _read_loop(self) -> None:
        parser = framing.HostStreamParser()
        while not self._closed.is_set():
            try:
                data = self._serial.read(max(1, getattr(self._serial, "in_waiting", 0) or 0))
            except Exception as exc:  # noqa: BLE001 - any read failure means the board is gone
                if not self._closed.is_set():
                    self._connection_lost(exc)
                return
            if not data:
                continue
            data, state = framing.strip_flow_control(data)
            if state is True:
                self._may_send.set()
            elif state is False:
                self._may_send.clear()
            for kind, value in parser.feed(data):
                self._dispatch(kind, value)

    def _dispatch(self, kind: str, value: Any) -> None:
        if kind == "ack":
            self._ack.set()
        elif kind == "frame":
            request_id = value.get("id")
            with self._pending_lock:
                waiter = self._pending.get(request_id) if isinstance(request_id, int) else None
            if waiter is not None:
                waiter.put(value)
        elif kind == "corrupt":
            self._corrupt_frames += 1
        elif kind == "console":
            with self._console_cond:
                self.console_lines.append(value)
                self._console_cond.notify_all()
            if self.on_console is not None:
                try:
                    self.on_console(value)
                except Exception:  # noqa: BLE001 - a broken callback must not stop the reader
                    pass

    def _connection_lost(self, exc: BaseException) -> None:
        self._lost = exc
        self._may_send.set()
        with self._pending_lock:
            for waiter in self._pending.values():
                waiter.put(_LOST)
        with self._console_cond:
            self._console_cond.notify_all()

    def _lost_error(self) -> CourseError:
        return CourseError(
            f"Forbindelsen til kortet på {self.port} ble brutt.",
            "Koble til kortet igjen (sjekk kabelen) og opprett en ny forbindelse.",
        )

    def wait_for_console(self, pattern: str, timeout: float = 5.0) -> str:
        """The first console line (seen so far or arriving within ``timeout``) matching ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._console_cond:
            while True:
                for line in self.console_lines:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._lost is not None:
                    raise CourseError(
                        f"Kortet skrev ikke noe som passer «{pattern}» innen {timeout:g} s.",
                        "Se hele loggen i console_lines.",
                    )
                self._console_cond.wait(remaining)

    # -- writing ---------------------------------------------------------------------------

    def _write(self, data: bytes, deadline: float) -> None:
        step = self._chunk_size if self._chunk_delay > 0 else len(data)
        for start in range(0, len(data), step):
            if not self._may_send.wait(max(0.0, deadline - time.monotonic())):
                raise self._timeout_error("sending")
            if self._lost is not None:
                raise self._lost_error()
            try:
                self._serial.write(data[start : start + step])
                self._serial.flush()
            except Exception as exc:  # noqa: BLE001 - a write failure means the board is gone
                self._connection_lost(exc)
                raise self._lost_error() from exc
            if self._chunk_delay > 0 and start + step < len(data):
                time.sleep(self._chunk_delay)

    def _handshake(self, deadline: float) -> None:
        self._ack.clear()
        while True:
            self._write(framing.HANDSHAKE, deadline)
            wait = min(HANDSHAKE_INTERVAL, max(0.0, deadline - time.monotonic()))
            if self._ack.wait(wait):
                self._handshaken = True
                return
            if self._lost is not None:
                raise self._lost_error()
            if time.monotonic() >= deadline:
                raise self._timeout_error("handshake")

    def _timeout_error(self, stage: str, method: str = "") -> CourseError:
        log = list(self.console_lines)
        if stage in ("handshake", "sending"):
            if any("waiting for download" in line for line in log[-20:]):
                return CourseError(
                    f"Kortet på {self.port} står i nedlastingsmodus og kjører ikke fastvaren.",
                    "Slipp BOOT-knappen og trykk EN/RST, så starter fastvaren.",
                )
            if log:
                return CourseError(
                    f"Kortet på {self.port} skriver logg, men svarer ikke på RPC-kommandoer.",
                    "Fastvaren mangler trolig RPC over seriell (biblioteket rpc-uart), eller kortet er "
                    "opptatt med å starte. Vent litt og prøv igjen; ellers flash Mongoose OS-fastvaren "
                    "fra kurset på nytt.",
                )
            return CourseError(
                f"Kortet på {self.port} svarer ikke.",
                "Sjekk at kortet kjører Mongoose OS (flash fastvaren først), at ingen andre programmer "
                "bruker porten, og trykk EN/RST-knappen hvis kortet har hengt seg. " + ports.CABLE_TIP,
            )
        corrupt = (
            " Noen svar kom fram ødelagte (feil kontrollsum): kabelen eller forbindelsen kan være dårlig."
            if self._corrupt_frames
            else ""
        )
        return CourseError(
            f"Kortet på {self.port} svarte ikke på {method} innen {self.timeout:g} s.{corrupt}",
            "Kortet kan ha startet på nytt eller hengt seg. Prøv igjen; skjer det igjen, trykk EN/RST.",
        )

    # -- calls -----------------------------------------------------------------------------

    def call(self, method: str, params: Any = None, *, timeout: float | None = None) -> Any:
        """Call ``method`` on the board and return its result; device errors raise RpcError."""
        if self._closed.is_set():
            raise CourseError("Forbindelsen til kortet er lukket.", "Opprett en ny RpcClient.")
        if self._lost is not None:
            raise self._lost_error()
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        request_id = next(self._ids)
        frame: dict[str, Any] = {"id": request_id, "src": self._src, "method": method}
        if params is not None:
            frame["params"] = params
        waiter: queue.Queue[Any] = queue.Queue()
        with self._pending_lock:
            self._pending[request_id] = waiter
        try:
            with self._write_lock:
                if self._chunk_delay > 0 or not self._handshaken:
                    self._handshake(deadline)
                self._write(framing.encode_frame(frame, ascii_only=True), deadline)
            try:
                answer = waiter.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise self._timeout_error("answer", method) from None
        finally:
            with self._pending_lock:
                self._pending.pop(request_id, None)
        if answer is _LOST:
            raise self._lost_error()
        error = answer.get("error")
        if isinstance(error, dict) and error.get("code", 0) != 0:
            raise explain_device_error(method, params, int(error.get("code", -1)), str(error.get("message", "")))
        return answer.get("result")

    def call_retrying(self, method: str, params: Any = None) -> Any:
        """:meth:`call`, tried up to :data:`RETRIES` times when no (valid) answer comes, as mos
        does for ``Config.Get``, ``Config.Set`` and each ``FS.Put`` chunk. An error the board
        reports, or a lost port, is not retried."""
        for attempt in range(1, RETRIES + 1):
            try:
                return self.call(method, params)
            except RpcError:
                raise
            except CourseError:
                if attempt == RETRIES or self._lost is not None or self._closed.is_set():
                    raise
        raise AssertionError("unreachable")

    def get_info(self) -> dict[str, Any]:
        """``Sys.GetInfo``: id, app, fw_version, mac, arch, uptime, ram_free, wifi … ."""
        return self.call("Sys.GetInfo")

    def config_get(self, key: str | None = None) -> Any:
        """``Config.Get``: the whole configuration, or the value at a dotted ``key``."""
        return self.call_retrying("Config.Get", {"key": key} if key else None)

    def config_set(self, config: dict[str, Any], *, save: bool = True, reboot: bool = False) -> bool:
        """``Config.Set`` (dotted keys allowed), saved and optionally followed by a reboot.

        Firmware from before Mongoose OS 2.12 ignores ``save`` and answers without
        ``{"saved": true}``; then ``Config.Save`` is called, as ``mos config-set`` does.
        Returns whether the configuration was saved.
        """
        result = self.call_retrying("Config.Set",
                                    {"config": expand_dotted(config), "save": save, "reboot": reboot})
        saved = isinstance(result, dict) and bool(result.get("saved"))
        if save and not saved:
            self.config_save(reboot=reboot)
            saved = True
        return saved

    def config_save(self, *, reboot: bool = False) -> None:
        """``Config.Save``: write the running configuration to flash (conf9.json)."""
        self.call("Config.Save", {"reboot": reboot})

    def set_wifi(self, ssid: str, password: str, *, reboot: bool = True) -> None:
        """What ``mos wifi SSID PASSWORD`` does: station mode on, access point off, saved."""
        check_wifi(ssid, password)
        self.config_set(
            {"wifi": {"ap": {"enable": False}, "sta": {"enable": True, "ssid": ssid, "pass": password}}},
            save=True,
            reboot=reboot,
        )

    def fs_list(self) -> list[str]:
        """``FS.List``: the names of the files on the board."""
        return list(self.call("FS.List") or [])

    def fs_get(self, filename: str) -> bytes:
        """The contents of ``filename`` on the board (``FS.Get`` in chunks, like ``mos get``)."""
        data = bytearray()
        while True:
            chunk = self.call("FS.Get", {"filename": filename, "offset": len(data), "len": FS_CHUNK_SIZE})
            if not isinstance(chunk, dict):
                raise CourseError(f"Kortet svarte uventet på FS.Get for «{filename}».")
            data += base64.b64decode(chunk.get("data") or "")
            if not chunk.get("left"):
                return bytes(data)

    def fs_put(self, filename: str, data: bytes | str | Path) -> None:
        """Write ``data`` (bytes, text, or a local file) to ``filename`` on the board, like ``mos put``.

        The file is sent in 512-byte chunks, base64-encoded; the first chunk creates or
        truncates the file, the rest are appended.
        """
        if not filename or "\x00" in filename:
            raise CourseError("Filnavnet på kortet kan ikke være tomt.", "Gi fila et navn, f.eks. «aws.crt.pem».")
        if isinstance(data, Path):
            data = data.read_bytes()
        elif isinstance(data, str):
            data = data.encode("utf-8")
        offsets = range(0, len(data), FS_CHUNK_SIZE) if data else [0]
        for offset in offsets:
            chunk = data[offset : offset + FS_CHUNK_SIZE]
            self.call_retrying(
                "FS.Put",
                {
                    "filename": filename,
                    "offset": offset,
                    "append": offset > 0,
                    "data": base64.b64encode(chunk).decode("ascii"),
                },
            )

    def reboot(self, delay_ms: int = 100) -> None:
        """``Sys.Reboot``: the board restarts after ``delay_ms``."""
        self.call("Sys.Reboot", {"delay_ms": delay_ms})


def connect(port: str | None = None, **options: Any) -> RpcClient:
    """An :class:`RpcClient` for ``port`` (or the one connected board)."""
    return RpcClient(port, **options)
