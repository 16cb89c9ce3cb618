"""``Sys``, the C library functions ``api_math.js`` uses, events and the other small C-side pieces."""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kurs.esp32.console import LL_INFO
from kurs.esp32.ffi import foreign

if TYPE_CHECKING:
    from kurs.esp32.services import FirmwareServices

# What an ESP32 running Mongoose OS reports (mgos_get_heap_size / free heap after boot).
HEAP_TOTAL = 295_972
HEAP_USED_BY_SYSTEM = 78_000

_STACK_LINE = re.compile(r"\((?:[^():]*):(\d+)\)")


def c_round(x: float) -> float:
    """C's round(): halfway cases away from zero (Python's round() goes to even)."""
    return float(math.floor(x + 0.5)) if x >= 0 else -float(math.floor(-x + 0.5))



class System:
    def __init__(self, fw: FirmwareServices) -> None:
        self.fw = fw
        self._baseline = 0

    def mark_baseline(self) -> None:
        self._baseline = self.fw.runtime.memory_used() if self.fw.runtime else 0

    def free_ram(self) -> int:
        """Free heap that moves with what the firmware keeps (QuickJS's bytes, scaled to mJS's)."""
        used = self.fw.runtime.memory_used() if self.fw.runtime else 0
        grown = max(0, used - self._baseline) // 3
        return max(16_000, HEAP_TOTAL - HEAP_USED_BY_SYSTEM - 9_000 - grown)

    def usleep(self, us: int) -> None:
        time.sleep(min(max(0, int(us)), 30_000_000) / 1e6)

    def log_here(self, level: int, message: Any) -> None:
        # Log.print: "init.js:12" like the C libraries' "file.c:line".
        line = "?"
        stack = self.fw.runtime.ctx.eval("(function __kurs_here(){ try { null.x } catch (e) { return e.stack } })()") \
            if self.fw.runtime else ""
        for match in _STACK_LINE.finditer(str(stack or "")):
            line = match.group(1)
        self.fw.console.log(f"init.js:{line}", int(level), str(message))

    def symbols(self) -> dict[str, Callable[..., Any]]:
        fw = self.fw
        return {
            # Sys
            "mgos_get_heap_size": lambda: HEAP_TOTAL,
            "mgos_get_free_heap_size": self.free_ram,
            "mgos_get_min_free_heap_size": self.free_ram,
            "mgos_system_restart_after": lambda ms: fw.request_reboot(int(ms)),
            "mgos_uptime": fw.uptime,
            "mgos_usleep": self.usleep,
            "mgos_wdt_feed": lambda: None,
            "malloc": lambda n: 0x3FFB8000,
            "free": lambda p: None,
            # Config
            "kurs_config_get_json": fw.config_get_json,
            "mgos_config_apply": fw.config_apply,
            # Log
            "kurs_log_here": self.log_here,
            # Events
            "mgos_event_add_handler": lambda e, cb, ud=None: fw.events.add_handler(
                int(e), lambda n, data: fw.invoke(cb, [n, foreign(data)])),
            "mgos_event_add_group_handler": lambda e, cb, ud=None: fw.events.add_group_handler(
                int(e), lambda n, data: fw.invoke(cb, [n, foreign(data)])),
            "mgos_event_register_base": lambda base, name: fw.events.register_base(int(base), str(name)),
            "mgos_event_trigger": lambda e, data=None: fw.events.trigger(int(e), data),
            "mgos_debug_event_get_ptr": lambda data: data if isinstance(data, str) else "",
            "mgos_debug_event_get_len": lambda data: len(data) if isinstance(data, str) else 0,
            # The C library, for api_math.js
            "ceil": lambda x: float(math.ceil(x)),
            "floor": lambda x: float(math.floor(x)),
            "round": lambda x: c_round(float(x)),
            "fmax": lambda a, b: b if a != a else (a if b != b else max(a, b)),
            "fmin": lambda a, b: b if a != a else (a if b != b else min(a, b)),
            "fabs": lambda x: abs(float(x)),
            "sqrt": lambda x: math.sqrt(x) if x >= 0 else float("nan"),
            "exp": lambda x: _safe(math.exp, x),
            "log": lambda x: math.log(x) if x > 0 else (float("-inf") if x == 0 else float("nan")),
            "pow": lambda a, b: _safe(math.pow, a, b),
            "sin": lambda x: math.sin(x),
            "cos": lambda x: math.cos(x),
            "rand": lambda: random.randint(0, 0x7FFFFFFF),
            # Other clouds: never connected on the virtual board
            **_other_clouds(fw),
        }


def _safe(fn: Callable[..., float], *args: float) -> float:
    try:
        return fn(*args)
    except OverflowError:
        return float("inf")
    except ValueError:
        return float("nan")


def _other_clouds(fw: FirmwareServices) -> dict[str, Callable[..., Any]]:
    def not_connected(cloud: str, source: str) -> Callable[..., bool]:
        def send(*_args: Any) -> bool:
            fw.console.log(source, LL_INFO, f"{cloud}: ikke tilkoblet (det virtuelle kortet kobler seg bare "
                                            "til AWS IoT / den lokale skyen), meldingen ble ikke sendt")
            return False

        return send

    return {
        "mgos_azure_is_connected": lambda: False,
        "mgos_azure_send_d2c_msgp": not_connected("Azure", "mgos_azure.c:1"),
        "mgos_gcp_is_connected": lambda: False,
        "mgos_gcp_send_eventp": not_connected("GCP", "mgos_gcp.c:1"),
        "mgos_gcp_send_statep": not_connected("GCP", "mgos_gcp.c:1"),
        "mgos_watson_is_connected": lambda: False,
        "mgos_watson_send_event_jsonp": not_connected("Watson", "mgos_watson.c:1"),
        "mgos_dash_is_connected": lambda: False,
        "mgos_dash_notify": not_connected("Dash", "mgos_dash.c:1"),
    }
