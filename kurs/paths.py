"""Where things live: the repository, the firmware apps and the local state folder.

State (the local cloud's CA and logs, generated device credentials) goes in ``.kurs/`` at
the repository root, or in ``$KURS_HOME`` when set; it is git-ignored and private (0700).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
FIRMWARE_DIR = REPO_DIR / "firmware"
NOTEBOOK_DIR = REPO_DIR / "notebooks"


def state_dir() -> Path:
    """The private state folder, created on first use with mode 0700."""
    path = Path(os.environ.get("KURS_HOME") or REPO_DIR / ".kurs")
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def private_dir(*parts: str) -> Path:
    """A private (0700) sub-folder of the state folder, e.g. ``private_dir("credentials")``."""
    path = state_dir().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: str | bytes) -> Path:
    """Write a file readable by its owner only (0600), never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, 0o600)
    return path
