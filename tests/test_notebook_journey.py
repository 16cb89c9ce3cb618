"""What a self-paced learner meets in the notebooks, checked on their sources (the browser test runs them)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import kurs.board_tools as kort
from kurs.paths import NOTEBOOK_DIR

SOURCES = sorted((NOTEBOOK_DIR / "kilde").glob("*.py"))


def _source(prefix: str) -> str:
    return next(p for p in SOURCES if p.name.startswith(prefix)).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_no_cell_relies_on_a_skip_tag_that_jupyterlab_ignores(path):
    assert "skip-execution" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_every_notebook_says_how_long_it_takes_and_what_you_need(path):
    head = path.read_text(encoding="utf-8")[:4000]
    assert "**Tid**: omtrent" in head and "**Du trenger**" in head


def test_00_shows_how_to_run_a_cell_before_the_first_code_cell():
    text = _source("00")
    assert text.index("Slik kjører du en celle") < text.index("kurs.environment.check()")
    assert "Shift + Enter" in text


def test_02_links_the_official_driver_pages():
    text = _source("02")
    assert "https://www.silabs.com/developer-tools/usb-to-uart-bridge-vcp-drivers" in text
    assert "https://www.wch-ic.com/downloads/CH341SER_EXE.html" in text
    assert "https://www.wch-ic.com/downloads/CH34XSER_MAC_ZIP.html" in text


def test_03_explains_the_404_shadow_line_where_the_board_log_first_shows():
    text = _source("03")
    assert text.index("Error: 404 No shadow exists") < text.index("kurs.widgets.BoardPanel(virtuelt_kort)")


def test_03_switches_to_aws_mode_only_with_the_learners_own_number():
    code = [line for line in _source("03").splitlines() if "aws_mode.confirm(" in line and not line.startswith("#")]
    assert code and all("123456789012" not in line for line in code), code


def test_board_cells_print_a_note_instead_of_raising_without_a_board(capsys, tmp_path):
    assert kort.board_ready(scan=[]) is False
    assert "ingen ESP32-kort er koblet til" in capsys.readouterr().out
    assert kort.board_ready(firmware=tmp_path / "fw.zip", scan=[]) is False
    assert "fant ikke fw.zip" in capsys.readouterr().out


def test_a_connected_board_lets_the_cell_run():
    cp2102 = SimpleNamespace(device="/dev/ttyUSB0", vid=0x10C4, pid=0xEA60, description="CP2102",
                             manufacturer="Silicon Labs", serial_number="1", hwid="USB VID:PID=10C4:EA60")
    assert kort.board_ready(scan=[cp2102]) is True
