"""Oppgave 3: the LED is wired to GPIO 2, so the code drives GPIO 2 (an output) and lights it."""

from __future__ import annotations

from pathlib import Path

from kurs.exercises import boards
from kurs.exercises.base import Exercise, boot, valid_mjs
from kurs.exercises.feedback import Report
from kurs.exercises.observe import PinTrace, pin_mode, wait_until

LED = boards.LED_PIN
LIGHT_WAIT = 2.5  # the starter blinks every 0.5 s; a slower blink still lights within this
MODE_OUTPUT = 1


class LedPin(Exercise):
    number = 3
    title = "LED-en på GPIO 2"
    base_app = "start"
    hints = (
        "LED-en din sitter på GPIO 2. Hvilken pinne blinker koden nå? Se i loggen til kortet: «LED-en blinker, GPIO …».",
        "Cfg.get('board.led1.pin') er den innebygde LED-en i konfigurasjonen, ikke din. Skriv tallet selv.",
        "let led = 2; – og la GPIO.set_mode(led, GPIO.MODE_OUTPUT) stå, så pinnen blir en utgang.",
    )

    def _check(self, report: Report, app: Path, source: str) -> None:
        if not valid_mjs(report, source):
            return
        with boards.check_board(app, self.name) as board:
            trace = PinTrace(board)
            try:
                if not boot(report, board):
                    return
                lit = wait_until(lambda: any(level for _, level in trace.of(LED)) or board.led(LED), LIGHT_WAIT)
                _judge(report, board, trace, lit)
            finally:
                trace.close()


def _judge(report: Report, board, trace: PinTrace, lit: bool) -> None:  # noqa: ANN001 - a VirtualBoard
    if lit:
        report.ok(f"LED-en på GPIO {LED} tente.")
        if wait_until(lambda: any(not level for _, level in trace.of(LED)), 1.0):
            report.ok(f"Den blinker: GPIO {LED} går av og på.")
        return
    others = sorted(p for p in trace.pins() if p not in (LED, board.config_get("board.btn1.pin")))
    state = pin_mode(board, LED)
    if others:
        pins = ", ".join(f"GPIO {p}" for p in others)
        report.fail(f"Koden styrer {pins}, men LED-en din sitter på GPIO {LED}.",
                    f"Sett LED-pinnen til {LED}: let led = {LED};")
    elif state is not None and state[0] != MODE_OUTPUT:
        report.fail(f"GPIO {LED} er ikke satt opp som utgang, så LED-en kan ikke lyse.",
                    f"Gjør den til en utgang før du skriver til den: GPIO.set_mode({LED}, GPIO.MODE_OUTPUT);")
    else:
        report.fail(f"GPIO {LED} er en utgang, men den ble aldri slått på, så LED-en tente ikke.",
                    f"Slå den på med GPIO.write({LED}, 1), eller blink den med GPIO.toggle({LED}) i en timer.")
