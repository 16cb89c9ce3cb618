"""CI's notebook check has teeth: a failing cell, or an output that changed, fails the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _nbval(notebook: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval", "--nbval-current-env",
         "--rootdir", str(FIXTURES), "-c", "/dev/null", str(FIXTURES / notebook)],
        capture_output=True, text=True, timeout=180)


@pytest.mark.integration
def test_a_notebook_with_a_failing_cell_fails_the_run():
    result = _nbval("feilende-celle.ipynb")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed" in result.stdout
    assert "denne cellen feiler med vilje" in result.stdout


@pytest.mark.integration
def test_a_notebook_whose_output_changed_fails_the_run():
    result = _nbval("endret-utdata.ipynb")
    assert result.returncode == 1, result.stdout
    assert "Cell outputs differ" in result.stdout
    assert "1 failed" in result.stdout
