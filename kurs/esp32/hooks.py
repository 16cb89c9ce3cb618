"""What a board hands one power-on of its firmware: facts about the board and explicit hooks.

The firmware never reaches back into :class:`~kurs.esp32.board.VirtualBoard`; everything it
may ask of the board is here, so ``board`` depends on ``firmware`` and never the other way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.esp32.console import Console
from kurs.esp32.event_loop import EventLoop


@dataclass(frozen=True)
class BoardHooks:
    loop: EventLoop
    console: Console
    fs_dir: Path
    app_name: str
    app_version: str
    app_path: Path
    app_libraries: frozenset[str]
    mac: str
    flashed_at: float
    watchdog_s: float
    auto_server: str | None
    pin_changed: Callable[[int, int], None]           # a pin's level changed (widgets listen)
    reboot: Callable[[str], None]                     # power-cycle now, with this reset reason
    forget_overrides: Callable[[dict[str, Any]], None]  # Cfg.set/RPC replaced these settings
    check_source: Callable[[str, str], str | None]    # the mJS checker's complaint, or None
    # Where the local cloud's MQTT is now (host:port), when kurs pointed this board at it; else None.
    local_cloud_now: Callable[[], str | None]
