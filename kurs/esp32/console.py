"""The device log, as ``mos console`` shows it, readable and followable from Python.

Lines look like a real board's::

    [Nov 28 01:02:03.456] mgos_mqtt.c:435         MQTT connecting to 127.0.0.1:1883
    [Nov 28 01:02:04.001] online: true {"on":false,"btnCount":0,"uptime":3.01}

Library log lines carry ``file.c:line`` padded to 24 columns; ``print()`` output from
``init.js`` and mJS error reports are bare text, as on the device.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

# Mongoose OS log levels (cs_log_level).
LL_ERROR, LL_WARN, LL_INFO, LL_DEBUG, LL_VERBOSE_DEBUG = 0, 1, 2, 3, 4

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_timestamp(t: float) -> str:
    """``Nov 28 01:02:03.456`` (local time, like ``mos console``)."""
    lt = time.localtime(t)
    ms = int((t - int(t)) * 1000)
    return f"{_MONTHS[lt.tm_mon - 1]} {lt.tm_mday:2d} {lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}.{ms:03d}"


@dataclass(frozen=True)
class ConsoleLine:
    index: int
    time: float
    text: str

    def __str__(self) -> str:
        return f"[{format_timestamp(self.time)}] {self.text}"


class Console:
    """A bounded, thread-safe log with followers.

    * ``console.lines`` – a snapshot list of :class:`ConsoleLine`
    * ``for line in console.follow(): ...`` – blocks for new lines (``timeout`` ends it)
    * ``unsubscribe = console.subscribe(callback)`` – called for every new line
    * ``console.echo_to(sys.stdout)`` – print lines as they come (the ``kurs dings`` terminal)
    """

    def __init__(self, max_lines: int = 5000) -> None:
        self._lines: deque[ConsoleLine] = deque(maxlen=max_lines)
        self._next_index = 0
        self._cond = threading.Condition()
        self._subscribers: list[Callable[[ConsoleLine], None]] = []
        self.level = LL_INFO  # debug.level: lines above it are not shown

    # -- writing ---------------------------------------------------------------------------
    def write(self, text: str) -> None:
        """Bare text (what ``print()`` and mJS error reports put on the serial port)."""
        for part in str(text).split("\n"):
            self._append(part)

    def log(self, source: str, level: int, message: str) -> None:
        """A library log line: ``source`` is ``file.c:line`` like the device's."""
        if level > self.level:
            return
        for part in str(message).split("\n"):
            self._append(f"{source:<23} {part}")

    def _append(self, text: str) -> None:
        with self._cond:
            line = ConsoleLine(self._next_index, time.time(), text.rstrip("\r"))
            self._next_index += 1
            self._lines.append(line)
            subscribers = list(self._subscribers)
            self._cond.notify_all()
        for callback in subscribers:
            try:
                callback(line)
            except Exception:  # noqa: BLE001 - a broken follower must not break the device
                pass

    # -- reading ---------------------------------------------------------------------------
    @property
    def lines(self) -> list[ConsoleLine]:
        with self._cond:
            return list(self._lines)

    def mark(self) -> int:
        """The index the next line will get; pass it as ``since`` to look only at newer lines."""
        with self._cond:
            return self._next_index

    def since(self, index: int) -> list[ConsoleLine]:
        with self._cond:
            return [line for line in self._lines if line.index >= index]

    def text(self, since: int = 0) -> str:
        return "\n".join(str(line) for line in self.since(since))

    def find(self, needle: str, since: int = 0) -> ConsoleLine | None:
        for line in self.since(since):
            if needle in line.text:
                return line
        return None

    def count(self, needle: str, since: int = 0) -> int:
        return sum(1 for line in self.since(since) if needle in line.text)

    def follow(self, since: int | None = None, timeout: float | None = None) -> Iterator[ConsoleLine]:
        """Yield lines as they arrive (from ``since``, default: only new ones).

        Without ``timeout`` it follows for ever (stop by breaking out of the loop); with one,
        it ends when no new line came for that many seconds.
        """
        index = self.mark() if since is None else since
        while True:
            with self._cond:
                pending = [line for line in self._lines if line.index >= index]
                if not pending:
                    if not self._cond.wait(timeout):
                        return
                    continue
            for line in pending:
                index = line.index + 1
                yield line

    def subscribe(self, callback: Callable[[ConsoleLine], None]) -> Callable[[], None]:
        with self._cond:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def echo_to(self, stream: TextIO | None = None, prefix: str = "") -> Callable[[], None]:
        out = stream or sys.stdout

        def echo(line: ConsoleLine) -> None:
            out.write(f"{prefix}{line}\n")
            out.flush()

        return self.subscribe(echo)

    def __iter__(self) -> Iterator[ConsoleLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        with self._cond:
            return len(self._lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle) -> None:  # noqa: ANN001 - IPython's signature
        p.text(self.text())
