"""The board's side of Mongoose OS RPC over a UART, served on a pseudo-terminal.

A virtual board (or a test) implements :class:`DeviceBackend`; :func:`serve_pty` gives it a
serial port path (``/dev/pts/N``) that :class:`kurs.hardware.rpc.RpcClient` - or any
program speaking ``mos``'s framing - can open like a real board's port. The server answers
as the ``rpc-uart``, ``rpc-service-config`` and ``rpc-service-fs`` libraries do: same
methods, arguments, results and error codes (``FS.Put`` even reports success as error code
0, like the real firmware). Console log lines written with ``write_console`` share the
"UART" with RPC frames, never inside one, as on a real board.

Serving needs a POSIX system (``os.openpty``); the module imports everywhere.
"""

from __future__ import annotations

import base64
import binascii
import copy
import errno
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from kurs.errors import CourseError
from kurs.hardware import framing

REBOOT_LOCKOUT_S = 0.1  # the firmware refuses requests this close to a scheduled reboot (418)
_WRITE_TIMEOUT_S = 1.0  # a UART with nobody listening just loses bytes; so do we after this


@runtime_checkable
class DeviceBackend(Protocol):
    """What a board must provide to be served over RPC. Called from the server's thread.

    Errors are reported the Mongoose OS way by raising: ``KeyError`` for an unknown config
    key, ``ValueError`` for a config value of the wrong type, ``FileNotFoundError`` for a
    missing file, any other ``OSError`` for a failed write (e.g. a full file system).
    A backend may also define ``attach_console(write: Callable[[str], None])``: the server
    calls it with a function that prints a console log line on the port.
    """

    def get_info(self) -> dict[str, Any]:
        """``Sys.GetInfo``: at least ``id``; also app, fw_version, mac, arch, uptime, ram_free, wifi."""

    def config_get(self, key: str | None) -> Any:
        """The whole configuration (``key`` None) or the value at a dotted key."""

    def config_set(self, config: dict[str, Any]) -> None:
        """Merge a nested partial configuration into the running one (unknown keys ignored)."""

    def config_save(self) -> None:
        """Persist the running configuration so it survives a reboot."""

    def fs_list(self) -> list[str]:
        """File names on the board's file system."""

    def fs_get(self, name: str, offset: int, length: int) -> tuple[bytes, int]:
        """``length`` bytes (all if negative) of ``name`` from ``offset``, and how many bytes are left after them."""

    def fs_put(self, name: str, data: bytes, append: bool) -> None:
        """Write (or append) ``data`` to ``name``."""

    def reboot(self) -> None:
        """Restart the board: unsaved configuration is lost, saved settings and files stay."""


def default_config(device_id: str = "esp32_ABCDEF") -> dict[str, Any]:
    """A small Mongoose OS-like configuration with the keys the course touches."""
    return {
        "device": {"id": device_id},
        "wifi": {
            "ap": {"enable": True, "ssid": "Mongoose_??????", "pass": "Mongoose"},
            "sta": {"enable": False, "ssid": "", "pass": ""},
        },
        "mqtt": {
            "enable": False,
            "server": "",
            "client_id": "",
            "ssl_ca_cert": "",
            "ssl_cert": "",
            "ssl_key": "",
        },
        "aws": {"thing_name": ""},
        "shadow": {"enable": True},
        "board": {
            "btn1": {"pin": 0, "pull_up": True},
            "led1": {"pin": 2, "active_high": True},
        },
        "rpc": {"uart": {"uart_no": 0, "baud_rate": 115200}},
    }


class DictBackend:
    """An in-memory board: a dict configuration (with a saved copy) and a dict of files.

    Behaves like Mongoose OS where it matters to a client: unknown config keys are ignored,
    a value of the wrong type is refused, unsaved configuration is lost on reboot, the file
    system has a size limit.
    """

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        files: dict[str, bytes] | None = None,
        *,
        mac: str = "24:0a:c4:ab:cd:ef",
        fs_size: int = 262144,
    ) -> None:
        device_id = "esp32_" + mac.replace(":", "").upper()[-6:]
        self.config = copy.deepcopy(config) if config is not None else default_config(device_id)
        self.saved_config = copy.deepcopy(self.config)
        self.files: dict[str, bytes] = dict(files or {})
        self.mac = mac
        self.fs_size = fs_size
        self.reboots = 0
        self._booted = time.monotonic()
        self._console: Callable[[str], None] | None = None
        self._lock = threading.Lock()

    def attach_console(self, write: Callable[[str], None]) -> None:
        self._console = write

    def log(self, line: str) -> None:
        if self._console is not None:
            self._console(line)

    def get_info(self) -> dict[str, Any]:
        sta = self.config.get("wifi", {}).get("sta", {})
        used = sum(len(v) for v in self.files.values())
        return {
            "id": self.config.get("device", {}).get("id", ""),
            "app": "kurs-dict-backend",
            "fw_version": "1.0",
            "mac": self.mac.replace(":", "").upper(),
            "arch": "esp32",
            "uptime": int(time.monotonic() - self._booted),
            "ram_size": 298968,
            "ram_free": 200000,
            "fs_size": self.fs_size,
            "fs_free": self.fs_size - used,
            "wifi": {"sta_ip": "", "ap_ip": "", "status": "disconnected", "ssid": sta.get("ssid", "")},
        }

    def config_get(self, key: str | None) -> Any:
        with self._lock:
            node: Any = self.config
            if key:
                for part in key.split("."):
                    if not isinstance(node, dict) or part not in node:
                        raise KeyError(key)
                    node = node[part]
            return copy.deepcopy(node)

    def config_set(self, config: dict[str, Any]) -> None:
        with self._lock:
            updated = copy.deepcopy(self.config)
            _apply(updated, config, "")
            self.config = updated

    def config_save(self) -> None:
        with self._lock:
            self.saved_config = copy.deepcopy(self.config)

    def fs_list(self) -> list[str]:
        with self._lock:
            return sorted(self.files)

    def fs_get(self, name: str, offset: int, length: int) -> tuple[bytes, int]:
        with self._lock:
            if name not in self.files:
                raise FileNotFoundError(name)
            data = self.files[name]
        offset = min(offset, len(data))
        end = len(data) if length < 0 else min(len(data), offset + length)
        return data[offset:end], len(data) - end

    def fs_put(self, name: str, data: bytes, append: bool) -> None:
        with self._lock:
            new = (self.files.get(name, b"") if append else b"") + data
            used = sum(len(v) for k, v in self.files.items() if k != name)
            if used + len(new) > self.fs_size:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.files[name] = new

    def reboot(self) -> None:
        with self._lock:
            self.config = copy.deepcopy(self.saved_config)
            self.reboots += 1
            self._booted = time.monotonic()
        self.log("[boot] Mongoose OS (DictBackend) starting")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str) or value is None:
        return "string"
    return "object"


def _apply(target: dict[str, Any], changes: dict[str, Any], path: str) -> None:
    """Merge ``changes`` into ``target`` like mgos_conf_parse: unknown keys skipped, types checked."""
    for key, value in changes.items():
        where = f"{path}.{key}" if path else key
        if key not in target:
            continue  # Mongoose OS ignores (only logs) keys its schema does not have
        current = target[key]
        if isinstance(current, dict):
            if not isinstance(value, dict):
                raise ValueError(f"[{where}] is not an object")
            _apply(current, value, where)
            continue
        expected = _type_name(current)
        if _type_name(value) != expected:
            raise ValueError(f"[{where}] is not a {expected}")
        target[key] = value


class PtyRpcServer:
    """Serve a :class:`DeviceBackend` over RPC on a new pseudo-terminal."""

    METHODS = (
        "Config.Get", "Config.Save", "Config.Set", "FS.Get", "FS.List", "FS.Put",
        "RPC.List", "Sys.GetInfo", "Sys.Reboot",
    )

    def __init__(self, backend: DeviceBackend) -> None:
        self.backend = backend
        self._master = -1
        self._slave = -1
        self.path = ""
        self._parser = framing.DeviceStreamParser()
        self._crc_used = False
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None
        self._reboot_at: float | None = None
        self._reboot_timer: threading.Timer | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Open the pseudo-terminal and start serving; returns the port path to open."""
        try:
            import fcntl
            import tty
        except ImportError as exc:  # Windows has no pseudo-terminals
            raise CourseError(
                "Et virtuelt kort på en seriell port (pseudoterminal) virker bare på macOS og Linux.",
                "Bruk de virtuelle kortene direkte fra notebookene, uten seriell port.",
            ) from exc
        self._master, self._slave = os.openpty()
        # Raw mode at once: no echo of the client's bytes, no newline translation.
        tty.setraw(self._slave)
        flags = fcntl.fcntl(self._master, fcntl.F_GETFL)
        fcntl.fcntl(self._master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.path = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        attach = getattr(self.backend, "attach_console", None)
        if callable(attach):
            attach(self.write_console)
        self._thread = threading.Thread(target=self._serve, name=f"rpc-server {self.path}", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        """Stop serving and close the pseudo-terminal (a connected client sees the port vanish)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._reboot_timer is not None:
            self._reboot_timer.cancel()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = self._wake_r = self._wake_w = -1

    def __enter__(self) -> PtyRpcServer:
        if not self.path:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- output ----------------------------------------------------------------------------

    def write_console(self, line: str) -> None:
        """Print one console log line on the port, between frames like the real firmware."""
        text = line.rstrip("\n").replace("\n", " ")
        self._write(text.encode("utf-8", "replace") + b"\n")

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            deadline = time.monotonic() + _WRITE_TIMEOUT_S
            view = memoryview(data)
            while view and not self._stop.is_set() and self._master >= 0:
                try:
                    written = os.write(self._master, view)
                    view = view[written:]
                except BlockingIOError:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return  # nobody reads the port: the bytes are lost, as on a UART
                    select.select([], [self._master], [], min(remaining, 0.05))
                except OSError:
                    return

    def _send_frame(self, obj: dict[str, Any]) -> None:
        self._write(
            framing.encode_frame(obj, old_delimiter=self._parser.old_delimiter_seen, crc=self._crc_used)
        )

    # -- input -----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master, self._wake_r], [], [], 0.5)
            except (OSError, ValueError):
                return
            if self._stop.is_set():
                return
            if self._master not in ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                time.sleep(0.05)  # EIO while no client has the port open
                continue
            for kind, value in self._parser.feed(data):
                try:
                    self._handle(kind, value)
                except Exception as exc:  # noqa: BLE001 - bad input must never kill the board
                    self.write_console(f"E rpc: internal error {type(exc).__name__}: {exc}")

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "handshake":
            self._write(framing.HANDSHAKE_REPLY)
        elif kind == "empty":
            self._write(framing.DELIM_NEW)
        elif kind == "corrupt":
            self.write_console(f"W rpc-uart: Corrupted frame: '{value}'")
        elif kind == "invalid":
            self.write_console(f"E rpc: INVALID FRAME: '{value}'")
        elif kind == "dropped":
            pass  # the real firmware drops such bytes without a word
        elif kind == "frame":
            if value.had_crc:
                self._crc_used = True
            self._request(value.obj)

    def _request(self, frame: dict[str, Any]) -> None:
        method = frame.get("method")
        if not isinstance(method, str) or not method:
            return  # a response or junk; this board sends no requests of its own
        request_id = frame.get("id")
        params = frame.get("params", frame.get("args"))
        params = params if isinstance(params, dict) else {}
        try:
            outcome = self._dispatch(method, params)
        except _RpcFailure as failure:
            outcome = ("error", failure.code, failure.message)
        except Exception as exc:  # noqa: BLE001 - a backend bug becomes a 500, not a dead board
            outcome = ("error", 500, f"{type(exc).__name__}: {exc}")
        if request_id is None:
            return  # a notification: no answer
        answer: dict[str, Any] = {"id": request_id, "src": self._device_id()}
        if isinstance(frame.get("src"), str) and frame["src"]:
            answer["dst"] = frame["src"]
        if outcome[0] == "result":
            answer["result"] = outcome[1]
        else:
            error: dict[str, Any] = {"code": outcome[1]}
            if outcome[2]:
                error["message"] = outcome[2]
            answer["error"] = error
        self._send_frame(answer)

    def _device_id(self) -> str:
        try:
            return str(self.backend.get_info().get("id") or "esp32")
        except Exception:  # noqa: BLE001
            return "esp32"

    # -- methods ---------------------------------------------------------------------------

    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[Any, ...]:
        if self._reboot_at is not None:
            left = self._reboot_at - time.monotonic()
            if left < REBOOT_LOCKOUT_S:
                raise _RpcFailure(418, f"shutting down in {max(0, int(left * 1000))} ms")
        handler = {
            "Sys.GetInfo": self._sys_get_info,
            "Sys.Reboot": self._sys_reboot,
            "Config.Get": self._config_get,
            "Config.Set": self._config_set,
            "Config.Save": self._config_save,
            "FS.List": self._fs_list,
            "FS.Get": self._fs_get,
            "FS.Put": self._fs_put,
            "RPC.List": lambda _params: ("result", list(self.METHODS)),
        }.get(method)
        if handler is None:
            raise _RpcFailure(404, f"No handler for {method}")
        return handler(params)

    def _sys_get_info(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return ("result", self.backend.get_info())

    def _sys_reboot(self, params: dict[str, Any]) -> tuple[Any, ...]:
        delay_ms = params.get("delay_ms", 100)
        if not isinstance(delay_ms, int) or isinstance(delay_ms, bool) or delay_ms < 0:
            raise _RpcFailure(400, "invalid delay value")
        self._schedule_reboot(delay_ms)
        return ("result", None)

    def _config_get(self, params: dict[str, Any]) -> tuple[Any, ...]:
        key = params.get("key")
        try:
            return ("result", self.backend.config_get(key if isinstance(key, str) and key else None))
        except KeyError:
            raise _RpcFailure(404, "invalid config key") from None

    def _config_set(self, params: dict[str, Any]) -> tuple[Any, ...]:
        value = params.get("config", params.get("value"))
        if value is None:
            raise _RpcFailure(400, "value is required")
        key = params.get("key")
        if isinstance(key, str) and key:
            try:
                self.backend.config_get(key)
            except KeyError:
                raise _RpcFailure(404, "invalid config key") from None
            for part in reversed(key.split(".")):
                value = {part: value}
        if not isinstance(value, dict):
            raise _RpcFailure(400, "invalid config value: Invalid JSON")
        try:
            self.backend.config_set(value)
        except ValueError as exc:
            raise _RpcFailure(400, f"invalid config value: {exc}") from None
        if params.get("save") is True:
            return self._save(params.get("reboot") is True)
        return ("result", {"saved": False})

    def _config_save(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return self._save(params.get("reboot") is True)

    def _save(self, reboot: bool) -> tuple[Any, ...]:
        try:
            self.backend.config_save()
        except OSError as exc:
            raise _RpcFailure(-1, f"error saving config: {exc}") from None
        if reboot:
            self._schedule_reboot(500)
        return ("result", {"saved": True})

    def _fs_list(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return ("result", list(self.backend.fs_list()))

    def _fs_get(self, params: dict[str, Any]) -> tuple[Any, ...]:
        name = params.get("filename")
        if not isinstance(name, str) or not name:
            raise _RpcFailure(400, "filename is required")
        offset, length = params.get("offset", 0), params.get("len", -1)
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0:
            raise _RpcFailure(400, "illegal offset")
        try:
            data, left = self.backend.fs_get(name, offset, length)
        except FileNotFoundError:
            raise _RpcFailure(400, f'failed to open file "{name}"') from None
        return ("result", {"data": base64.b64encode(data).decode("ascii"), "left": left})

    def _fs_put(self, params: dict[str, Any]) -> tuple[Any, ...]:
        name = params.get("filename")
        if not isinstance(name, str) or not name:
            raise _RpcFailure(400, "filename is required")
        try:
            data = base64.b64decode(str(params.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise _RpcFailure(400, "invalid base64 data") from None
        try:
            self.backend.fs_put(name, data, params.get("append") is True)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise _RpcFailure(400, f'failed to open file "{name}"') from None
        except OSError:
            raise _RpcFailure(500, "failed to write data") from None
        # The firmware answers a successful FS.Put with error code 0 and no result.
        return ("error", 0, "")

    def _schedule_reboot(self, delay_ms: int) -> None:
        self._reboot_at = time.monotonic() + delay_ms / 1000
        if self._reboot_timer is not None:
            self._reboot_timer.cancel()
        self._reboot_timer = threading.Timer(delay_ms / 1000, self._reboot)
        self._reboot_timer.daemon = True
        self._reboot_timer.start()

    def _reboot(self) -> None:
        if self._stop.is_set():
            return
        # A rebooted board forgets which framing its peer used, until the next request.
        self._parser = framing.DeviceStreamParser()
        self._crc_used = False
        try:
            self.backend.reboot()
        finally:
            self._reboot_at = None


class _RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def serve_pty(backend: DeviceBackend) -> tuple[str, Callable[[], None]]:
    """Serve ``backend`` on a new pseudo-terminal in a thread: ``(port_path, stop)``.

    For console output keep a :class:`PtyRpcServer` instead, or give the backend an
    ``attach_console`` method (it receives the server's ``write_console``).
    """
    server = PtyRpcServer(backend)
    path = server.start()
    return path, server.stop
