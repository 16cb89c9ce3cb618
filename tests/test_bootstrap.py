"""scripts/bootstrap.py: what ./start.sh, ./test.sh and their Windows forms do on each operating system."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from kurs.paths import REPO_DIR

_spec = importlib.util.spec_from_file_location("bootstrap", REPO_DIR / "scripts" / "bootstrap.py")
bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap)


@pytest.mark.parametrize(("platform", "python", "kurs"), [
    ("linux", ".venv/bin/python", ".venv/bin/kurs"),
    ("darwin", ".venv/bin/python", ".venv/bin/kurs"),
    ("win32", ".venv/Scripts/python.exe", ".venv/Scripts/kurs.exe"),
])
def test_venv_programs_are_where_each_system_puts_them(platform, python, kurs):
    venv = Path(".venv")
    assert bootstrap.venv_command(venv, "python", platform) == Path(python)
    assert bootstrap.venv_command(venv, "kurs", platform) == Path(kurs)


def test_windows_looks_for_python_with_the_py_launcher_newest_first():
    assert bootstrap.candidate_pythons("win32")[:4] == [["py", "-3.14"], ["py", "-3.13"], ["py", "-3.12"],
                                                        ["py", "-3.11"]]
    assert bootstrap.candidate_pythons("darwin")[:2] == [["python3.14"], ["python3.13"]]
    assert ["python3"] in bootstrap.candidate_pythons("linux")


@pytest.mark.parametrize(("version", "ok"), [((3, 10), False), ((3, 11), True), ((3, 13), True),
                                             ((3, 14), True), ((3, 15), False)])
def test_supported_pythons_are_those_with_wheels_for_every_dependency(version, ok):
    assert bootstrap.supported(version) is ok


def test_the_python_that_starts_the_script_is_used_when_it_is_supported():
    never = lambda command: pytest.fail("no probing needed")  # noqa: E731
    assert bootstrap.choose_python((3, 13), ["/usr/bin/python3"], [["python3.14"]], never) == ["/usr/bin/python3"]


def test_an_old_python_finds_the_newest_supported_one():
    found = {("py", "-3.14"): None, ("py", "-3.13"): (3, 13), ("python",): (3, 9)}
    chosen = bootstrap.choose_python((3, 9), ["python"], bootstrap.candidate_pythons("win32"),
                                     lambda command: found.get(tuple(command)))
    assert chosen == ["py", "-3.13"]
    assert bootstrap.choose_python((3, 9), ["python"], [["python3.20"]], lambda c: (3, 20)) is None


def test_the_install_prefers_wheels_and_reinstalls_when_pyproject_changes(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap.py").write_text("x")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'a'\n")
    before = bootstrap.install_stamp(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'b'\n")
    assert bootstrap.install_stamp(tmp_path) != before
    install = bootstrap.install_commands(Path("py"))[-1]
    assert "--prefer-binary" in install and install[-2:] == ["-e", ".[test]"]


def test_the_test_command_runs_ruff_then_pytest_with_nbval_from_the_venv():
    ruff, pytest_run = bootstrap.test_commands(Path(".venv"), ["-m", "not integration"], "win32")
    assert ruff[0] == str(Path(".venv/Scripts/ruff.exe")) and ruff[1] == "check"
    assert pytest_run[:3] == [str(Path(".venv/Scripts/python.exe")), "-m", "pytest"]
    assert "--nbval" in pytest_run and pytest_run[-2:] == ["-m", "not integration"]


def test_chromium_and_hunspell_are_installed_only_where_apt_is():
    assert [s for s, _ in bootstrap.test_tool_scripts("linux")] == ["scripts/setup-browser.sh",
                                                                    "scripts/setup-spelling.sh",
                                                                    "scripts/setup-mqtt-clients.sh"]
    assert bootstrap.test_tool_scripts("win32") == [] and bootstrap.test_tool_scripts("darwin") == []


def test_the_script_runs_on_the_python_that_starts_it():
    # It must start on an older Python to find a newer one: nothing newer than 3.8 syntax at import.
    import subprocess

    out = subprocess.run([sys.executable, str(REPO_DIR / "scripts" / "bootstrap.py"), "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "setup" in out.stdout
