"""Oppgave 2: subscribe to ``state`` with ``MQTT.sub`` and print every message to the log."""

from __future__ import annotations

from pathlib import Path

from kurs.exercises import boards
from kurs.exercises.base import TOPIC, Exercise, boot, subscribes_to_state, valid_mjs
from kurs.exercises.feedback import Report
from kurs.exercises.observe import Recorder, explain_error, js_errors, printed_lines, wait_until

# Two different messages, each with words a learner's print() will carry into the log.
MESSAGES = ('{"on":true,"btnCount":7,"hilsen":"hei fra sjekken nr 1"}',
            '{"on":false,"btnCount":8,"hilsen":"hei fra sjekken nr 2"}')
MARKERS = ("hei fra sjekken nr 1", "hei fra sjekken nr 2")
PRINT_WAIT = 2.0


class SubscribePrint(Exercise):
    number = 2
    title = "Kortet lytter på «state» og skriver meldingene i loggen"
    base_app = "lys"
    hints = (
        "MQTT.sub tar tre ting: emnet, en funksjon som kalles for hver melding, og userdata (null).",
        "Funksjonen får (conn, topic, msg); msg er meldingen som tekst.",
        "Inne i funksjonen skriver print(...) til loggen: print('Melding:', msg);",
    )

    def _check(self, report: Report, app: Path, source: str) -> None:
        if not valid_mjs(report, source):
            return
        with Recorder() as cloud, boards.check_board(app, self.name) as board:
            if not boot(report, board) or not subscribes_to_state(report, board):
                return
            seen = []
            for message, marker in zip(MESSAGES, MARKERS, strict=True):
                mark = board.console.mark()
                cloud.publish(TOPIC, message)
                found = wait_until(lambda m=mark, k=marker: any(k in line for line in printed_lines(board, m)),
                                   PRINT_WAIT)
                seen.append((found, mark))
            _judge(report, board, seen)


def _judge(report: Report, board, seen: list[tuple[bool, int]]) -> None:  # noqa: ANN001 - a VirtualBoard
    if all(found for found, _ in seen):
        report.ok("Begge meldingene sjekken sendte på «state», kom i loggen.")
        return
    first_mark = seen[0][1]
    errors = js_errors(board, first_mark)
    if errors:
        text, fix = explain_error(errors[0], board)
        report.fail(f"Funksjonen du ga MQTT.sub, stoppet med en feil. {text}",
                    f"{fix} Skriv gjerne ut meldingen som den er (print(msg)) før du gjør noe annet med den.")
        return
    if seen[0][0]:
        report.fail("Bare den første meldingen kom i loggen, ikke den neste.",
                    "Skriv ut hver melding i funksjonen du ga MQTT.sub, ikke bare én gang.")
        return
    printed = printed_lines(board, first_mark)
    if printed:
        report.fail(f"Kortet fikk meldingen og skrev «{printed[0]}», men ikke selve meldingen.",
                    "Ta med meldingen når du skriver: print('Melding:', msg);")
    else:
        report.fail("Kortet fikk meldingen, men skrev ingenting i loggen.",
                    "Skriv den ut i funksjonen du ga MQTT.sub: print('Melding:', msg);")
