"""An exclusive lock on a file, for every operating system the course runs on (stdlib only).

``fcntl.flock`` on Linux and macOS, ``msvcrt.locking`` on Windows. The operating system drops
the lock when the holder's process ends, however it ends, so a crashed ``kurs sky start`` never
leaves a lock behind. The stdlib rather than the ``filelock`` package: thirty lines, no new
dependency for learners to install offline, and the same semantics ``filelock`` uses underneath.

Two users: ``kurs sky start``/``stop`` serialise on ``start.lock`` (one start at a time per
state folder; the second one waits and then finds the running cloud), and the cloud process
itself holds ``server.lock`` for its whole life (never two clouds on one state folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """``with FileLock(path):`` … (waits), or ``acquire(timeout)`` / ``release()``.

    Not re-entrant, also not within one process: each holder opens the file anew, so two threads
    of one notebook kernel exclude each other like two processes do.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, timeout: float | None = None, poll: float = 0.05) -> bool:
        """True once held; False after ``timeout`` seconds (0: one try; None: wait for ever)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not _try_lock(fd):
            if deadline is not None and time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(poll)
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                _unlock(fd)
            finally:
                os.close(fd)

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
