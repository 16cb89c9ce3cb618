"""The exercises' checks, run for real: virtual boards with the learner's code against the local
cloud. Each check accepts the solution, rejects the starter code and rejects typical mistakes
with feedback that names the mistake; the %%mjs magic saves, checks and (re)starts boards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kurs import mqtt
from kurs.exercises import (
    boards,
    oppgave1,
    oppgave2,
    oppgave3,
    oppgave4,
    oppgave5,
    oppgave6,
    run_cell,
    workspace,
)
from kurs.exercises.observe import wait_until
from kurs.mjs import check_source

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def arbeid(tmp_path, monkeypatch, sky) -> Iterator[None]:  # noqa: ANN001 - fixtures
    """A private workspace per test; every board the test started is stopped afterwards."""
    monkeypatch.setenv(workspace.WORKSPACE_ENV, str(tmp_path / "arbeid"))
    yield
    oppgave5.stop()
    boards.stop_all()


def changed(source: str, old: str, new: str) -> str:
    """The solution with one typical mistake put in (and a guard that the edit took place)."""
    assert old in source, f"{old!r} not in the code"
    return source.replace(old, new)


def failed_with(report, *phrases: str) -> str:  # noqa: ANN001 - a Report
    text = report.text()
    assert not report.passed, text
    for phrase in phrases:
        assert phrase in text, text
    return text


# -- the code files -------------------------------------------------------------------------------

@pytest.mark.parametrize("exercise", [oppgave1, oppgave2, oppgave3, oppgave4], ids=lambda e: e.name)
def test_starters_and_solutions_are_valid_mjs(exercise):
    assert check_source(exercise.starter()) == []
    assert check_source(exercise.solution()) == []
    assert exercise.starter() != exercise.solution()


def test_notebook_cells_start_from_the_starter_code():
    import re

    from kurs.paths import NOTEBOOK_DIR

    source = (NOTEBOOK_DIR / "kilde" / "04-meldinger.py").read_text(encoding="utf-8")
    for exercise in (oppgave1, oppgave2, oppgave3, oppgave4):
        cell = re.search(rf"# %%mjs {exercise.name}\n(.*?)\n\n# %%", source, re.S)
        assert cell is not None, exercise.name
        assert cell.group(1).strip() == exercise.starter().strip()


# -- Oppgave 1: publish the state on "state" ------------------------------------------------------

def test_oppgave1_solution_passes():
    report = oppgave1.check(oppgave1.solution())
    assert report.passed, report.text()
    assert "«on» snur ved hvert trykk (true, så false)" in report.text()


def test_oppgave1_starter_is_told_about_topic_and_toggle():
    failed_with(oppgave1.check(oppgave1.starter()), "ikke på «state»", "devices/esp32_", "/events",
                "«on» var false etter begge trykkene")


def test_oppgave1_old_topic_is_rejected_even_when_on_toggles():
    code = changed(oppgave1.solution(), "let topic = 'state';", "let topic = 'devices/' + Cfg.get('device.id') + '/events';")
    text = failed_with(oppgave1.check(code), "ikke på «state»", "Bytt emnet i MQTT.pub til 'state'")
    assert "✅ «on» snur ved hvert trykk" in text


def test_oppgave1_capital_topic_is_rejected_with_case_advice():
    code = changed(oppgave1.solution(), "let topic = 'state';", "let topic = 'State';")
    failed_with(oppgave1.check(code), "på «State», ikke på «state»", "store og små bokstaver")


def test_oppgave1_not_toggling_on_is_rejected():
    code = changed(oppgave1.solution(), "state.on = !state.on;", "")
    failed_with(oppgave1.check(code), "«on» var false etter begge trykkene; den snur ikke", "state.on = !state.on")


def test_oppgave1_non_json_message_is_rejected():
    code = changed(oppgave1.solution(), "MQTT.pub(topic, message, 1)", "MQTT.pub(topic, 'trykk', 1)")
    failed_with(oppgave1.check(code), "Meldingen «trykk» er ikke JSON", "JSON.stringify(state)")


def test_oppgave1_invalid_mjs_is_reported_with_line_numbers():
    code = changed(oppgave1.solution(), "function() {\n  state.btnCount", "() => {\n  state.btnCount")
    line = _cell_line_of(code, "() => {")  # the cell's line, one below init.js's (the %%mjs line is 1)
    failed_with(oppgave1.check(code), "ikke gyldig mJS", f"linje {line} i cellen: mJS har ikke pilfunksjoner")


def test_oppgave1_endless_loop_is_stopped_and_explained():
    failed_with(oppgave1.check("load('api_gpio.js');\nwhile (true) {}\n"), "evig løkke", "Timer.set")


# -- Oppgave 2: subscribe and print -----------------------------------------------------------------

def test_oppgave2_solution_passes():
    report = oppgave2.check(oppgave2.solution())
    assert report.passed, report.text()


def test_oppgave2_starter_is_told_to_subscribe():
    failed_with(oppgave2.check(oppgave2.starter()), "abonnerer ikke på noe emne", "MQTT.sub('state'")


def test_oppgave2_wrong_topic_is_rejected():
    code = changed(oppgave2.solution(), "let topic = 'state';", "let topic = 'State';")
    failed_with(oppgave2.check(code), "abonnerer på «State», men ikke på «state»", "store og små bokstaver")


def test_oppgave2_subscribing_without_printing_is_rejected():
    code = changed(oppgave2.solution(), "print('Melding til', t + ':', msg);", "let x = msg;")
    failed_with(oppgave2.check(code), "fikk meldingen, men skrev ingenting i loggen", "print(")


def test_oppgave2_printing_something_else_is_rejected():
    code = changed(oppgave2.solution(), "print('Melding til', t + ':', msg);", "print('Fikk en melding');")
    failed_with(oppgave2.check(code), "skrev «Fikk en melding», men ikke selve meldingen")


def test_oppgave2_wildcard_subscription_passes_with_a_note():
    code = changed(oppgave2.solution(), "MQTT.sub(topic,", "MQTT.sub('#',")
    report = oppgave2.check(code)
    assert report.passed, report.text()
    assert "abonnerer på «#», som også fanger «state»" in report.text()


# -- Oppgave 3: the LED on GPIO 2 ------------------------------------------------------------------

def test_oppgave3_solution_passes():
    report = oppgave3.check(oppgave3.solution())
    assert report.passed, report.text()
    assert "LED-en på GPIO 2 tente" in report.text()


def test_oppgave3_starter_blinks_the_wrong_pin():
    failed_with(oppgave3.check(oppgave3.starter()), "Koden styrer GPIO 13, men LED-en din sitter på GPIO 2",
                "let led = 2;")


def test_oppgave3_missing_output_mode_is_rejected():
    code = changed(oppgave3.solution(), "GPIO.set_mode(led, GPIO.MODE_OUTPUT);", "")
    failed_with(oppgave3.check(code), "GPIO 2 er ikke satt opp som utgang", "GPIO.set_mode(2, GPIO.MODE_OUTPUT)")


def test_oppgave3_led_never_switched_on_is_rejected():
    code = changed(oppgave3.solution(), "GPIO.toggle(led);", "print('tikk');")
    failed_with(oppgave3.check(code), "GPIO 2 er en utgang, men den ble aldri slått på")


# -- Oppgave 4: the LED follows "on" ---------------------------------------------------------------

def test_oppgave4_solution_passes_and_survives_a_message_that_is_not_json():
    report = oppgave4.check(oppgave4.solution())
    assert report.passed, report.text()
    assert "«dette er ikke JSON» endret ikke LED-en, og kortet lyttet videre" in report.text()


def test_oppgave4_starter_never_lights_the_led():
    failed_with(oppgave4.check(oppgave4.starter()), "tente aldri", "JSON.parse")


def test_oppgave4_forgetting_json_parse_is_rejected():
    code = changed(oppgave4.solution(), "let state = JSON.parse(msg);", "let state = msg;")
    # Real mJS stops the callback: reading .on from a string is "type error" (mjs_exec.c, OP_GET).
    failed_with(oppgave4.check(code), "type error", "msg.on", "JSON.parse(msg)")


def test_oppgave4_inverted_led_is_rejected():
    code = changed(oppgave4.solution(), "GPIO.write(led, state.on);", "GPIO.write(led, !state.on);")
    failed_with(oppgave4.check(code), "gjør det motsatte av «on»", "ikke !state.on")


def test_oppgave4_toggling_instead_of_following_on_is_rejected():
    code = changed(oppgave4.solution(), "GPIO.write(led, state.on);", "GPIO.toggle(led);")
    failed_with(oppgave4.check(code), "koden snur LED-en i stedet for å bruke «on»", "ikke GPIO.toggle(led)")


def test_oppgave4_wrong_pin_is_rejected():
    code = changed(oppgave4.solution(), "let led = 2;", "let led = 13;")
    failed_with(oppgave4.check(code), "Kortet skrev til GPIO 13, men LED-en sitter på GPIO 2")


# -- Oppgave 5: publish from the cloud --------------------------------------------------------------

@pytest.fixture
def lys_board() -> boards.Running:
    """The learner's LED board, as after running the Oppgave 4 cell with the solution."""
    oppgave4.bruk_fasit()
    running = boards.get("oppgave4")
    assert running is not None
    assert wait_until(lambda: "state" in running.board.subscribed, 5)
    return running


def test_oppgave5_without_start_says_to_start(lys_board):
    failed_with(oppgave5.check(), "Du har ikke startet oppgaven ennå", "oppgave5.start()")


def test_oppgave5_solution_publish_passes(lys_board):
    oppgave5.start()
    mqtt.publish("state", {"on": True})
    report = oppgave5.check()
    assert report.passed, report.text()
    assert 'ble PÅ da meldingen {"on": true} kom' in report.text()
    assert lys_board.board.led(2)


def test_oppgave5_nothing_published_is_rejected(lys_board):
    oppgave5.start()
    failed_with(oppgave5.check(), "Det har ikke kommet noen melding på «state» fra skyen")


def test_oppgave5_wrong_topic_is_rejected(lys_board):
    oppgave5.start()
    mqtt.publish("State", {"on": True})
    failed_with(oppgave5.check(), "Du publiserte på «State», men lyskortet lytter på «state»", "store og små")
    assert not lys_board.board.led(2)


def test_oppgave5_message_that_is_not_json_is_rejected(lys_board):
    oppgave5.start()
    mqtt.publish("state", "på")
    failed_with(oppgave5.check(), "Meldingen «på» er ikke JSON")


def test_oppgave5_on_as_text_is_rejected(lys_board):
    oppgave5.start()
    mqtt.publish("state", {"on": "true"})
    failed_with(oppgave5.check(), "«on» er teksten \"true\"", "uten anførselstegn")


def test_oppgave5_a_button_press_is_not_the_cloud(lys_board):
    oppgave1.bruk_fasit()
    knapp = boards.get("oppgave1").board
    assert wait_until(lambda: knapp.connected, 5)
    oppgave5.start()
    knapp.click()
    assert wait_until(lambda: lys_board.board.led(2), 5)  # the press did switch the LED …
    failed_with(oppgave5.check(), "kom fra knappen på kortet «oppgave1», ikke fra skyen")  # … but not from the cloud


def test_oppgave5_bruk_fasit_switches_the_led_and_then_passes(lys_board, capsys):
    oppgave5.bruk_fasit()
    assert "Fasiten publiserte" in capsys.readouterr().out
    assert lys_board.board.led(2)
    report = oppgave5.check()
    assert report.passed, report.text()


# -- Oppgave 6: both boards together ----------------------------------------------------------------

def test_oppgave6_solutions_together_pass():
    report = oppgave6.check(knapp=oppgave1.solution(), lys=oppgave4.solution())
    assert report.passed, report.text()
    assert "LED-en på lyskortet fulgte hvert trykk: PÅ, AV, PÅ" in report.text()


def test_oppgave6_starters_together_are_rejected():
    failed_with(oppgave6.check(knapp=oppgave1.starter(), lys=oppgave4.starter()),
                "Knappekortet sender på «devices/esp32_", "men lyskortet lytter på «state»")


def test_oppgave6_button_board_that_does_not_toggle_is_rejected():
    knapp = changed(oppgave1.solution(), "state.on = !state.on;", "state.on = true;")
    failed_with(oppgave6.check(knapp=knapp, lys=oppgave4.solution()),
                "Knappekortet snur ikke «on»: den var true, true, true")


def test_oppgave6_inverted_led_board_is_rejected():
    lys = changed(oppgave4.solution(), "GPIO.write(led, state.on);", "GPIO.write(led, !state.on);")
    failed_with(oppgave6.check(knapp=oppgave1.solution(), lys=lys), "gjør det motsatte av «on»")


def test_oppgave6_without_saved_code_says_which_cells_to_run():
    failed_with(oppgave6.check(), "Fant ingen kode for Oppgave 1", "Fant ingen kode for Oppgave 4")


def test_oppgave6_bruk_fasit_runs_both_boards_side_by_side_and_a_press_lights_the_led(capsys):
    row = oppgave6.bruk_fasit()
    assert [p.board.app.name for p in row.panels] == ["knapp", "lys"]
    assert "kurs-kort-knapp" in row.panels[0].widget._dom_classes
    assert "kurs-kort-lys" in row.panels[1].widget._dom_classes
    knapp, lys = (p.board for p in row.panels)
    assert wait_until(lambda: knapp.connected and "state" in lys.subscribed, 5)
    knapp.click()
    assert wait_until(lambda: lys.led(2), 5)
    assert oppgave6.check().passed


# -- the workspace flow: %%mjs, sjekk(), hint(), fasit() -------------------------------------------

def test_magic_saves_runs_and_the_check_uses_the_saved_code(capsys):
    panel = run_cell("oppgave1", oppgave1.solution())
    out = capsys.readouterr().out
    assert "✅ Koden er gyldig mJS og lagret i" in out and "kjører koden din" in out
    assert panel is not None and panel.board.running
    assert workspace.read_code("oppgave1").strip() == oppgave1.solution().strip()
    assert "name: oppgave1" in (workspace.app_dir("oppgave1") / "mos.yml").read_text()
    oppgave1.sjekk()
    assert "🎉 Riktig! Oppgave 1 er løst." in capsys.readouterr().out


def test_magic_rerun_stops_the_previous_board_of_that_name():
    first = run_cell("oppgave2", oppgave2.starter())
    second = run_cell("oppgave2", oppgave2.solution())
    assert not first.board.running
    assert second.board.running and boards.get("oppgave2").board is second.board
    assert second.board.device_id == first.board.device_id  # the same board, with new code
    assert wait_until(lambda: "state" in second.board.subscribed, 5)


def test_magic_shows_checker_errors_in_norwegian_without_starting(capsys):
    panel = run_cell("oppgave3", "let x = 1;\nlet f = () => 2;\n")
    out = capsys.readouterr().out
    assert panel is None and boards.get("oppgave3") is None
    assert "ikke gyldig mJS ennå" in out and "linje 3 i cellen:" in out and "Traceback" not in out
    assert workspace.read_code("oppgave3") is not None  # the learner's work is saved anyway


def test_magic_reports_a_runtime_error_at_boot(capsys):
    # A name from Cfg.get has no type the checker knows; mJS's ffi refuses the string (mjs_ffi.c).
    run_cell("oppgave3", "load('api_config.js');\nload('api_gpio.js');\n"
                         "GPIO.set_mode(Cfg.get('device.id'), GPIO.MODE_OUTPUT);\n")
    out = capsys.readouterr().out
    assert "koden stoppet med en feil" in out and "is not an int" in out


def test_magic_bad_line_is_explained(capsys):
    assert run_cell("", "let x = 1;") is None
    assert run_cell("oppgave1 --app ukjent", "let x = 1;") is None
    out = capsys.readouterr().out
    assert "Cellen mangler et navn på kortet" in out and "Det finnes ingen grunnapp «ukjent»" in out


def test_magic_registers_in_ipython(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from kurs.exercises import load_ipython_extension

    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    shell.run_cell_magic("mjs", "oppgave3", oppgave3.solution())
    assert "kjører koden din" in capsys.readouterr().out
    assert boards.get("oppgave3") is not None


def test_sjekk_without_code_says_which_cell_to_run(capsys):
    oppgave4.sjekk()
    assert "Kjør %%mjs oppgave4-cellen i Oppgave 4 først" in capsys.readouterr().out


def test_bruk_fasit_keeps_the_learners_code(capsys):
    run_cell("oppgave4", oppgave4.starter())
    oppgave4.bruk_fasit()
    assert (workspace.app_dir("oppgave4") / workspace.BACKUP_NAME).read_text().strip() == oppgave4.starter().strip()
    assert "Koden din er tatt vare på i" in capsys.readouterr().out
    assert oppgave4.check().passed


def test_hints_come_one_at_a_time_and_fasit_folds_the_solution(capsys):
    oppgave2.hint()
    oppgave2.hint()
    out = capsys.readouterr().out
    assert "Hint 1 av 3" in out and "Hint 2 av 3" in out
    view = oppgave2.fasit()
    assert "<details" in view._repr_html_() and "MQTT.sub(topic" in view._repr_html_()
    assert "MQTT.sub(topic" in repr(view)


# -- feedback for the mistakes a learner in JupyterLab actually made ---------------------------------

def _cell_line_of(source: str, code: str) -> int:
    """The line in the learner's %%mjs cell (the magic is line 1) where ``code`` is."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if code in line) + 1


@pytest.mark.parametrize("exercise", [oppgave1, oppgave2, oppgave3, oppgave4], ids=lambda e: e.name)
def test_unchanged_starter_code_is_not_attempted_yet_rather_than_wrong(exercise):
    report = exercise.check(exercise.starter() + "\n\n")  # a re-run cell with a blank line is no attempt
    text = report.text()
    assert not report.passed and not report.attempted
    assert "ikke prøvd ennå" in text and "✅" not in text and "❌" not in text and "Ikke helt i mål" not in text


def test_oppgave4_writing_gpio_13_is_the_wrong_pin_not_a_missing_json_parse():
    lys = changed(oppgave4.solution(), "GPIO.write(led, state.on);", "GPIO.write(13, state.on);")
    text = failed_with(oppgave4.check(lys), "skriver til GPIO 13", "LED-en sitter på GPIO 2")
    assert "JSON.parse" not in text


def test_oppgave4_msg_on_is_explained_in_norwegian_at_the_cells_line():
    lys = changed(oppgave4.solution(), "GPIO.write(led, state.on);", "GPIO.write(led, msg.on);")
    line = _cell_line_of(lys, "GPIO.write(led, msg.on)")
    text = failed_with(oppgave4.check(lys), f"Linje {line} i cellen (GPIO.write(led, msg.on);)",
                       "msg er tekst", "JSON.parse(msg)")
    assert "is not defined" not in text and "init.js" not in text


def test_oppgave1_missing_json_stringify_is_explained_in_norwegian_at_the_cells_line():
    knapp = changed(oppgave1.solution(), "let message = JSON.stringify(state);", "let message = state;")
    line = _cell_line_of(knapp, "MQTT.pub(topic, message, 1)")
    text = failed_with(oppgave1.check(knapp), f"Linje {line} i cellen", "verdi nr. 2 til MQTT.pub er ikke tekst",
                       "JSON.stringify(state)")
    assert "is not defined" not in text and "init.js" not in text


def test_oppgave1_a_missing_load_names_the_api_file():
    knapp = changed(oppgave1.solution(), "load('api_mqtt.js');\n", "")
    failed_with(oppgave1.check(knapp), "«MQTT» finnes ikke", "load('api_mqtt.js')")


def test_oppgave6_without_toggling_is_never_a_mixed_message():
    knapp = changed(oppgave1.solution(), "  state.on = !state.on;                // snu on: false → true → false …\n", "")
    text = failed_with(oppgave6.check(knapp=knapp, lys=oppgave4.solution()),
                       "Knappekortet snur ikke «on»: den var false, false, false")
    assert "✅ LED-en" not in text and "fulgte hvert trykk" not in text


def test_oppgave5_nothing_published_yet_is_not_attempted(lys_board):
    oppgave5.start()
    report = oppgave5.check()
    assert not report.passed and not report.attempted and "ikke prøvd ennå" in report.text()


def test_notebook_04_does_not_solve_oppgave5_before_the_learner_publishes():
    from kurs.paths import NOTEBOOK_DIR

    source = (NOTEBOOK_DIR / "kilde" / "04-meldinger.py").read_text(encoding="utf-8")
    between = source[source.index("oppgave5.start()"):source.index("oppgave5.sjekk()")]
    code = [line for line in between.splitlines() if line and not line.startswith("#")]
    assert not any("publish" in line for line in code), code


def test_oppgave3_first_hint_quotes_a_line_the_starter_really_logs():
    import re

    quoted = re.search(r"«([^»]+)»", oppgave3.hints[0]).group(1).rstrip("…").strip()
    app = workspace.temporary_app("oppgave3", oppgave3.starter(), oppgave3.base_app)
    try:
        with boards.check_board(__import__("pathlib").Path(app.name), "hint") as board:
            board.start(timeout=boards.BOOT_TIMEOUT)
            assert wait_until(lambda: any(quoted in line.text for line in board.console.since(0)), 5), \
                str(board.console)
    finally:
        app.cleanup()


def test_checks_use_the_local_cloud_in_aws_mode(monkeypatch):
    # aws mode with no AWS keys at all: the check boards and the observer still meet in the local cloud.
    monkeypatch.setenv("KURS_MODUS", "aws")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    report = oppgave2.check(oppgave2.solution())
    assert report.passed, report.text()
