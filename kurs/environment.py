"""The first cell of every notebook: is everything in place? Says what to run if not."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from kurs.errors import CourseError

# (import name, what a learner would call it)
REQUIRED = [
    ("boto3", "boto3 (AWS sitt Python-bibliotek)"),
    ("moto", "moto (kontrollplanet i den lokale skyen)"),
    ("paho.mqtt", "paho-mqtt (MQTT-klienten)"),
    ("quickjs", "QuickJS (JavaScript-motoren i de virtuelle dingsene)"),
    ("ipywidgets", "ipywidgets (knapper og lamper i notatboka)"),
]


def problems() -> list[str]:
    """What is missing, in Norwegian; empty when all is well."""
    found: list[str] = []
    if sys.version_info < (3, 11):  # noqa: UP036 - a kernel from another Python may run this
        found.append(f"Python {sys.version_info.major}.{sys.version_info.minor} er for gammel; kurset trenger 3.11+.")
    for module, label in REQUIRED:
        try:
            present = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            present = False
        if not present:
            found.append(f"Mangler {label}.")
    if shutil.which("aws") is None and not (Path(sys.executable).parent / "aws").exists():
        found.append("Mangler aws-kommandoen (AWS CLI).")
    return found


def check(*, start_sky: bool = True, quiet: bool = False) -> None:
    """Check the environment, show settings, and (in lokal mode) start the local cloud."""
    from kurs import config
    from kurs.errors import install_notebook_handler

    install_notebook_handler()
    _venv_on_path()
    missing = problems()
    if missing:
        raise CourseError("Miljøet er ikke komplett:\n  - " + "\n  - ".join(missing),
                          "Kjør ./start.sh fra kursmappa (på Windows: py scripts\\bootstrap.py start); den "
                          "installerer alt. Åpne så notatboka på nytt.")
    settings = config.load()
    if not quiet:
        print("✅ Python og alle pakkene kurset trenger er på plass.")
        print(settings.describe())
    if settings.mode == "aws":
        # Explicit opt-in only: shows account and region, and stops here until they are confirmed.
        from kurs import aws_mode

        aws_mode.require_confirmation(settings)
        return
    if settings.mode == "lokal" and start_sky:
        from kurs import sky

        sky.start(quiet=True)
        if not quiet:
            print("✅ Den lokale skyen kjører, og boto3 i denne notatboka snakker med den.")


def _venv_on_path() -> None:
    """Let ``!aws …`` and ``!kurs …`` in a notebook find this environment's commands."""
    import os

    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
