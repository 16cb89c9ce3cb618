"""Oppgave 4: the LED on GPIO 2 follows ``on`` in each JSON message on ``state``; a message that
is not JSON leaves the LED alone and the board running."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kurs.exercises import boards
from kurs.exercises.base import TOPIC, Exercise, boot, on_text, subscribes_to_state, valid_mjs
from kurs.exercises.feedback import Report
from kurs.exercises.js_advice import board_source
from kurs.exercises.observe import PinTrace, Recorder, explain_error, js_errors, pin_mode, wait_until

LED = boards.LED_PIN
FOLLOW_WAIT = 1.5   # how long the LED may take to follow a message
SETTLE = 0.4        # how long we watch that a message changes nothing
MODE_OUTPUT = 1
NOT_JSON_MESSAGE = "dette er ikke JSON"


@dataclass
class Step:
    message: str
    expected: bool      # what the LED should show afterwards
    changes: bool       # should it change, or stay as it was?
    seen: bool = False  # what it showed
    flips: int = 0      # how many times pin 2 changed after this message


STEPS = (
    ('{"on": true}', True, True),
    ('{"on": false}', False, True),
    ('{"on": true}', True, True),
    ('{"on": true}', True, False),          # the same again: the LED stays on
    (NOT_JSON_MESSAGE, True, False),        # not JSON: nothing changes, nobody crashes
    ('{"on": false}', False, True),         # and the board still listens
)


class LedFromState(Exercise):
    number = 4
    title = "LED-en følger «on» i meldingene"
    base_app = "lys"
    hints = (
        "Meldingen kommer som tekst. JSON.parse(msg) gjør den om til et objekt, så du kan lese .on.",
        "let state = JSON.parse(msg); gir state.on, som er true eller false.",
        "GPIO.write(led, state.on) slår LED-en på for true og av for false.",
        "Snu ikke LED-en (GPIO.toggle) for hver melding: bruk verdien i «on», så blir to like meldinger "
        "til samme LED-tilstand.",
    )

    def _check(self, report: Report, app: Path, source: str) -> None:
        if not valid_mjs(report, source):
            return
        with Recorder() as cloud, boards.check_board(app, self.name) as board:
            trace = PinTrace(board)
            try:
                if not boot(report, board) or not subscribes_to_state(report, board):
                    return
                start_mark = board.console.mark()
                steps = [Step(*s) for s in STEPS]
                marks = []
                for i, step in enumerate(steps):
                    if i == 3 and not trace.of(LED):
                        break  # the LED never moved: the rest would only take longer
                    marks.append(trace.mark())
                    cloud.publish(TOPIC, step.message)
                    # Wait for GPIO 2 to change (right code always changes it at these steps), or
                    # watch a while that it does not.
                    if step.changes:
                        wait_until(lambda m=marks[-1]: trace.of(LED, m), FOLLOW_WAIT)
                    else:
                        wait_until(lambda: False, SETTLE)
                    step.seen = board.led(LED)
                    step.flips = len(trace.of(LED, marks[-1]))
                wait_until(lambda: False, SETTLE / 2)  # late flips after the last message count too
                steps[len(marks) - 1].flips = len(trace.of(LED, marks[-1]))
                _judge(report, board, trace, steps, start_mark)
            finally:
                trace.close()


def _judge(report: Report, board, trace: PinTrace, steps: list[Step], start_mark: int) -> None:  # noqa: ANN001
    first = steps[:3]
    if all(s.seen == s.expected for s in first):
        report.ok('LED-en tente for {"on": true} og slukket for {"on": false}.')
    elif all(s.seen != s.expected for s in first):
        report.fail('LED-en gjør det motsatte av «on»: den var AV for {"on": true} og PÅ for {"on": false}.',
                    "Skriv verdien som den er: GPIO.write(led, state.on), ikke !state.on.")
        return
    elif not trace.of(LED):
        _never_changed(report, board, trace, start_mark)
        return
    else:
        seen = ", ".join(on_text(s.seen) for s in first)
        report.fail(f'LED-en fulgte ikke «on»: for true, false, true skulle den vært PÅ, AV, PÅ, men var {seen}.',
                    "Skriv «on» fra meldingen til LED-en: GPIO.write(led, state.on);")
        return
    again, not_json, last = steps[3], steps[4], steps[5]
    if again.flips or not again.seen:
        report.fail('LED-en slukket da {"on": true} kom en gang til: koden snur LED-en i stedet for å bruke «on».',
                    "Bruk verdien i meldingen: GPIO.write(led, state.on), ikke GPIO.toggle(led).")
        return
    report.ok('To like meldinger gir samme LED-tilstand (den snur ikke).')
    if not board.running:
        report.fail(f"Kortet stoppet etter meldingen «{NOT_JSON_MESSAGE}».",
                    "En melding som ikke er JSON, må ikke stoppe kortet.")
    elif not_json.flips:
        report.fail(f"Meldingen «{NOT_JSON_MESSAGE}» (ikke JSON) endret LED-en.",
                    "Bare gyldig JSON med «on» skal styre LED-en; les «on» fra JSON.parse(msg).")
    elif last.seen != last.expected:
        report.fail(f"Etter meldingen «{NOT_JSON_MESSAGE}» reagerte ikke kortet på neste melding.",
                    "Kortet må tåle en melding som ikke er JSON og fortsette å lytte.")
    elif last.flips > 1:
        report.fail("LED-en skiftet flere ganger enn meldingene tilsa.",
                    "Skriv «on» til LED-en én gang per melding: GPIO.write(led, state.on);")
    else:
        report.ok(f"Meldingen «{NOT_JSON_MESSAGE}» endret ikke LED-en, og kortet lyttet videre.")
        if any("invalid JSON" in e for e in js_errors(board, start_mark)):
            report.note("Loggen viser «MJS callback error: invalid JSON string» for den meldingen. Det er "
                        "JSON.parse som gir opp; et ekte kort gjør det samme og kjører videre.")


def _never_changed(report: Report, board, trace: PinTrace, start_mark: int) -> None:  # noqa: ANN001
    others = sorted(p for p in trace.pins() if p not in (LED, board.config_get("board.btn1.pin")))
    state = pin_mode(board, LED)
    errors = [e for e in js_errors(board, start_mark) if "invalid JSON" not in e]
    written = _literal_pins_written(board_source(board) or "") - {LED}
    if errors:
        text, fix = explain_error(errors[0], board)
        report.fail(f"Funksjonen du ga MQTT.sub, stoppet med en feil. {text}", fix)
    elif written:
        pins = ", ".join(f"GPIO {p}" for p in sorted(written))
        report.fail(f"Koden skriver til {pins} med GPIO.write, men LED-en sitter på GPIO {LED}.",
                    f"Skriv til LED-pinnen: GPIO.write(led, state.on); med let led = {LED}; øverst.")
    elif others:
        pins = ", ".join(f"GPIO {p}" for p in others)
        report.fail(f"Kortet skrev til {pins}, men LED-en sitter på GPIO {LED}.",
                    f"Skriv til GPIO {LED}: let led = {LED};")
    elif state is not None and state[0] != MODE_OUTPUT:
        report.fail(f"GPIO {LED} er ikke satt opp som utgang, så LED-en kan ikke lyse.",
                    f"Legg til GPIO.set_mode({LED}, GPIO.MODE_OUTPUT); øverst i koden.")
    else:
        report.fail(f'LED-en på GPIO {LED} tente aldri, heller ikke for {{"on": true}}.',
                    "Les «on» fra meldingen og skriv den til LED-en. Meldingen kommer som tekst, så msg.on "
                    "finnes ikke: gjør den om med JSON.parse først: let state = JSON.parse(msg); "
                    "GPIO.write(led, state.on);")



def _literal_pins_written(source: str) -> set[int]:
    """Pins named by number in ``GPIO.write(13, …)``: a write to a pin that is no output changes nothing
    the pin trace sees, so the source is where such a mistake shows."""
    return {int(pin) for pin in re.findall(r"GPIO\.write\(\s*(\d+)\s*,", source)}
