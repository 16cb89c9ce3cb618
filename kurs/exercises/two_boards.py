"""Oppgave 6: the button board (your Oppgave 1 code) and the LED board (your Oppgave 4 code)
together: a press on one toggles the LED on the other, through the broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.exercises import boards, workspace
from kurs.exercises.base import (
    SUBSCRIBE_WAIT,
    Exercise,
    boot,
    code_file,
    matching,
    on_text,
    valid_mjs,
)
from kurs.exercises.feedback import CodeView, Report
from kurs.exercises.observe import PinTrace, Recorder, explain_error, js_errors, wait_until

LED = boards.LED_PIN
PRESSES = 3
MESSAGE_WAIT = 2.0
FOLLOW_WAIT = 2.0
SETTLE = 0.3
KNAPP, LYS = "knapp", "lys"  # the workspace apps (and board panel roles) of the two boards


class PanelRow:
    """Board panels side by side, with a plain-text form that does not change from run to run."""

    def __init__(self, panels: list[Any]) -> None:
        import ipywidgets as w

        self.panels = panels
        for panel in panels:  # two fit side by side in a notebook; a narrow window puts one under the other
            panel.widget.layout.width = f"calc({100 // len(panels)}% - 8px)"
            panel.widget.layout.min_width = "360px"
        self.widget = w.HBox([p.widget for p in panels], layout=w.Layout(flex_flow="row wrap", grid_gap="8px",
                                                                         width="100%"))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        names = " og ".join(f"{getattr(p.board.app, 'name', '?')} ({p.board.device_id})" for p in self.panels)
        data["text/plain"] = f"Kortpaneler side om side: {names}"
        return data


class TwoBoards(Exercise):
    number = 6
    title = "Knappen på det ene kortet styrer LED-en på det andre"
    hints = (
        "Oppgave 6 bruker koden din fra Oppgave 1 (knappekortet) og Oppgave 4 (lyskortet). Sjekk dem "
        "hver for seg først: oppgave1.sjekk() og oppgave4.sjekk().",
        "Begge kortene må bruke samme emne: knappekortet publiserer på 'state', lyskortet abonnerer på 'state'.",
        "LED-en skifter bare hvis «on» skifter: knappekortet må snu on ved hvert trykk.",
    )

    def starter(self) -> str:
        return code_file("oppgave1-start.js")

    def solution(self) -> str:
        return code_file("oppgave1-fasit.js")

    def fasit(self) -> CodeView:
        code = ("// Knappekortet (Oppgave 1)\n" + code_file("oppgave1-fasit.js")
                + "\n\n// Lyskortet (Oppgave 4)\n" + code_file("oppgave4-fasit.js"))
        return CodeView("Fasit for Oppgave 6 (knappekortet og lyskortet)", code,
                        note="Oppgave 6 trenger ingen ny kode: den kjører fasitene for Oppgave 1 og 4 sammen.")

    # -- running both boards -----------------------------------------------------------------------
    def start(self) -> PanelRow:
        """Run your Oppgave 1 code as the button board and your Oppgave 4 code as the LED board."""
        knapp_code, lys_code = workspace.read_code("oppgave1"), workspace.read_code("oppgave4")
        missing = [n for n, code in (("Oppgave 1", knapp_code), ("Oppgave 4", lys_code)) if code is None]
        if missing:
            raise CourseError(f"Fant ingen kode for {' og '.join(missing)}.",
                              "Kjør %%mjs-cellene i de oppgavene først (eller bruk fasiten der).")
        workspace.save(KNAPP, knapp_code, "knapp")
        workspace.save(LYS, lys_code, "lys")
        knapp = boards.run(KNAPP, role=KNAPP)
        lys = boards.run(LYS, role=LYS, colour="gul")
        wait_until(lambda: knapp.board.connected and lys.board.connected, 5.0)
        print(f"Knappekortet kjører koden fra Oppgave 1 ({workspace.shown(workspace.app_dir('oppgave1'))}), "
              f"lyskortet koden fra Oppgave 4 ({workspace.shown(workspace.app_dir('oppgave4'))}).")
        print("Trykk på knappen på knappekortet og se LED-en på lyskortet.")
        return PanelRow([knapp.panel, lys.panel])

    def bruk_fasit(self) -> PanelRow:
        """Put the solutions of Oppgave 1 and 4 in your workspace and run both boards."""
        for name, code_name, base in (("oppgave1", "oppgave1-fasit.js", "knapp"), ("oppgave4", "oppgave4-fasit.js", "lys")):
            solution = code_file(code_name)
            kept = workspace.keep_learners_code(name, solution)
            workspace.save(name, solution, base)
            if kept is not None:
                print(f"Koden din i {name} er tatt vare på i {workspace.shown(kept)}.")
        print("Fasitene for Oppgave 1 og 4 er lagret.")
        return self.start()

    # -- the check ---------------------------------------------------------------------------------
    def check(self, source: str | None = None, *, knapp: str | None = None, lys: str | None = None) -> Report:
        """Check the two boards together (by default with your Oppgave 1 and Oppgave 4 code)."""
        report = Report(self.number, self.title)
        boards.ensure_cloud()
        knapp = knapp if knapp is not None else (source if source is not None else workspace.read_code("oppgave1"))
        lys = lys if lys is not None else workspace.read_code("oppgave4")
        for code, exercise in ((knapp, 1), (lys, 4)):
            if code is None:
                report.fail(f"Fant ingen kode for Oppgave {exercise}.",
                            f"Kjør %%mjs oppgave{exercise}-cellen (eller oppgave{exercise}.bruk_fasit()) først.")
        if knapp is None or lys is None:
            return report
        ok_knapp = valid_mjs(report, knapp, "Knappekortets kode (Oppgave 1)")
        ok_lys = valid_mjs(report, lys, "Lyskortets kode (Oppgave 4)")
        if not (ok_knapp and ok_lys):
            return report
        knapp_app = workspace.temporary_app(KNAPP, knapp, "knapp")
        lys_app = workspace.temporary_app(LYS, lys, "lys")
        try:
            self._check_pair(report, Path(knapp_app.name), Path(lys_app.name))
        finally:
            knapp_app.cleanup()
            lys_app.cleanup()
        return report

    def _check_pair(self, report: Report, knapp_app: Path, lys_app: Path) -> None:
        with Recorder() as cloud, boards.check_board(lys_app, "oppgave6-lys") as lys, \
                boards.check_board(knapp_app, "oppgave6-knapp") as knapp:
            trace = PinTrace(lys)
            try:
                if not boot(report, lys, "Lyskortet") or not boot(report, knapp, "Knappekortet"):
                    return
                wait_until(lambda: lys.subscribed, SUBSCRIBE_WAIT)
                subs = lys.subscribed
                if not subs:
                    report.fail("Lyskortet abonnerer ikke på noe emne, så det får ingen meldinger.",
                                "Se Oppgave 2 og 4: MQTT.sub('state', …). oppgave4.sjekk() sier mer.")
                    return
                results: list[tuple[Any, bool]] = []
                for i in range(PRESSES):
                    mark, console_mark, pin_mark = cloud.count(), knapp.console.mark(), trace.mark()
                    knapp.click()
                    if not wait_until(lambda m=mark: cloud.count() > m, MESSAGE_WAIT):
                        errors = js_errors(knapp, console_mark)
                        said = f" {explain_error(errors[0], knapp)[0]}" if errors else ""
                        report.fail(f"Et trykk på knappekortet sendte ingen melding.{said}",
                                    "Se Oppgave 1; oppgave1.sjekk() sier mer.")
                        return
                    message = cloud.since(mark)[0]
                    if i == 0 and not matching(subs, message.topic):
                        listed = ", ".join(f"«{s}»" for s in sorted(subs))
                        report.fail(f"Knappekortet sender på «{message.topic}», men lyskortet lytter på {listed}.",
                                    "Bruk samme emne på begge kortene: 'state'.")
                        return
                    data = message.json()
                    on = data.get("on") if isinstance(data, dict) else None
                    if isinstance(on, bool) and lys.led(LED) != on:
                        # The LED should change now; wait for it to (or for the time to run out).
                        wait_until(lambda p=pin_mark: trace.of(LED, p), FOLLOW_WAIT)
                    else:
                        wait_until(lambda: False, SETTLE)  # it should not change: watch a moment
                    results.append((on, lys.led(LED)))
                report.ok(f"Knappekortet sender på «{message.topic}», og lyskortet lytter der.")
                _judge(report, results, bool(trace.of(LED)))
            finally:
                trace.close()


def _judge(report: Report, results: list[tuple[Any, bool]], led_changed: bool) -> None:
    ons = [on for on, _ in results]
    leds = [led for _, led in results]
    if not all(isinstance(on, bool) for on in ons):
        report.fail(f"Knappekortets meldinger har ikke «on» som true eller false (on var {ons[0]!r}).",
                    "Se Oppgave 1: send hele tilstanden som JSON. oppgave1.sjekk() sier mer.")
        return
    if all(ons[i] != ons[i + 1] for i in range(len(ons) - 1)):
        report.ok("Knappekortet snur «on» ved hvert trykk (" + ", ".join(str(o).lower() for o in ons) + ").")
    else:
        report.fail("Knappekortet snur ikke «on»: den var " + ", ".join(str(o).lower() for o in ons)
                    + ", så LED-en blir stående.",
                    "Snu on ved hvert trykk i knappekortet (Oppgave 1): state.on = !state.on;")
        # A LED that "follows" a value that never changes proves nothing: no ✅ for it.
        if leds == ons:
            report.note("Lyskortet viste det meldingene sa (" + ", ".join(on_text(x) for x in leds)
                        + "); det er knappekortet som må snu «on».")
        return
    if leds == ons:
        report.ok("LED-en på lyskortet fulgte hvert trykk: " + ", ".join(on_text(x) for x in leds) + ".")
    elif leds == [not on for on in ons]:
        report.fail("LED-en på lyskortet gjør det motsatte av «on» i meldingene fra knappekortet.",
                    "Se Oppgave 4: GPIO.write(led, state.on), ikke !state.on.")
    elif not led_changed:
        report.fail("LED-en på lyskortet reagerte ikke på meldingene fra knappekortet.",
                    "Se Oppgave 4; oppgave4.sjekk() sier mer.")
    else:
        report.fail("LED-en fulgte ikke trykkene: den skulle vært " + ", ".join(on_text(o) for o in ons)
                    + ", men var " + ", ".join(on_text(x) for x in leds) + ".",
                    "Se Oppgave 4; oppgave4.sjekk() sier mer.")
