"""kurs: helpers for the Norwegian serverless-IoT course.

Importing is cheap: submodules (and their heavy libraries) load on first use, so
``import kurs`` in a notebook's first cell is instant.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "config", "errors", "paths", "sky", "mqtt", "esp32", "mjs", "widgets", "provision",
    "cleanup", "hardware", "exercises", "rules",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"kurs.{name}")
    raise AttributeError(f"module 'kurs' has no attribute {name!r}")
