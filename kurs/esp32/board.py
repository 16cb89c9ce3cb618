"""``VirtualBoard``: an ESP32 running a Mongoose OS app's real ``init.js``, without the hardware.

    board = VirtualBoard("knapp")          # firmware/knapp, or a path to an app folder
    board.start()                          # boots, runs init.js, connects to the local cloud
    board.click()                          # press and release the BOOT button (GPIO 0)
    board.led()                            # is the LED lit? (board.led1.pin, honouring active_high)
    print(board.console)                   # the device log, as `mos console` shows it
    board.stop()

The device id (``esp32_XXXXXX``) comes from a virtual MAC that is stable for the same machine,
user and app (or ``seed=``); ``device_id=`` overrides it. It is the thing name and the MQTT
client id, like on a board set up with ``mos aws-iot-setup``. Without an ``mqtt.server`` of its
own, the board talks to the running local cloud (plain MQTT), with the shadow on.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.esp32.app import App, resolve_app
from kurs.esp32.console import LL_ERROR, Console
from kurs.esp32.event_loop import EventLoop
from kurs.esp32.firmware import Firmware
from kurs.esp32.hooks import BoardHooks
from kurs.esp32.identity import check_device_id, default_seed, device_id_from_mac, mac_from_seed
from kurs.esp32.mos_config import Config, build_schema, flatten, load_saved, unflatten
from kurs.esp32.system import HEAP_TOTAL

_LIVE: weakref.WeakSet[VirtualBoard] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class BoardTimeout(CourseError, TimeoutError):
    """What we waited for on a virtual board did not happen in time."""


class VirtualBoard:
    """A simulated ESP32 with Mongoose OS running one app's mJS firmware."""

    def __init__(self, app: str | Path, *, device_id: str | None = None,
                 config_overrides: dict[str, Any] | None = None, fs_dir: str | Path | None = None,
                 seed: str | None = None, watchdog_s: float = 5.0) -> None:
        self.app: App = resolve_app(app)
        self.app_libraries = _library_names(self.app.manifest)
        self.schema = build_schema(self.app.config_schema_entries(), self.app.name)
        self._overrides: dict[str, Any] = dict(flatten(config_overrides or {}))
        if device_id is not None:
            self._overrides["device.id"] = check_device_id(device_id)
        self.watchdog_s = float(watchdog_s)
        self.fw: Firmware | None = None
        self.auto_server: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if fs_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"kurs-esp32-{self.app.name}-")
            self.fs_dir = Path(self._tmp.name)
        else:
            self.fs_dir = Path(fs_dir).expanduser().resolve()
            self.fs_dir.mkdir(parents=True, exist_ok=True)
        self.mac = self._choose_mac(seed, device_id)
        self.flash()
        self.console = Console()
        self.loop = EventLoop(f"esp32-{self.device_id}", on_error=self._loop_error)
        self._action_mark = 0  # the console index when you last started, rebooted or pressed
        self._pin_listeners: list[Callable[[int, int], None]] = []
        self._lock = threading.Lock()

    # -- identity ----------------------------------------------------------------------------
    def _choose_mac(self, seed: str | None, device_id: str | None) -> str:
        if seed is not None or device_id is not None:
            return mac_from_seed(seed if seed is not None else f"device:{device_id}")
        base = default_seed(self.app.name)
        with _LIVE_LOCK:
            taken = {b.device_id for b in _LIVE}
        candidate, n = base, 1
        while device_id_from_mac(mac_from_seed(candidate)) in taken:
            n += 1
            candidate = f"{base}#{n}"
        return mac_from_seed(candidate)

    def _config(self) -> Config:
        return Config(self.schema, load_saved(self.fs_dir), {**self._auto_overrides(), **self._overrides}, self.mac)

    @property
    def device_id(self) -> str:
        fw = self.fw
        config = fw.config if fw is not None else self._config()
        return str(config.get("device.id"))

    @property
    def thing_name(self) -> str:
        fw = self.fw
        config = fw.config if fw is not None else self._config()
        return str(config.get("aws.thing_name") or config.get("device.id"))

    # -- flashing and the file system --------------------------------------------------------
    def flash(self) -> None:
        """Put the app's ``fs/`` files on the device (like ``mos flash``; conf9.json is kept)."""
        for name, data in self.app.fs_files().items():
            (self.fs_dir / name).write_bytes(data)
        self.flashed_at = time.time()

    def fs_list(self) -> list[dict[str, Any]]:
        return [{"name": p.name, "size": p.stat().st_size} for p in sorted(self.fs_dir.iterdir()) if p.is_file()]

    def fs_get(self, name: str) -> bytes:
        path = self._fs_path(name)
        if not path.is_file():
            raise CourseError(f"Filen «{name}» finnes ikke på kortet.", "Se hvilke filer som finnes med fs_list().")
        return path.read_bytes()

    def fs_put(self, name: str, data: bytes | str) -> None:
        self._fs_path(name).write_bytes(data.encode() if isinstance(data, str) else data)

    def fs_remove(self, name: str) -> None:
        self._fs_path(name).unlink(missing_ok=True)

    def _fs_path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise CourseError(f"«{name}» er ikke et gyldig filnavn på kortet.",
                              "Kortets filsystem er flatt: bruk bare et filnavn som «init.js».")
        return self.fs_dir / name

    # -- configuration (what Config.Get / Config.Set / Config.Save do over RPC) ----------------
    def config_get(self, path: str | None = None) -> Any:
        fw = self.fw
        config = fw.config if fw is not None else self._config()
        return config.get(path or "")

    def config_set(self, updates: dict[str, Any], *, save: bool = False, reboot: bool = False) -> bool:
        fw = self.fw
        if fw is not None and self.loop.running:
            self.loop.run_sync(lambda: fw.apply_config(updates, save))
            ok = True
        else:
            config = self._config()
            config.apply(updates)
            self._forget_overrides(updates)
            ok = True
            if save:
                config.save(self.fs_dir)
        if reboot and ok:
            self.reboot()
        return bool(ok)

    def config_save(self, *, reboot: bool = False) -> None:
        fw = self.fw
        if fw is not None and self.loop.running:
            self.loop.run_sync(lambda: fw.config.save(self.fs_dir))
        if reboot:
            self.reboot()

    def _forget_overrides(self, updates: dict[str, Any]) -> None:
        for key in flatten(unflatten(flatten(updates))):
            self._overrides.pop(key, None)

    def _auto_overrides(self) -> dict[str, Any]:
        """Point a board without an MQTT server of its own at the running local cloud."""
        saved = flatten(load_saved(self.fs_dir))
        if "mqtt.server" in self._overrides or "mqtt.server" in saved:
            self.auto_server = None
            return {}
        host_port = _local_cloud_mqtt()
        self.auto_server = host_port
        if host_port is None:
            return {}
        auto: dict[str, Any] = {"mqtt.server": host_port}
        if "mqtt.enable" not in self._overrides and "mqtt.enable" not in saved:
            auto["mqtt.enable"] = True
        if "shadow.lib" not in self._overrides and "shadow.lib" not in saved:
            auto["shadow.lib"] = "aws"  # the shadow only starts by itself on *.amazonaws.com
        return auto

    # -- power -------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> VirtualBoard:
        """Power on: boot, run init.js (returns when it has run), then connect."""
        if self.loop.running:
            return self
        init_js = self.fs_dir / "init.js"
        if init_js.is_file():
            _ensure_valid(init_js.read_text(encoding="utf-8", errors="replace"), "init.js")
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._action_mark = self.console.mark()
        self.loop.start()
        self.loop.run_sync(lambda: self._power_on("0x1 (POWERON_RESET)"), timeout=timeout)
        return self

    def stop(self) -> None:
        """Power off (disconnects cleanly). ``start()`` again boots it anew."""
        if self.loop.running:
            try:
                self.loop.run_sync(self._power_off, timeout=10.0)
            except Exception:  # noqa: BLE001 - stop anyway
                pass
        self.loop.stop()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def reboot(self, timeout: float = 15.0) -> None:
        """Restart like ``Sys.reboot()``: init.js runs again with fresh JS state."""
        if not self.loop.running:
            self.start(timeout)
            return
        self._action_mark = self.console.mark()
        self.loop.run_sync(lambda: self._reboot_now("0xc (SW_CPU_RESET)"), timeout=timeout)

    def _power_on(self, reason: str) -> None:
        config = self._config()  # decides auto_server too
        fw = Firmware(self._hooks(), config, reason)
        self.fw = fw
        fw.boot()

    def _hooks(self) -> BoardHooks:
        return BoardHooks(
            loop=self.loop, console=self.console, fs_dir=self.fs_dir, app_name=self.app.name,
            app_version=self.app.version, app_path=self.app.path, app_libraries=frozenset(self.app_libraries),
            mac=self.mac, flashed_at=self.flashed_at, watchdog_s=self.watchdog_s, auto_server=self.auto_server,
            pin_changed=self._pin_changed, reboot=self._reboot_now, forget_overrides=self._forget_overrides,
            check_source=self.check_source, local_cloud_now=self._local_cloud_now)

    def _local_cloud_now(self) -> str | None:
        """The local cloud's MQTT address now, for a board kurs pointed there (it may have moved)."""
        if not self.auto_server:
            return None
        now = _local_cloud_mqtt()
        if now:
            self.auto_server = now
        return now

    def _power_off(self) -> None:
        fw, self.fw = self.fw, None
        if fw is not None:
            fw.shutdown(wait=True)
        self.loop.clear()

    def _reboot_now(self, reason: str) -> None:
        fw = self.fw
        if fw is not None:
            fw.shutdown(wait=False)
        self.loop.clear()
        self._power_on(reason)

    def _loop_error(self, exc: BaseException) -> None:
        self.console.log("kurs_virtual.c:1", LL_ERROR, f"Intern feil i det virtuelle kortet: {exc!r}")

    def check_source(self, source: str, name: str) -> str | None:
        """The mJS checker's complaint about a file, or None (also when there is no checker)."""
        try:
            _ensure_valid(source, name)
        except Exception as exc:  # noqa: BLE001 - the checker's error, or a bug in it
            if isinstance(exc, CourseError) or type(exc).__name__ == "MjsError":
                return str(exc)
            self.console.log("kurs_virtual.c:1", LL_ERROR, f"mJS-sjekken feilet internt ({exc!r}); koden kjøres likevel.")
        return None

    # -- the hardware, from outside ----------------------------------------------------------
    def press(self) -> None:
        """Hold the BOOT button down (until ``release()``)."""
        self._button(True)

    def release(self) -> None:
        self._button(False)

    def click(self, hold_s: float = 0.05) -> None:
        """Press, hold ``hold_s`` seconds, release."""
        self.press()
        time.sleep(hold_s)
        self.release()

    def _button(self, pressed: bool) -> None:
        fw = self.fw
        if fw is None or not self.loop.running:
            raise CourseError("Kortet er ikke startet.", "Kall start() først.")
        if pressed:
            self._action_mark = self.console.mark()
        at = time.monotonic()  # when the finger moved, not when the busy firmware task got to it
        fw.post(lambda: fw.gpio.set_button(pressed, at))

    def pin_level(self, pin: int) -> int:
        fw = self.fw
        return fw.gpio.level(int(pin)) if fw is not None else 0

    def led(self, pin: int | None = None) -> bool:
        """Is the LED lit, as a person looking at it would say? Default: ``board.led1.pin``."""
        fw = self.fw
        if fw is None:
            return False
        led_pin = int(fw.config.get("board.led1.pin"))
        pin = led_pin if pin is None else int(pin)
        state = fw.gpio.pins.get(pin)
        if state is None or state.mode != 1:
            return False
        active_high = bool(fw.config.get("board.led1.active_high")) if pin == led_pin else True
        return bool(state.level) == active_high

    def on_pin_change(self, callback: Callable[[int, int], None]) -> Callable[[], None]:
        """Call ``callback(pin, level)`` whenever a pin's level changes (from the board's thread)."""
        self._pin_listeners.append(callback)
        return lambda: self._pin_listeners.remove(callback) if callback in self._pin_listeners else None

    def _pin_changed(self, pin: int, level: int) -> None:
        for callback in list(self._pin_listeners):
            try:
                callback(pin, level)
            except Exception:  # noqa: BLE001 - a widget's bug must not break the board
                pass

    # -- state -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.loop.running and self.fw is not None

    @property
    def connected(self) -> bool:
        """Is the MQTT connection up?"""
        fw = self.fw
        return bool(fw is not None and fw.mqtt.connected)

    @property
    def subscribed(self) -> set[str]:
        """Topic filters of ``MQTT.sub`` that the broker has confirmed on the current connection."""
        fw = self.fw
        return fw.mqtt.subscribed_topics() if fw is not None else set()

    @property
    def cloud_connected(self) -> bool:
        """Connected and the shadow subscribed (what ``AWS.isConnected()`` says)."""
        fw = self.fw
        return bool(fw is not None and fw.shadow.active and fw.shadow.connected)

    def uptime(self) -> float:
        fw = self.fw
        return fw.uptime() if fw is not None else 0.0

    def get_info(self) -> dict[str, Any]:
        """Like ``Sys.GetInfo`` over RPC."""
        fw = self.fw
        return {
            "id": self.device_id, "app": self.app.name, "fw_version": self.app.version,
            "fw_id": time.strftime("%Y%m%d-%H%M%S", time.localtime(self.flashed_at)) + "/virtual",
            "mac": self.mac.replace(":", ""), "arch": "esp32", "uptime": int(self.uptime()),
            "ram_size": HEAP_TOTAL, "ram_free": fw.system.free_ram() if fw is not None else 0,
            "fs_size": 233681, "fs_free": max(0, 233681 - sum(f["size"] for f in self.fs_list())),
            "mqtt": {"connected": self.connected}, "virtual": True,
        }

    def wait_for(self, what: str | Callable[[], Any], timeout: float = 10.0, *, since: int | None = None) -> Any:
        """Wait until a log line contains ``what``, or until ``what()`` is truthy.

        Lines are looked for from your last ``start()``, ``reboot()`` or button press on, or from
        console index ``since`` (``board.console.mark()``). Returns the matching
        :class:`ConsoleLine` or the predicate's value; raises :class:`BoardTimeout`.
        """
        deadline = time.monotonic() + timeout
        if isinstance(what, str):
            start = self._action_mark if since is None else since
            for line in self.console.follow(since=start, timeout=max(0.01, deadline - time.monotonic())):
                if what in line.text:
                    return line
                if time.monotonic() > deadline:
                    break
            found = self.console.find(what, start)
            if found is not None:
                return found
            raise BoardTimeout(f"Fant ikke «{what}» i loggen til {self.device_id} innen {timeout:g} s.",
                               "Se i loggen (print(board.console)) hva kortet faktisk gjorde.")
        while True:
            value = what()
            if value:
                return value
            if time.monotonic() > deadline:
                raise BoardTimeout(f"Det vi ventet på skjedde ikke på {self.device_id} innen {timeout:g} s.",
                                   "Se i loggen (print(board.console)) hva kortet faktisk gjorde.")
            time.sleep(0.02)

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "kjører" if self.running else "av"
        return f"<VirtualBoard {self.device_id} app={self.app.name} {state}>"


def _library_names(manifest: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    libs = list(manifest.get("libs") or [])
    for cond in manifest.get("conds") or []:
        libs.extend(((cond or {}).get("apply") or {}).get("libs") or [])
    for lib in libs:
        if not isinstance(lib, dict):
            continue
        name = lib.get("name") or str(lib.get("origin") or lib.get("location") or "").rstrip("/").split("/")[-1]
        if name:
            names.add(str(name))
    return names


def _local_cloud_mqtt() -> str | None:
    try:
        from kurs import sky

        info = sky.status()
    except Exception:  # noqa: BLE001 - no local cloud package or state: fall back to the environment
        info = None
    if info is not None:
        return f"{info.host}:{info.mqtt_port}"
    host, port = os.environ.get("KURS_MQTT_HOST"), os.environ.get("KURS_MQTT_PORT")
    return f"{host}:{port}" if host and port else None


def _ensure_valid(source: str, name: str) -> None:
    """Run the mJS checker when it exists (kurs.mjs); raises its Norwegian error."""
    error = _checked(source, name)
    if error is not None:
        raise error


@functools.lru_cache(maxsize=128)
def _checked(source: str, name: str) -> Exception | None:
    # Thirty boards running the same init.js need one parse, not thirty.
    try:
        from kurs.mjs import ensure_valid
    except ImportError:
        return None
    try:
        ensure_valid(source, name)
    except Exception as exc:  # noqa: BLE001 - handed back to the caller
        return exc
    return None

