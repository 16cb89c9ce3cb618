"""One power-on of a virtual board: the libraries wired to a fresh JS runtime, then ``init.js``.

A reboot throws the whole :class:`Firmware` away and makes a new one, so nothing of the old
JS state, timers, handlers or MQTT subscriptions survives, exactly like a real restart.
Everything here runs on the board's event-loop thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.esp32 import events as ev
from kurs.esp32.aws_shadow import AwsShadow
from kurs.esp32.console import LL_ERROR, LL_INFO, Console
from kurs.esp32.events import EventBus
from kurs.esp32.ffi import SymbolTable
from kurs.esp32.gpio import Gpio
from kurs.esp32.hooks import BoardHooks
from kurs.esp32.js_runtime import JsRuntime, api_source
from kurs.esp32.mos_config import Config
from kurs.esp32.mqtt_api import MqttApi
from kurs.esp32.system import HEAP_TOTAL, System
from kurs.esp32.timers import Timers

# Which library puts which api_*.js on the device (mos.yml libs); mjs brings the basic ones.
API_LIBRARY = {
    "api_mqtt.js": "mqtt", "api_shadow.js": "shadow", "api_aws.js": "aws", "api_azure.js": "azure",
    "api_gcp.js": "gcp", "api_watson.js": "watson", "api_dash.js": "dash",
}
BUNDLES = {"js-demo-bundle", "demo-bundle"}


class Firmware:
    def __init__(self, board: BoardHooks, config: Config, reset_reason: str) -> None:
        self.board = board
        self.loop = board.loop
        self.console: Console = board.console
        self.fs_dir: Path = board.fs_dir
        self.config = config
        self.reset_reason = reset_reason
        self.alive = True
        self.boot_time = time.monotonic()
        self.events = EventBus()
        self.symbols = SymbolTable()
        self.runtime: JsRuntime | None = None
        self.gpio = Gpio(self, button_pin=int(config.get("board.btn1.pin")),
                         button_active_low=bool(config.get("board.btn1.pull_up")),
                         on_change=board.pin_changed)
        self.timers = Timers(self)
        self.system = System(self)
        self.mqtt = MqttApi(self)
        self.shadow = AwsShadow(self)
        for part in (self.gpio, self.timers, self.system, self.mqtt, self.shadow):
            self.symbols.define_many(part.symbols())

    # -- scheduling (stale work from an earlier power-on is dropped) -------------------------
    def post(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon(lambda: fn() if self.alive else None)

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> Any:
        return self.loop.call_later(delay_s, lambda: fn() if self.alive else None)

    def invoke(self, callback: int, args: list[Any], *, free_after: bool = False) -> Any:
        if not self.alive or self.runtime is None or callback < 0:
            return None
        return self.runtime.invoke(callback, args, free_after=free_after)

    def free(self, callback: int) -> None:
        if self.runtime is not None and callback >= 0:
            self.runtime.free(callback)

    def uptime(self) -> float:
        return time.monotonic() - self.boot_time

    # -- boot --------------------------------------------------------------------------------
    def boot(self) -> None:
        board = self.board
        cfg = self.config
        self.console.level = int(cfg.get("debug.level") if cfg.get("debug.level") is not None else 2)
        self.console.write(f"rst:{self.reset_reason},boot:0x13 (SPI_FAST_FLASH_BOOT)")
        build = time.strftime("%Y%m%d-%H%M%S", time.localtime(board.flashed_at))
        self.console.log("mgos_init.c:36", LL_INFO, f"{board.app_name} {board.app_version} ({build}/virtual)")
        self.console.log("mgos_init.c:37", LL_INFO, "Mongoose OS 2.x (virtual ESP32, mJS on QuickJS)")
        self.console.log("mgos_init.c:42", LL_INFO,
                         f"CPU: 160 MHz, FreeRTOS 8.2.0, heap: {HEAP_TOTAL} total, {HEAP_TOTAL - 40_000} free")
        self.console.log("mgos_sys_config.c:299", LL_INFO, f"MAC: {board.mac.replace(':', '')}")
        self.console.log("mgos_sys_config.c:326", LL_INFO, f"device.id: {cfg.get('device.id')}")
        self.console.log("kurs_virtual.c:1", LL_INFO,
                         f"Virtuelt ESP32-kort: app «{board.app_name}» fra {board.app_path}")
        if board.auto_server:
            self.console.log("kurs_virtual.c:1", LL_INFO,
                             f"MQTT går til den lokale skyen på {board.auto_server} (ingen mqtt.server var satt)")
        elif not cfg.get("mqtt.enable"):
            self.console.log("kurs_virtual.c:1", LL_INFO,
                             "MQTT er av (mqtt.enable=false). Start den lokale skyen (kurs.sky.start()) og "
                             "start kortet på nytt, eller sett mqtt.server selv.")
        self.shadow.init()
        self.runtime = JsRuntime(self.console, self.symbols, self._read_for_load,
                                 watchdog_s=board.watchdog_s, on_fatal=self._fatal,
                                 on_watchdog=lambda: self.request_reboot(0, reason="0xc (SW_CPU_RESET)"))
        self.system.mark_baseline()
        self._run_user_file("init.js")
        if self.alive:
            self.mqtt.start()

    def _run_user_file(self, name: str) -> None:
        path = self.fs_dir / name
        if not path.is_file():
            return
        source = path.read_text(encoding="utf-8", errors="replace")
        problem = self.board.check_source(source, name)
        if problem:
            for line in problem.splitlines():
                self.console.write(line)
            self.console.write(f"MJS error: {name} was not run")
            return
        assert self.runtime is not None
        self.runtime.run_main(name, source)

    def _read_for_load(self, name: str) -> tuple[str | None, str | None]:
        """What ``load(name)`` finds on the device: our api_*.js or a file in the app's fs."""
        api = api_source(name) if name != "runtime.js" else None
        if api is not None:
            library = API_LIBRARY.get(name, "mjs")
            libs = self.board.app_libraries
            if libs and library not in libs and not (libs & BUNDLES):
                self.console.log("kurs_virtual.c:1", LL_ERROR,
                                 f"{name} kommer fra biblioteket «{library}», som ikke står under libs i mos.yml. "
                                 f"Legg til «- origin: https://github.com/mongoose-os-libs/{library}».")
                return None, f'failed to read file "{name}"'
            return api, None
        path = self.fs_dir / name
        if "/" in name or not path.is_file():
            return None, f'failed to read file "{name}"'
        source = path.read_text(encoding="utf-8", errors="replace")
        problem = self.board.check_source(source, name)
        if problem:
            for line in problem.splitlines():
                self.console.write(line)
            return None, f'failed to read file "{name}"'
        return source, None

    def _fatal(self, why: str) -> None:
        self.console.log("kurs_virtual.c:1", LL_ERROR, f"Kortet krasjet ({why}) og starter på nytt.")
        self.request_reboot(100, reason="0xc (SW_CPU_RESET)")

    # -- C functions that reach the board ----------------------------------------------------
    def request_reboot(self, delay_ms: int, reason: str = "0xc (SW_CPU_RESET)") -> None:
        def go() -> None:
            self.events.trigger(ev.REBOOT, None)
            self.board.reboot(reason)

        self.call_later(max(0, int(delay_ms)) / 1000.0, go)

    def config_get_json(self, path: Any) -> str | None:
        value = self.config.get(str(path))
        if value is None or isinstance(value, dict):
            return None
        return json.dumps(value)

    def config_apply(self, json_text: Any, save: bool) -> bool:
        """mgos_config_apply(json, save) for Cfg.set: False (and a log line) when it does not fit."""
        try:
            updates = json.loads(str(json_text))
        except ValueError:
            return False
        if not isinstance(updates, dict):
            return False
        try:
            self.apply_config(updates, bool(save))
        except CourseError as exc:
            self.console.log("mgos_config.c:1", LL_ERROR, exc.message)
            return False
        return True

    def apply_config(self, updates: dict[str, Any], save: bool) -> None:
        """Change the running configuration (raises ConfigError for unknown keys or wrong types)."""
        self.config.apply(updates)
        self.board.forget_overrides(updates)
        self.console.level = int(self.config.get("debug.level"))
        if save:
            self.config.save(self.fs_dir)
            self.console.log("mgos_sys_config.c:394", LL_INFO, "Saved config to conf9.json")

    # -- shutdown ----------------------------------------------------------------------------
    def shutdown(self, *, wait: bool) -> None:
        self.alive = False
        self.mqtt.stop(wait=wait)
        self.timers.stop()
        self.gpio.stop()
        if self.runtime is not None:
            self.runtime.dead = True
