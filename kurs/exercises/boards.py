"""Virtual boards for the exercises: the learner's named boards (one per ``%%mjs`` name, shown as a
board panel) and short-lived boards that a check starts, uses and always switches off again."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.exercises import workspace

LED_PIN = 2  # the course's LED sits on GPIO 2
BOOT_TIMEOUT = 10.0


@dataclass
class Running:
    name: str
    board: Any  # kurs.esp32.VirtualBoard
    panel: Any = None  # kurs.widgets.BoardPanel

    def close(self) -> None:
        if self.panel is not None:
            self.panel.close()
        self.board.close()


_running: dict[str, Running] = {}
_lock = threading.RLock()


def ensure_cloud() -> None:
    """The exercises run against the local cloud; start it if it does not run yet."""
    from kurs import sky

    sky.start(quiet=True)


def run(name: str, *, role: str | None = None, led_pin: int = LED_PIN, colour: str = "rød") -> Running:
    """(Re)start the board for workspace app ``name``, stopping the previous one of that name first."""
    from kurs.esp32 import VirtualBoard
    from kurs.widgets.board_panel import BoardPanel

    ensure_cloud()
    with _lock:
        stop(name)
        board = VirtualBoard(workspace.app_dir(name))
        try:
            board.start(timeout=BOOT_TIMEOUT)
        except BaseException:
            board.close()
            raise
        panel = BoardPanel(board, led_pin=led_pin, colour=colour, role=role)
        running = Running(name, board, panel)
        _running[name] = running
        return running


def get(name: str) -> Running | None:
    with _lock:
        running = _running.get(name)
    return running if running is not None and running.board.running else None


def all_running() -> list[Running]:
    with _lock:
        return [r for r in _running.values() if r.board.running]


def stop(name: str) -> None:
    with _lock:
        running = _running.pop(name, None)
    if running is not None:
        running.close()


def stop_all() -> None:
    with _lock:
        names = list(_running)
    for name in names:
        stop(name)


atexit.register(stop_all)


@contextmanager
def check_board(app: Path, seed: str) -> Iterator[Any]:
    """A fresh board running the app in folder ``app``; switched off when the check is done.

    ``seed`` gives it its own stable device id, so it never takes over the learner's board's
    MQTT connection (the broker lets one client id in once)."""
    from kurs.esp32 import VirtualBoard

    ensure_cloud()
    board = VirtualBoard(app, seed=f"kurs-sjekk/{seed}")
    try:
        yield board
    finally:
        board.close()
