"""Virtual ESP32 boards running Mongoose OS apps' real mJS firmware (in QuickJS).

    from kurs.esp32 import VirtualBoard
    with VirtualBoard("knapp") as board:
        board.click()
        print(board.console)
"""

from __future__ import annotations

from typing import Any

__all__ = ["VirtualBoard", "BoardTimeout", "Console", "ConsoleLine"]


def __getattr__(name: str) -> Any:
    if name in ("VirtualBoard", "BoardTimeout"):
        from kurs.esp32 import board

        return getattr(board, name)
    if name in ("Console", "ConsoleLine"):
        from kurs.esp32 import console

        return getattr(console, name)
    raise AttributeError(f"module 'kurs.esp32' has no attribute {name!r}")
