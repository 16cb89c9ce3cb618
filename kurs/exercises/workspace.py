"""The learner's workspace: one Mongoose OS app folder per ``%%mjs`` cell, under ``arbeid/``.

    arbeid/oppgave1/mos.yml        a copy of firmware/<base>/mos.yml, renamed to the cell's name
    arbeid/oppgave1/fs/init.js     the cell's code
    arbeid/oppgave1/ditt-forsok.js the learner's own code, kept when ``bruk_fasit()`` replaces it

The folder is git-ignored; ``$KURS_ARBEID`` moves it (tests use a temporary folder).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from kurs.errors import CourseError
from kurs.paths import FIRMWARE_DIR, REPO_DIR

WORKSPACE_ENV = "KURS_ARBEID"
BASE_APPS = ("start", "knapp", "lys")
BACKUP_NAME = "ditt-forsok.js"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def workspace_dir() -> Path:
    path = Path(os.environ.get(WORKSPACE_ENV) or REPO_DIR / "arbeid").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise CourseError(
            f"«{name}» kan ikke brukes som navn på et kort.",
            "Bruk små bokstaver a–z, sifre, bindestrek eller understrek, og begynn med en bokstav "
            "(for eksempel «oppgave1» eller «lys»).",
        )
    return name


def check_base(base: str) -> str:
    if base not in BASE_APPS:
        raise CourseError(f"Det finnes ingen grunnapp «{base}».",
                          "Velg en av " + ", ".join(f"«{b}»" for b in BASE_APPS) + " med --app.")
    return base


def app_dir(name: str) -> Path:
    return workspace_dir() / check_name(name)


def init_js(name: str) -> Path:
    return app_dir(name) / "fs" / "init.js"


def read_code(name: str) -> str | None:
    """The code last saved for ``name``, or None if that cell has not been run."""
    path = init_js(name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def write_app(folder: Path, name: str, source: str, base: str = "start") -> Path:
    """Make ``folder`` a Mongoose OS app: the base app's mos.yml (named ``name``) and ``source`` as init.js."""
    check_base(base)
    manifest = (FIRMWARE_DIR / base / "mos.yml").read_text(encoding="utf-8")
    # The app's name is what the board reports (and what the board panel is labelled with).
    manifest = re.sub(r"(?m)^name:.*$", f"name: {name}", manifest, count=1)
    manifest = f"# base: {base} (kopi av firmware/{base}/mos.yml, lagret av %%mjs)\n" + manifest
    (folder / "fs").mkdir(parents=True, exist_ok=True)
    (folder / "mos.yml").write_text(manifest, encoding="utf-8")
    path = folder / "fs" / "init.js"
    path.write_text(source if source.endswith("\n") else source + "\n", encoding="utf-8")
    return path


def save(name: str, source: str, base: str = "start") -> Path:
    """Save a cell's code in the workspace; returns the init.js path."""
    return write_app(app_dir(name), name, source, base)


def base_of(folder: Path) -> str | None:
    """The base app a workspace app was made from (the first line of its mos.yml says)."""
    manifest = folder / "mos.yml"
    if manifest.is_file():
        match = re.match(r"# base: (\w+)", manifest.read_text(encoding="utf-8"))
        if match and match.group(1) in BASE_APPS:
            return match.group(1)
    return None


def keep_learners_code(name: str, replacement: str) -> Path | None:
    """Before the solution replaces a learner's code: keep theirs in ditt-forsok.js (if it differs)."""
    current = read_code(name)
    if current is None or current.strip() == replacement.strip():
        return None
    backup = app_dir(name) / BACKUP_NAME
    backup.write_text(current, encoding="utf-8")
    return backup


def temporary_app(name: str, source: str, base: str = "start") -> tempfile.TemporaryDirectory[str]:
    """An app folder outside the workspace (for checking code given directly); remove with cleanup()."""
    tmp = tempfile.TemporaryDirectory(prefix=f"kurs-sjekk-{name}-")
    write_app(Path(tmp.name), name, source, base)
    return tmp


def shown(path: Path) -> str:
    """A path as a learner reads it: relative to the course folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_DIR))
    except ValueError:
        return str(path)
