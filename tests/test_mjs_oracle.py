"""The checker and the virtual board against the real mJS interpreter's verdicts.

``fixtures/mjs_oracle/cases.json`` is a copy of ``shared/mjs-oracle/cases.json``: what the real
mJS (cesanta/mjs 2.20.0, as Mongoose OS ships it) did with each snippet. ``own_cases.json`` holds
cases we wrote for the rules we implement, each citing the mJS source it follows.

* a ``reject`` case is refused by ``kurs sjekk`` or stops on the board with mJS's own error text;
* a ``runs-but-differs-from-js`` case is refused by the checker, or the board gives mJS's result;
* a ``runs`` case is accepted and prints on the board exactly what real mJS printed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from kurs.esp32.board import VirtualBoard
from kurs.mjs.checker import check_source

FIXTURES = Path(__file__).parent / "fixtures" / "mjs_oracle"
ORACLE = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))["cases"]
OWN = json.loads((FIXTURES / "own_cases.json").read_text(encoding="utf-8"))["cases"]
LOG_LINE = re.compile(r"^[\w./-]+\.(?:c|js):[\d?]+ +")
MOS_YML = ('name: oracle\nversion: "1.0"\nplatform: esp32\nlibs:\n'
           "  - origin: https://github.com/mongoose-os-libs/js-demo-bundle\n")

# Outputs the oracle took with ffi stubbed: they show the device, not the language (README of the
# oracle). The board must run these cases without error; its own device facts are checked here.
DEVICE_FACTS = {
    "cfg_get.js": lambda out, board: out == board.device_id,          # the stub returned esp32_ABCDEF
    "timer_fmt.js": lambda out, board: re.fullmatch(r"\d\d:\d\d", out) is not None,  # stub: 12:34
    "load_api_gpio.js": lambda out, board: out in ("0", "1"),        # stub: mgos_gpio_read gave 0
    "log_info.js": lambda out, board: out == "" and board.console.find("hei") is not None,  # a log line
}


def run_on_board(tmp_path: Path, boards: list[VirtualBoard], source: str) -> tuple[VirtualBoard, list[str]]:
    """Boot a board with ``source`` as init.js, fire its callbacks once, return what it printed."""
    app = tmp_path / "oracle"
    (app / "fs").mkdir(parents=True)
    (app / "mos.yml").write_text(MOS_YML)
    (app / "fs" / "init.js").write_text(source, encoding="utf-8")
    board = VirtualBoard(app, config_overrides={"mqtt.server": "", "mqtt.enable": False})
    boards.append(board)
    mark = board.console.mark()
    board.start()
    if "Timer.set" in source:
        time.sleep(0.2)
    if "set_button_handler" in source:
        board.click(hold_s=0.15)
        time.sleep(0.1)
    lines = [line.text for line in board.console.lines if line.index >= mark]
    # init.js runs after the board's last boot line (mqtt.enable=false says so).
    start = max(i for i, text in enumerate(lines) if "MQTT er av" in text)
    return board, [text for text in lines[start + 1:] if not LOG_LINE.match(text)]


def mjs_error(message: str) -> str:
    """The text after ``MJS error:`` in the oracle's message (parse errors are repeated there)."""
    tail = re.split(r"MJS (?:callback )?error: ", message)[-1]
    return tail


def check_case(case: dict, tmp_path: Path, boards: list[VirtualBoard]) -> None:
    problems = check_source(case["source"], case["name"])
    if case["real_mjs"] == "reject":
        if problems:
            return
        board, out = run_on_board(tmp_path, boards, case["source"])
        if case["kind"] == "runs-but-differs-from-js":
            assert "MJS_DIFFERS" in case["source"], f"{case['name']}: the checker must refuse it"
            assert out == ["MJS_DIFFERS "], f"{case['name']}: the board gave JS's answer: {out}"
            return
        prefix = "MJS callback error: " if case["kind"] == "runtime-error-in-callback" else "MJS error: "
        assert out and out[-1] == prefix + mjs_error(case["real_mjs_message"]), (
            f"{case['name']} runs on the board ({out}) but real mJS says: {case['real_mjs_message']}")
        return
    assert not problems, f"{case['name']}: the checker refuses what mJS runs: {[str(p) for p in problems]}"
    board, out = run_on_board(tmp_path, boards, case["source"])
    printed = "\n".join(out).rstrip()
    assert not any(line.startswith("MJS") for line in out), f"{case['name']}: {out}"
    if case["name"] in DEVICE_FACTS:
        assert DEVICE_FACTS[case["name"]](printed, board), f"{case['name']}: {printed!r}"
        return
    assert printed == case["real_mjs_output"], f"{case['name']}: {printed!r}"


@pytest.mark.parametrize("case", ORACLE, ids=[c["name"] for c in ORACLE])
def test_real_mjs_oracle(case, tmp_path, boards):
    check_case(case, tmp_path, boards)


@pytest.mark.parametrize("case", OWN, ids=[c["name"] for c in OWN])
def test_own_cases(case, tmp_path, boards):
    check_case(case, tmp_path, boards)
