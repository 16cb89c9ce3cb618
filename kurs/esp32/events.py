"""mgos events: numbered events in groups of 256, handlers in Python (libraries) and JS (``Event``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def base_number(name: str) -> int:
    """``Event.baseNumber('MOS')``: three characters packed into the top three bytes."""
    a, b, c = (ord(ch) for ch in name[:3])
    return (a << 24) | (b << 16) | (c << 8)


SYS = base_number("MOS")
INIT_DONE = SYS + 0
LOG = SYS + 1
REBOOT = SYS + 2
OTA_TIME_CHANGED = SYS + 3
CLOUD_CONNECTED = SYS + 4
CLOUD_DISCONNECTED = SYS + 5
CLOUD_CONNECTING = SYS + 6
REBOOT_AFTER = SYS + 7

# Mongoose's MQTT events as MQTT.setEventHandler and the libraries see them (mg_mqtt.h).
EV_CLOSE = 5
EV_CONNACK = 202
EV_PUBLISH = 203
EV_PUBACK = 204
EV_SUBACK = 209
EV_UNSUBACK = 211

SHADOW_BASE = base_number("SDW")
SHADOW_GET, SHADOW_UPDATE, SHADOW_CONNECTED, SHADOW_GET_ACCEPTED, SHADOW_GET_REJECTED, \
    SHADOW_UPDATE_ACCEPTED, SHADOW_UPDATE_REJECTED, SHADOW_UPDATE_DELTA = range(SHADOW_BASE, SHADOW_BASE + 8)

Handler = Callable[[int, Any], None]


class EventBus:
    """``mgos_event_trigger`` and friends. Handlers run synchronously, in the order added."""

    def __init__(self) -> None:
        self._handlers: list[tuple[int, bool, Handler]] = []  # (ev or group, is_group, handler)
        self._bases: dict[int, str] = {}

    def add_handler(self, ev: int, handler: Handler) -> bool:
        self._handlers.append((int(ev), False, handler))
        return True

    def add_group_handler(self, group: int, handler: Handler) -> bool:
        self._handlers.append((int(group) & ~0xFF, True, handler))
        return True

    def register_base(self, base: int, name: str) -> bool:
        base &= ~0xFF
        if base in self._bases:
            return False
        self._bases[base] = name
        return True

    def trigger(self, ev: int, data: Any = None) -> int:
        """Call every handler for ``ev``; returns how many there were."""
        count = 0
        for key, is_group, handler in list(self._handlers):
            if (is_group and (ev & ~0xFF) == key) or (not is_group and ev == key):
                count += 1
                handler(ev, data)
        return count

    def clear(self) -> None:
        self._handlers.clear()
        self._bases.clear()
