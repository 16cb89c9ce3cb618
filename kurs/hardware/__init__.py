"""Real ESP32 boards over USB-UART: find the port, flash a Mongoose OS firmware zip, talk RPC.

- ``kurs.hardware.ports``: which serial port is the board, with driver advice per OS.
- ``kurs.hardware.firmware_zip``: a Mongoose OS firmware zip turned into a checked write plan.
- ``kurs.hardware.flash``: esptool (its Python API) writes the plan, reads chip and MAC.
- ``kurs.hardware.rpc``: Mongoose OS RPC over the serial port (what ``mos`` does).

The device side of that RPC on a pseudo-terminal (virtual boards) is
``kurs.esp32.rpc_server``, beside the board's RPC backend.

Submodules load on first use so ``import kurs.hardware`` stays cheap (esptool is heavy).
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {"ports", "firmware_zip", "flash", "rpc"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"kurs.hardware.{name}")
    raise AttributeError(f"module 'kurs.hardware' has no attribute {name!r}")
