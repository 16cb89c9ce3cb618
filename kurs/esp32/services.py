"""What the board's libraries (gpio, timers, system, mqtt, shadow) may use of one power-on.

:class:`~kurs.esp32.firmware.Firmware` provides these; the libraries depend on this small
interface instead of on the firmware module, so ``kurs.esp32`` has no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kurs.esp32.console import Console
from kurs.esp32.events import EventBus
from kurs.esp32.hooks import BoardHooks
from kurs.esp32.js_runtime import JsRuntime
from kurs.esp32.mos_config import Config


class MqttClient(Protocol):
    """The global MQTT connection, as other libraries (the AWS shadow) use it."""

    def add_python_handler(self, handler: Callable[[int, Any], None]) -> None: ...

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int: ...

    def subscribe_many(self, topics: list[str], qos: int = 1) -> int: ...


class FirmwareServices(Protocol):
    board: BoardHooks
    config: Config
    console: Console
    events: EventBus
    fs_dir: Path
    runtime: JsRuntime | None
    mqtt: MqttClient

    def post(self, fn: Callable[[], Any]) -> None: ...

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> Any: ...

    def invoke(self, callback: int, args: list[Any], *, free_after: bool = False) -> Any: ...

    def free(self, callback: int) -> None: ...

    def uptime(self) -> float: ...

    def request_reboot(self, delay_ms: int, reason: str = ...) -> None: ...

    def config_get_json(self, path: Any) -> str | None: ...

    def config_apply(self, json_text: Any, save: bool) -> bool: ...
