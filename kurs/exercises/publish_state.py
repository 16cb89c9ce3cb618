"""Oppgave 1: the button publishes the whole state as JSON on ``state``, toggling ``on`` each press."""

from __future__ import annotations

from pathlib import Path

from kurs.exercises import boards
from kurs.exercises.base import TOPIC, Exercise, boot, valid_mjs
from kurs.exercises.feedback import Report
from kurs.exercises.observe import NOT_JSON, Recorder, Seen, explain_error, js_errors, wait_until

PRESSES = 2
MESSAGE_WAIT = 2.0


class PublishState(Exercise):
    number = 1
    title = "Knappen sender tilstanden på «state»"
    base_app = "knapp"
    hints = (
        "Emnet er den første verdien du gir MQTT.pub. Hvilket emne står det i koden nå?",
        "Et emne er bare en tekst: let topic = 'state'; – store og små bokstaver teller.",
        "«on» skal snu ved hvert trykk. Operatoren ! gjør true til false og omvendt: state.on = !state.on;",
        "Hele tilstanden sendes som tekst med JSON.stringify(state), ikke som objektet selv.",
    )

    def _check(self, report: Report, app: Path, source: str) -> None:
        if not valid_mjs(report, source):
            return
        with Recorder() as recorder, boards.check_board(app, self.name) as board:
            if not boot(report, board):
                return
            per_press: list[list[Seen]] = []
            for _ in range(PRESSES):
                mark, console_mark = recorder.count(), board.console.mark()
                board.click()
                wait_until(lambda m=mark: recorder.count() > m, MESSAGE_WAIT)
                wait_until(lambda: False, 0.15)  # a press may publish more than one message
                per_press.append(recorder.since(mark))
                errors = js_errors(board, console_mark)
                if errors:
                    report.fail(*_pressed_error(errors[0], board))
                    return
            _judge(report, per_press)


def _judge(report: Report, per_press: list[list[Seen]]) -> None:
    if not any(per_press):
        report.fail("Et trykk på knappen sendte ingen melding.",
                    "Kaller knappefunksjonen MQTT.pub(emne, melding, 1)? Uten forbindelse venter meldingen i kø "
                    "og sendes når kortet er koblet til igjen.")
        return
    if not all(per_press):
        report.fail("Bare ett av to trykk sendte en melding.", "Send tilstanden ved hvert trykk, inne i knappefunksjonen.")
        return
    on_state = [[m for m in msgs if m.topic == TOPIC] for msgs in per_press]
    if all(on_state):
        report.ok(f"Hvert trykk sendte en melding på «{TOPIC}».")
        chosen = [msgs[0] for msgs in on_state]
    else:
        chosen = [msgs[0] for msgs in per_press]
        fix = f"Bytt emnet i MQTT.pub til '{TOPIC}'."
        if chosen[0].topic.strip().lower() == TOPIC:
            fix += " Emner skiller mellom store og små bokstaver, og mellomrom teller."
        report.fail(f"Et trykk sendte en melding på «{chosen[0].topic}», ikke på «{TOPIC}».", fix)
    states = [m.json() for m in chosen]
    bad = next((m for m, s in zip(chosen, states, strict=True) if s is NOT_JSON), None)
    if bad is not None:
        report.fail(f"Meldingen «{bad.text}» er ikke JSON.",
                    "Send hele tilstanden som JSON: MQTT.pub(topic, JSON.stringify(state), 1);")
        return
    if not all(isinstance(s, dict) for s in states):
        report.fail(f"Meldingen «{chosen[0].text}» er JSON, men ikke et objekt med on og btnCount.",
                    "Send hele tilstanden: JSON.stringify(state), der state = {on: false, btnCount: 0}.")
        return
    report.ok(f"Meldingen er tilstanden som JSON: {chosen[0].text}")
    _judge_on(report, [s.get("on") for s in states])
    _judge_count(report, [s.get("btnCount") for s in states])


def _judge_on(report: Report, values: list) -> None:
    if any(v is None for v in values):
        report.fail("Meldingen mangler «on».", "Ta med on i tilstanden: let state = {on: false, btnCount: 0};")
    elif not all(isinstance(v, bool) for v in values):
        report.fail(f"«on» skal være true eller false, men var {values[0]!r}.",
                    "Bruk en sannhetsverdi: state.on = !state.on;")
    elif values[0] == values[1]:
        shown = "true" if values[0] else "false"
        report.fail(f"«on» var {shown} etter begge trykkene; den snur ikke.",
                    "Snu den i knappefunksjonen, før du sender: state.on = !state.on;")
    else:
        shown = ", så ".join("true" if v else "false" for v in values)
        report.ok(f"«on» snur ved hvert trykk ({shown}).")


def _judge_count(report: Report, values: list) -> None:
    if any(v is None for v in values):
        report.fail("Meldingen mangler «btnCount».", "Ta med telleren i tilstanden: {on: false, btnCount: 0}.")
    elif not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        report.fail(f"«btnCount» skal være et tall, men var {values[0]!r}.",
                    "Tell opp med state.btnCount = state.btnCount + 1;")
    elif values[1] != values[0] + 1:
        report.fail(f"«btnCount» gikk fra {values[0]} til {values[1]}; den skal øke med 1 per trykk.",
                    "Tell opp én gang per trykk: state.btnCount = state.btnCount + 1;")
    else:
        report.ok(f"«btnCount» øker med 1 for hvert trykk ({values[0]}, {values[1]}).")


def _pressed_error(error: str, board) -> tuple[str, str]:  # noqa: ANN001 - a VirtualBoard
    text, fix = explain_error(error, board)
    return f"Knappefunksjonen stoppet med en feil. {text}", fix
