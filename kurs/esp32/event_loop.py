"""One thread per virtual board that runs everything the firmware does, one thing at a time.

Mongoose OS is single-threaded: timers, GPIO interrupts, MQTT messages and shadow events are
all handled by one task. The virtual board does the same: other threads (paho's network
thread, a notebook pressing the button) only *post* work here; the JS engine is touched from
this thread alone (a QuickJS context must stay on the thread that made it).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopStopped(RuntimeError):
    """The board's event loop is not running."""


class TimerHandle:
    __slots__ = ("when", "seq", "fn", "cancelled")

    def __init__(self, when: float, seq: int, fn: Callable[[], Any]) -> None:
        self.when = when
        self.seq = seq
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: TimerHandle) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class EventLoop:
    """A small single-threaded scheduler: ``call_soon``, ``call_later`` and ``run_sync``."""

    def __init__(self, name: str, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.name = name
        self._on_error = on_error
        self._cond = threading.Condition()
        self._ready: list[Callable[[], Any]] = []
        self._timers: list[TimerHandle] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._epoch = 0  # bumped by clear(): the rest of a batch taken before it is dropped

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if threading.current_thread() is not thread:
            thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopping

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    # -- scheduling ------------------------------------------------------------------------
    def call_soon(self, fn: Callable[[], Any]) -> None:
        with self._cond:
            if self._stopping:
                return
            self._ready.append(fn)
            self._cond.notify()

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> TimerHandle:
        handle = TimerHandle(time.monotonic() + max(0.0, delay_s), next(self._seq), fn)
        with self._cond:
            heapq.heappush(self._timers, handle)
            self._cond.notify()
        return handle

    def run_sync(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the loop thread and return its result (or raise its exception)."""
        if self.in_loop():
            return fn()
        if not self.running:
            raise LoopStopped(self.name)
        future: Future[T] = Future()

        def task() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

        self.call_soon(task)
        return future.result(timeout)

    def clear(self) -> None:
        """Drop everything queued (used on reboot: pending callbacks belong to the old firmware run)."""
        with self._cond:
            self._epoch += 1
            self._ready.clear()
            for handle in self._timers:
                handle.cancelled = True
            self._timers.clear()

    # -- the loop --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._ready:
                        batch, self._ready = self._ready, []
                        break
                    now = time.monotonic()
                    while self._timers and self._timers[0].cancelled:
                        heapq.heappop(self._timers)
                    if self._timers and self._timers[0].when <= now:
                        batch = []
                        while self._timers and self._timers[0].when <= now:
                            handle = heapq.heappop(self._timers)
                            if not handle.cancelled:
                                batch.append(handle.fn)
                        break
                    wait = self._timers[0].when - now if self._timers else None
                    self._cond.wait(wait)
                epoch = self._epoch
            for fn in batch:
                if self._stopping:
                    return
                if epoch != self._epoch:
                    break
                try:
                    fn()
                except BaseException as exc:  # noqa: BLE001 - one bad task must not stop the board
                    if self._on_error is not None:
                        self._on_error(exc)
