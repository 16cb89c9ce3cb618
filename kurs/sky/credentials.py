"""The local cloud's own AWS credentials: one access key id and secret per state folder.

``kurs sky start`` makes them the first time (mode 0600 in the cloud's private folder) and
keeps them across stop/start, so a notebook kernel or a terminal that ran
``eval "$(kurs sky env)"`` keeps working after a restart. The cloud's front door
(:mod:`kurs.sky.frontdoor`) accepts only requests signed with them (or with an IAM user's
access key made in this cloud, as AWS accepts any active key of the account).

The access key id starts with ``LOKAL`` so that anyone (and ``kurs.aws_mode``) can tell it from
a real AWS key (``AKIA…``/``ASIA…``) at a glance; the secret is random and never printed, except
by ``kurs sky env``, which exists to hand it to the terminal.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from kurs.errors import CourseError

PREFIX = "LOKAL"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # like AWS key ids: upper case letters and digits


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # never show the secret in a traceback or a notebook output
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key='…')"


def credentials_file() -> Path:
    from kurs.sky.info import sky_dir

    return sky_dir() / "nokler.json"


def is_local_key(access_key_id: str | None) -> bool:
    """True for a key made by a local cloud (never a real AWS key)."""
    return bool(access_key_id) and str(access_key_id).startswith(PREFIX)


def _new() -> Credentials:
    key_id = PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(20 - len(PREFIX)))
    return Credentials(key_id, secrets.token_urlsafe(30))  # 40 characters, as AWS secrets


def ensure() -> Credentials:
    """This state folder's credentials, made (0600, never briefly readable by others) if missing."""
    path = credentials_file()
    found = _read(path)
    if found is not None:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # someone loosened it; the secret is for this user only
        return found
    made = _new()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"aws_access_key_id": made.access_key_id, "aws_secret_access_key": made.secret_access_key}, f)
    try:
        # A concurrent first start may have written its own meanwhile: the first one wins.
        os.link(tmp, path)
    except FileExistsError:
        if _read(path) is None:  # a damaged file from before: the new key replaces it
            os.replace(tmp, path)
    except OSError:  # no hard links (some Windows file systems): plain rename
        if not path.exists():
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    found = _read(path)
    if found is None:
        raise CourseError(f"Kunne ikke lagre nøklene til den lokale skyen i {path}.",
                          "Sjekk at du kan skrive i mappa, eller sett KURS_HOME til en mappe du eier.")
    return found


def load() -> Credentials:
    """The credentials of the cloud in this state folder; a Norwegian error if it never started."""
    found = _read(credentials_file())
    if found is None:
        raise CourseError("Den lokale skyen har ingen nøkler ennå.",
                          "Start den med «kurs sky start» (eller kurs.sky.start() i en notatbok).")
    return found


def _read(path: Path) -> Credentials | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(str(data["aws_access_key_id"]), str(data["aws_secret_access_key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
