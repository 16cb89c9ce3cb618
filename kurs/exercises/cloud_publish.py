"""Oppgave 5: publish to ``state`` from the cloud side (the MQTT console, or ``kurs.mqtt.publish``)
and see the LED board switch.

Nothing to write in mJS here, so the check watches instead: ``oppgave5.start()`` begins
recording (every message on ordinary topics, the LED board's GPIO 2, and the buttons of every
course board), the learner publishes, and ``oppgave5.sjekk()`` looks for a message on ``state``
that no board's button sent and that switched the LED.
"""

from __future__ import annotations

import time
from typing import Any

from kurs.errors import CourseError
from kurs.exercises import boards, workspace
from kurs.exercises.base import TOPIC, Exercise, on_text
from kurs.exercises.feedback import CodeView, Report
from kurs.exercises.observe import NOT_JSON, PinTrace, Recorder, Seen, wait_until

LED = boards.LED_PIN
LED_BOARD = "oppgave4"
PRESS_WINDOW = 2.0   # a message this soon after a board's button press came from that board
FOLLOW_WINDOW = 2.0  # the LED follows a message within this
ARRIVAL_WAIT = 1.0

SOLUTION = '''import kurs

# Fra skyen, som «Publiser» i MQTT-konsollen: slå LED-en på …
kurs.mqtt.publish("state", {"on": True})

# … og av igjen.
kurs.mqtt.publish("state", {"on": False})
'''


class Recording:
    """What happened since ``oppgave5.start()``."""

    def __init__(self, name: str, board: Any) -> None:
        self.name = name
        self.board = board
        self.recorder = Recorder()
        self.led = PinTrace(board)
        self.presses: list[tuple[float, str]] = []
        self._stops = [self._watch_button(r.name, r.board) for r in boards.all_running()]

    def _watch_button(self, name: str, board: Any) -> Any:
        button = board.config_get("board.btn1.pin")

        def changed(pin: int, level: int) -> None:
            if pin == button:
                self.presses.append((time.monotonic(), name))

        return board.on_pin_change(changed)

    def from_board(self, message: Seen) -> str | None:
        """The board whose button press sent ``message``, if one did."""
        for at, name in self.presses:
            if 0 <= message.at - at <= PRESS_WINDOW:
                return name
        return None

    def close(self) -> None:
        self.recorder.close()
        self.led.close()
        for stop in self._stops:
            stop()


class CloudPublish(Exercise):
    number = 5
    title = "En melding fra skyen slår LED-en av og på"
    hints = (
        "Kjør oppgave5.start() først; den følger med på lyskortet og emnet «state».",
        "I MQTT-konsollen: skriv «state» i Emne-feltet og {\"on\": true} i Melding-feltet, og trykk Publiser.",
        "Meldingen må være JSON med «on» som true eller false (uten anførselstegn rundt true).",
        "Fra Python gjør kurs.mqtt.publish(\"state\", {\"on\": True}) det samme som konsollen.",
    )

    def __init__(self) -> None:
        super().__init__()
        self._recording: Recording | None = None

    def starter(self) -> str:
        return ""

    def solution(self) -> str:
        return SOLUTION

    def fasit(self) -> CodeView:
        return CodeView("Fasit for Oppgave 5 (fra skyen til LED-en)", SOLUTION, language="python",
                        note="I MQTT-konsollen: Emne «state», Melding {\"on\": true}, trykk Publiser.")

    # -- recording -------------------------------------------------------------------------------
    def start(self, kort: str | Any = LED_BOARD) -> Any:
        """Begin watching the LED board (a ``%%mjs`` name or a board) and the topic ``state``."""
        boards.ensure_cloud()
        if isinstance(kort, str):
            running = boards.get(kort)
            if running is None:
                if workspace.read_code(kort) is None:
                    raise CourseError(f"Lyskortet «{kort}» kjører ikke, og det finnes ingen kode for det.",
                                      "Kjør %%mjs oppgave4-cellen (eller oppgave4.bruk_fasit()) først.")
                running = boards.run(kort)
            name, board, shown = kort, running.board, running.panel
        else:
            name, board, shown = str(getattr(kort, "device_id", "kortet")), kort, None
        self.stop()
        self._recording = Recording(name, board)
        print(f"Følger med på emnet «{TOPIC}» og LED-en på GPIO {LED} på kortet «{name}».")
        print("Publiser en melding på «state» fra skyen, og kjør så oppgave5.sjekk().")
        return shown

    def konsoll(self) -> Any:
        """The MQTT console for this exercise: on «state» in the local cloud, where the LED board runs."""
        from kurs.widgets import MqttConsole

        return MqttConsole(TOPIC, mode="lokal")

    def stop(self) -> None:
        if self._recording is not None:
            self._recording.close()
            self._recording = None

    def bruk_fasit(self) -> None:
        """Publish from the cloud side for you, so you see the LED switch."""
        from kurs import mqtt

        if self._recording is None or not self._recording.board.running:
            self.start()
        board = self._recording.board
        wanted = not board.led(LED)
        mqtt.publish(TOPIC, {"on": wanted}, mode="lokal")  # the exercise boards run in the local cloud
        wait_until(lambda: board.led(LED) == wanted, FOLLOW_WINDOW)
        payload = '{"on": true}' if wanted else '{"on": false}'
        print(f"Fasiten publiserte {payload} på «{TOPIC}» fra skyen, slik MQTT-konsollen gjør.")
        print(f"LED-en på kortet «{self._recording.name}» er nå {on_text(board.led(LED))}.")
        from IPython.display import display

        display(self.fasit())

    # -- the check -------------------------------------------------------------------------------
    def check(self, source: str | None = None) -> Report:
        report = Report(self.number, self.title)
        rec = self._recording
        if rec is None:
            report.not_attempted("Du har ikke startet oppgaven ennå.",
                                 "Kjør oppgave5.start(), publiser en melding på «state», og kjør oppgave5.sjekk() "
                                 "igjen.")
            return report
        if not rec.board.running:
            report.fail(f"Lyskortet «{rec.name}» er slått av eller startet på nytt etter oppgave5.start().",
                        "Kjør oppgave5.start() på nytt, og publiser igjen.")
            return report
        # A message published just before sjekk() may still be on its way to us.
        wait_until(lambda: rec.recorder.count() > 0, ARRIVAL_WAIT)
        wait_until(lambda: False, 0.2)
        messages = rec.recorder.snapshot()
        cloud = [m for m in messages if rec.from_board(m) is None]
        on_state = [m for m in cloud if m.topic == TOPIC]
        if not on_state:
            _nothing_on_state(report, rec, messages, cloud)
            return report
        report.ok(f"Du publiserte på «{TOPIC}» fra skyen: {on_state[-1].text}")
        valid = [(m, m.json()["on"]) for m in on_state if _on_value(m) is not None]
        if not valid:
            _bad_payload(report, on_state[-1])
            return report
        last, last_on = valid[-1]
        wait_until(lambda: rec.board.led(LED) == last_on, FOLLOW_WINDOW)
        for message, on in reversed(valid):
            if _switched(rec.led, message, on):
                report.ok(f"LED-en på kortet «{rec.name}» ble {on_text(on)} da meldingen {message.text} kom.")
                return report
        if rec.board.led(LED) == last_on:
            other = '{"on": false}' if last_on else '{"on": true}'
            report.fail(f"LED-en var allerede {on_text(last_on)} da du sendte {last.text}, så den skiftet ikke.",
                        f"Send {other} også, se LED-en skifte, og sjekk igjen.")
        else:
            report.fail(f"LED-en på kortet «{rec.name}» fulgte ikke meldingen {last.text}.",
                        "Sjekk lyskortets kode med oppgave4.sjekk(), eller kjør oppgave4.bruk_fasit() "
                        "og så oppgave5.start() på nytt.")
        return report


def _on_value(message: Seen) -> bool | None:
    data = message.json()
    if isinstance(data, dict) and isinstance(data.get("on"), bool):
        return data["on"]
    return None


def _switched(trace: PinTrace, message: Seen, on: bool) -> bool:
    return any(message.at - 0.5 <= t <= message.at + FOLLOW_WINDOW and bool(level) == on
               for t, level in trace.of(LED))


def _nothing_on_state(report: Report, rec: Recording, messages: list[Seen], cloud: list[Seen]) -> None:
    elsewhere = [m for m in cloud if m.topic != TOPIC]
    from_boards = [m for m in messages if m.topic == TOPIC and rec.from_board(m) is not None]
    if elsewhere:
        fix = f"Skriv «{TOPIC}» i Emne-feltet i MQTT-konsollen (eller kurs.mqtt.publish(\"{TOPIC}\", …))."
        if elsewhere[-1].topic.strip().lower() == TOPIC:
            fix += " Emner skiller mellom store og små bokstaver, og mellomrom teller."
        report.fail(f"Du publiserte på «{elsewhere[-1].topic}», men lyskortet lytter på «{TOPIC}».", fix)
    elif from_boards:
        report.fail(f"Meldingene på «{TOPIC}» kom fra knappen på kortet «{rec.from_board(from_boards[-1])}», "
                    "ikke fra skyen.",
                    "Publiser selv: bruk MQTT-konsollen, eller kurs.mqtt.publish(\"state\", {\"on\": True}).")
    else:
        report.not_attempted(f"Det har ikke kommet noen melding på «{TOPIC}» fra skyen siden oppgave5.start().",
                             "Skriv {\"on\": true} i MQTT-konsollen og trykk Publiser (eller bruk "
                             "kurs.mqtt.publish), og sjekk igjen.")


def _bad_payload(report: Report, message: Seen) -> None:
    data = message.json()
    if data is NOT_JSON:
        report.fail(f"Meldingen «{message.text}» er ikke JSON, så lyskortet kan ikke lese «on».",
                    "Skriv {\"on\": true} – med anførselstegn rundt on, men ikke rundt true.")
    elif isinstance(data, dict) and isinstance(data.get("on"), str):
        report.fail(f"«on» er teksten \"{data['on']}\", ikke sannhetsverdien true eller false.",
                    "Skriv {\"on\": true} uten anførselstegn rundt true.")
    else:
        report.fail(f"Meldingen {message.text} har ikke «on» med true eller false.",
                    "Skriv {\"on\": true} eller {\"on\": false}.")
