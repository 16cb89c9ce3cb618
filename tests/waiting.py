"""Polling helper for tests that watch something happen in another thread or process."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(condition: Callable[[], object], timeout: float = 8.0, every: float = 0.03) -> bool:
    """True as soon as ``condition()`` is truthy, False if it never is within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())
