"""What every exercise object offers a learner: ``sjekk()``, ``hint()``, ``fasit()``, ``bruk_fasit()``.

The English ``check()`` does the work and returns a :class:`Report` (tests use it); ``sjekk()``
prints that report. Starter code and solutions are ``.js`` files in ``kurs/exercises/kode/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paho.mqtt.client import topic_matches_sub

from kurs.errors import CourseError
from kurs.exercises import boards, workspace
from kurs.exercises.feedback import CodeView, Report
from kurs.exercises.js_advice import CELL_OFFSET
from kurs.exercises.observe import explain_error, js_errors, wait_until

CODE_DIR = Path(__file__).resolve().parent / "kode"
TOPIC = "state"
SUBSCRIBE_WAIT = 2.5


def code_file(name: str) -> str:
    return (CODE_DIR / name).read_text(encoding="utf-8")


class Exercise:
    """One exercise. Subclasses set the texts and implement ``_check``."""

    number: int = 0
    title: str = ""
    base_app: str = "start"
    hints: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._hints_shown = 0

    # -- names and code ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The workspace app (and ``%%mjs`` name) the learner's code for this exercise goes in."""
        return f"oppgave{self.number}"

    def starter(self) -> str:
        return code_file(f"oppgave{self.number}-start.js")

    def solution(self) -> str:
        return code_file(f"oppgave{self.number}-fasit.js")

    # -- for learners ------------------------------------------------------------------------------
    def sjekk(self) -> None:
        """Check your code by what it does, and say what is right and what is not yet."""
        try:
            report = self.check()
        except CourseError as exc:
            print(f"⚠️  {exc}")
            return
        print(report.text())
        from kurs.room.progress import report as tell_room

        tell_room(self.number, report.passed)  # only in a room (kurs.room); alone nothing changes

    def hint(self) -> None:
        """One hint more each time you ask."""
        if not self.hints:
            print("Denne oppgaven har ingen hint.")
            return
        index = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown += 1
        print(f"💡 Hint {index + 1} av {len(self.hints)}: {self.hints[index]}")
        if index == len(self.hints) - 1:
            print(f"   Det var det siste hintet. Står du fast, kan du se fasiten med oppgave{self.number}.fasit().")

    def fasit(self) -> CodeView:
        """The solution, folded away until you open it."""
        return CodeView(f"Fasit for Oppgave {self.number} ({self.title})", self.solution(),
                        note=f"Lim den inn i %%mjs-cellen for Oppgave {self.number}, eller kjør "
                             f"oppgave{self.number}.bruk_fasit().")

    def bruk_fasit(self) -> Any:
        """Run the solution on your board, so you can go on (your own code is kept)."""
        solution = self.solution()
        kept = workspace.keep_learners_code(self.name, solution)
        path = workspace.save(self.name, solution, self.base_app)
        running = boards.run(self.name)
        print(f"Fasiten for Oppgave {self.number} er lagret i {workspace.shown(path)} og kjører nå på kortet "
              f"«{self.name}» ({running.board.device_id}).")
        if kept is not None:
            print(f"Koden din er tatt vare på i {workspace.shown(kept)}.")
        from IPython.display import display

        display(self.fasit())
        return running.panel

    # -- the check ---------------------------------------------------------------------------------
    def check(self, source: str | None = None) -> Report:
        """Run the check on ``source``, or on the code saved by the exercise's ``%%mjs`` cell."""
        report = Report(self.number, self.title)
        boards.ensure_cloud()
        if source is None:
            source = workspace.read_code(self.name)
            if source is None:
                report.fail(f"Fant ingen kode for Oppgave {self.number} ennå.",
                            f"Kjør %%mjs {self.name}-cellen i Oppgave {self.number} først.")
                return report
        if _same_code(source, self.starter()):
            report.not_attempted(f"Koden for Oppgave {self.number} er startkoden, uendret.",
                                 f"Endre koden i %%mjs {self.name}-cellen, kjør cellen og sjekk igjen.")
        tmp = workspace.temporary_app(self.name, source, self._base_for_check())
        try:
            self._check(report, Path(tmp.name), source)
        finally:
            tmp.cleanup()
        return report

    def _base_for_check(self) -> str:
        """The mos.yml the check board gets: the one the learner's cell used, else the exercise's."""
        return workspace.base_of(workspace.app_dir(self.name)) or self.base_app

    def _check(self, report: Report, app: Path, source: str) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"Oppgave {self.number}: {self.title}. Sjekk koden med oppgave{self.number}.sjekk(), "
                f"få hint med oppgave{self.number}.hint().")


# -- steps several checks share ---------------------------------------------------------------------

def _same_code(a: str, b: str) -> bool:
    """The same code but for blank lines and trailing spaces (a re-run cell is not an attempt)."""
    def norm(code: str) -> list[str]:
        return [line.rstrip() for line in code.strip().splitlines() if line.strip()]

    return bool(b.strip()) and norm(a) == norm(b)


def valid_mjs(report: Report, source: str, what: str = "Koden") -> bool:
    from kurs.mjs import check_source

    problems = check_source(source, "init.js")
    if problems:
        # The learner wrote it in a %%mjs cell, whose first line is the magic: name the cell's line.
        lines = "\n".join(f"     linje {p.line + CELL_OFFSET} i cellen: {p.message}" for p in problems)
        report.fail(f"{what} er ikke gyldig mJS ennå, så et ekte ESP32-kort ville ikke kjørt den:\n{lines}",
                    "Rett opp linjene over (meldingene sier hva du kan skrive i stedet) og kjør cellen på nytt.")
        return False
    report.ok(f"{what} er gyldig mJS.")
    return True


def boot(report: Report, board: Any, what: str = "Kortet") -> bool:
    """Start a check board; False (with the reason in the report) if it did not run or connect."""
    try:
        board.start(timeout=boards.BOOT_TIMEOUT)
    except CourseError as exc:
        report.fail(f"{what} startet ikke: {exc.message}", exc.fix)
        return False
    errors = js_errors(board)
    if errors:
        text, fix = explain_error(errors[0], board)
        report.fail(f"{what} stoppet med en feil da koden startet. {text}", fix)
        return False
    if not wait_until(lambda: board.connected, 8.0):
        report.fail(f"{what} fikk ikke kontakt med den lokale skyen.",
                    "Kjør kurs.environment.check() (den starter skyen) og sjekk igjen.")
        return False
    report.ok(f"{what} startet og koblet seg til skyen.")
    return True


def matching(subscriptions: set[str], topic: str) -> list[str]:
    found = []
    for sub in sorted(subscriptions):
        try:
            if topic_matches_sub(sub, topic):
                found.append(sub)
        except (ValueError, TypeError):
            continue
    return found


def subscribes_to_state(report: Report, board: Any, what: str = "Kortet") -> bool:
    """Wait for the board's subscription that covers ``state``; explain what is wrong if none."""
    wait_until(lambda: matching(board.subscribed, TOPIC), SUBSCRIBE_WAIT)
    subs = board.subscribed
    covering = matching(subs, TOPIC)
    if covering:
        if TOPIC in covering:
            report.ok(f"{what} abonnerer på «{TOPIC}».")
        else:
            report.ok(f"{what} abonnerer på «{covering[0]}», som også fanger «{TOPIC}».")
            report.note(f"«{covering[0]}» gir deg alle meldinger som passer; MQTT.sub('{TOPIC}', …) gir bare "
                        f"dem du trenger.")
        return True
    if not subs:
        report.fail(f"{what} abonnerer ikke på noe emne.",
                    f"Abonner med MQTT.sub('{TOPIC}', function(conn, topic, msg) {{ … }}, null); "
                    "husk også load('api_mqtt.js').")
        return False
    listed = ", ".join(f"«{s}»" for s in sorted(subs))
    fix = f"Abonner på emnet '{TOPIC}': MQTT.sub('{TOPIC}', …)."
    if any(s.lower() == TOPIC for s in subs):
        fix += " Emner skiller mellom store og små bokstaver."
    report.fail(f"{what} abonnerer på {listed}, men ikke på «{TOPIC}».", fix)
    return False


def on_text(value: bool) -> str:
    return "PÅ" if value else "AV"
