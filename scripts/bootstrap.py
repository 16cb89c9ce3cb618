"""Set up the course's .venv and run the course or its tests, on Linux, macOS and Windows.

    ./start.sh  = python3 scripts/bootstrap.py start    (Windows: py scripts\\bootstrap.py start)
    ./test.sh   = python3 scripts/bootstrap.py test     (Windows: py scripts\\bootstrap.py test)

Standard library only, and it runs on an older Python too: all it needs from the Python that starts
it is to find a Python 3.11-3.14 for .venv (every package the course uses has wheels for those, so
nothing is compiled). Everything that differs between operating systems is in this file, in small
functions that tests/test_bootstrap.py tests for each system.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple  # noqa: UP035 - this file runs on Python < 3.9 too

REPO = Path(__file__).resolve().parent.parent
OLDEST, NEWEST = (3, 11), (3, 14)  # the Pythons every dependency has wheels for (tests/test_wheels.py)
Version = Tuple[int, int]


# --- what differs between operating systems ----------------------------------------------------------
def is_windows(platform: str = sys.platform) -> bool:
    return platform.startswith("win")


def venv_bin(venv: Path, platform: str = sys.platform) -> Path:
    """Where a virtual environment keeps its programs: Scripts\\ on Windows, bin/ elsewhere."""
    return venv / ("Scripts" if is_windows(platform) else "bin")


def venv_command(venv: Path, name: str, platform: str = sys.platform) -> Path:
    return venv_bin(venv, platform) / (f"{name}.exe" if is_windows(platform) else name)


def candidate_pythons(platform: str = sys.platform) -> list[list[str]]:
    """Commands that may start a suitable Python, newest first. Windows has the ``py`` launcher."""
    versions = [f"3.{minor}" for minor in range(NEWEST[1], OLDEST[1] - 1, -1)]
    if is_windows(platform):
        return [["py", f"-{v}"] for v in versions] + [["python"]]
    return [[f"python{v}"] for v in versions] + [["python3"], ["python"]]


def supported(version: Version) -> bool:
    return OLDEST <= tuple(version[:2]) <= NEWEST


def probe(command: Sequence[str]) -> Optional[Version]:
    """The (major, minor) version a command starts, or None if it does not start."""
    try:
        out = subprocess.run([*command, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    return (int(parts[0]), int(parts[1])) if out.returncode == 0 and len(parts) == 2 else None


def choose_python(current: Version, current_command: Sequence[str], candidates: Sequence[Sequence[str]],
                  probe: Callable[[Sequence[str]], Optional[Version]] = probe) -> Optional[list[str]]:
    """The Python that starts this script if it is 3.11-3.14, else the newest such candidate."""
    if supported(current):
        return list(current_command)
    for command in candidates:
        found = probe(command)
        if found is not None and supported(found):
            return list(command)
    return None


# --- setting up .venv ---------------------------------------------------------------------------------
def install_stamp(repo: Path) -> str:
    """Changes when what is installed would change: pyproject.toml or this script."""
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "scripts/bootstrap.py"):
        digest.update((repo / name).read_bytes())
    return digest.hexdigest()


def install_commands(python: Path) -> list[list[str]]:
    # --prefer-binary: an older release with a wheel beats a newer one that would have to be compiled.
    quiet = ["--quiet", "--disable-pip-version-check"]
    return [[str(python), "-m", "pip", "install", *quiet, "--upgrade", "pip"],
            [str(python), "-m", "pip", "install", *quiet, "--prefer-binary", "-e", ".[test]"]]


def drop_replaced_engine(python: Path, repo: Path) -> None:
    """The old "quickjs" package and its successor "quickjs-ng" both install the module quickjs; an
    environment made before the switch still has the old one, which must go."""
    if subprocess.run([str(python), "-m", "pip", "show", "quickjs"], capture_output=True).returncode == 0:
        quiet = ["--quiet", "--disable-pip-version-check"]
        subprocess.run([str(python), "-m", "pip", "uninstall", *quiet, "-y", "quickjs"], check=True, cwd=repo)
        subprocess.run([str(python), "-m", "pip", "install", *quiet, "--force-reinstall", "--no-deps", "quickjs-ng"],
                       check=True, cwd=repo)


def setup(repo: Path = REPO) -> Path:
    """Make .venv with everything the course needs (cheap when nothing changed). Returns its Python."""
    venv = repo / ".venv"
    python = venv_command(venv, "python")
    if not python.exists():
        chosen = choose_python(sys.version_info[:2], [sys.executable], candidate_pythons())
        if chosen is None:
            raise SystemExit(f"Fant ikke Python {OLDEST[0]}.{OLDEST[1]}–{NEWEST[0]}.{NEWEST[1]}. Installer en av dem "
                             "(python.org, eller pakkebehandleren din) og prøv igjen.")
        version = probe(chosen)
        print(f"Lager et virtuelt Python-miljø i .venv med Python {version[0]}.{version[1]} …" if version
              else "Lager et virtuelt Python-miljø i .venv …", flush=True)
        subprocess.run([*chosen, "-m", "venv", str(venv)], check=True)
    stamp = venv / ".kurs-installert"
    want = install_stamp(repo)
    if not stamp.exists() or stamp.read_text().strip() != want:
        print("Installerer pakkene kurset trenger (første gang tar det noen minutter) …", flush=True)
        for command in install_commands(python):
            subprocess.run(command, check=True, cwd=repo)
        drop_replaced_engine(python, repo)
        stamp.write_text(want)
    # JupyterLab without the "news" pop-up (settings defaults for this environment only).
    settings = venv / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(repo / "jupyter" / "overrides.json", settings / "overrides.json")
    return python


# --- the two commands -----------------------------------------------------------------------------------
def start(args: Sequence[str], repo: Path = REPO) -> int:
    setup(repo)
    venv = repo / ".venv"
    subprocess.run([str(venv_command(venv, "kurs")), "sky", "start"], check=True, cwd=repo)
    stop = ".venv\\Scripts\\kurs sky stop" if is_windows() else ".venv/bin/kurs sky stop"
    print(f"Åpner kurset i JupyterLab. Stopp med Ctrl-C (den lokale skyen stopper du med «{stop}»).", flush=True)
    try:
        return subprocess.call([str(venv_command(venv, "jupyter")), "lab", "notebooks/00-velkommen.ipynb", *args],
                               cwd=repo)
    except KeyboardInterrupt:
        return 0


def test_tool_scripts(platform: str = sys.platform) -> list[tuple[str, str]]:
    """(script, what is skipped without it): Chromium, hunspell and mosquitto-clients come from apt,
    so Linux only."""
    if not platform.startswith("linux"):
        return []
    return [("scripts/setup-browser.sh", "Nettlesertesten hoppes over: fant ikke Chromium (se over)."),
            ("scripts/setup-spelling.sh", "Staveprøven hoppes over: fant ikke hunspell med norsk ordbok (se over)."),
            ("scripts/setup-mqtt-clients.sh",
             "Megler-testene med mosquitto_pub/mosquitto_sub hoppes over: fant ikke mosquitto-clients (se over).")]


def test_commands(venv: Path, args: Sequence[str], platform: str = sys.platform) -> list[list[str]]:
    """ruff, then pytest over the tests and every notebook under nbval."""
    return [[str(venv_command(venv, "ruff", platform)), "check", "kurs", "tests", "benchmarks", "conftest.py"],
            [str(venv_command(venv, "python", platform)), "-m", "pytest", "tests", "notebooks", "--nbval",
             "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval-sanitize.cfg",
             "--nbval-cell-timeout", "180", *args]]


def test(args: Sequence[str], repo: Path = REPO) -> int:
    setup(repo)
    for script, skipped in test_tool_scripts():
        if shutil.which("bash") is None or subprocess.call(["bash", script], cwd=repo) != 0:
            print(skipped, flush=True)
    venv = repo / ".venv"
    # Tests and notebooks get their own state folder, so a learner's local cloud is never touched.
    home = tempfile.mkdtemp(prefix="kurs-test-")
    env = dict(os.environ, KURS_HOME=home)
    try:
        for command in test_commands(venv, args):
            code = subprocess.call(command, cwd=repo, env=env)
            if code != 0:
                return code
        return 0
    finally:
        subprocess.call([str(venv_command(venv, "kurs")), "sky", "stop"], cwd=repo, env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(home, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="bootstrap.py", description="Sett opp og kjør kurset.")
    parser.add_argument("command", choices=["setup", "start", "test"],
                        help="setup: bare lag .venv; start: åpne kurset; test: kjør hele testpakken")
    parsed, rest = parser.parse_known_args(argv)
    if parsed.command == "setup":
        setup()
        return 0
    return start(rest) if parsed.command == "start" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
