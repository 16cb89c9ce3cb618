"""kurs: helpers for the Norwegian serverless-IoT course.

Importing is cheap: submodules (and their heavy libraries) load on first use, so
``import kurs`` in a notebook's first cell is instant.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"



def __getattr__(name: str) -> Any:
    """``kurs.sky``, ``kurs.mqtt`` … are imported the first time they are used."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"kurs.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"kurs.{name}":
            raise AttributeError(f"module 'kurs' has no attribute {name!r}") from None
        raise
