"""``Timer.set`` / ``Timer.del``: software timers on the board's event loop (mgos_set_timer)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kurs.esp32.services import FirmwareServices

REPEAT = 1
RUN_NOW = 2


class Timers:
    def __init__(self, fw: FirmwareServices) -> None:
        self.fw = fw
        self._next_id = 1
        self._active: dict[int, tuple[Any, int]] = {}  # id -> (loop handle, callback id)

    def set(self, ms: int, flags: int, callback: int, _ud: Any = None) -> int:
        timer_id = self._next_id
        self._next_id += 1
        repeat = bool(flags & REPEAT)
        period = max(1 if repeat else 0, int(ms)) / 1000.0
        first = 0.0 if flags & RUN_NOW else period
        start = time.monotonic()

        def fire(due: float) -> None:
            if timer_id not in self._active:
                return
            if repeat:
                # Keep the rhythm (no drift), but never try to catch up on missed ticks.
                next_due = due + period
                if next_due < time.monotonic():
                    next_due = time.monotonic() + period
                handle = self.fw.call_later(next_due - time.monotonic(), lambda: fire(next_due))
                self._active[timer_id] = (handle, callback)
                self.fw.invoke(callback, [])
            else:
                del self._active[timer_id]
                self.fw.invoke(callback, [], free_after=True)

        due = start + first
        handle = self.fw.call_later(first, lambda: fire(due))
        self._active[timer_id] = (handle, callback)
        return timer_id

    def clear(self, timer_id: int) -> None:
        entry = self._active.pop(int(timer_id), None)
        if entry is not None:
            handle, callback = entry
            handle.cancel()
            self.fw.free(callback)

    def stop(self) -> None:
        for handle, _callback in self._active.values():
            handle.cancel()
        self._active.clear()

    def count(self) -> int:
        return len(self._active)

    def symbols(self) -> dict[str, Callable[..., Any]]:
        return {
            "mgos_set_timer": self.set,
            "mgos_clear_timer": self.clear,
            "mg_time": time.time,
            "kurs_strftime": lambda fmt, t: time.strftime(str(fmt), time.gmtime(float(t or 0))),
        }
