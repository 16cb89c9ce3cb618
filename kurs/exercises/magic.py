"""The ``%%mjs NAVN [--app start|knapp|lys]`` cell magic: save the cell as ``init.js`` of the app
``arbeid/NAVN``, check it like real mJS would, and (re)start a virtual board running it."""

from __future__ import annotations

import shlex
from typing import Any

from kurs.errors import CourseError
from kurs.exercises import boards, workspace
from kurs.exercises.js_advice import CELL_OFFSET
from kurs.exercises.observe import explain_error, js_errors

USAGE = "Bruk: %%mjs NAVN [--app start|knapp|lys], for eksempel «%%mjs oppgave1»."


def parse_line(line: str) -> tuple[str, str | None]:
    """(name, base app or None) from the magic's line."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise CourseError(f"Forstod ikke «%%mjs {line}» ({exc}).", USAGE) from exc
    name: str | None = None
    base: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--app":
            if i + 1 >= len(words):
                raise CourseError("--app mangler navnet på en app.", USAGE)
            base = words[i + 1]
            i += 2
            continue
        if word.startswith("--app="):
            base = word.split("=", 1)[1]
        elif word.startswith("-"):
            raise CourseError(f"Ukjent valg «{word}».", USAGE)
        elif name is None:
            name = word
        else:
            raise CourseError(f"Bare ett navn, takk (fikk «{name}» og «{word}»).", USAGE)
        i += 1
    if name is None:
        raise CourseError("Cellen mangler et navn på kortet.", USAGE)
    workspace.check_name(name)
    if base is not None:
        workspace.check_base(base)
    return name, base


def default_base(name: str) -> str:
    """An exercise's own base app for ``oppgaveN``; ``start`` otherwise."""
    from kurs.exercises import EXERCISES

    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise.base_app
    return "start"


def run_cell(line: str, cell: str) -> Any:
    """Do what ``%%mjs`` does. Returns the board panel, or None when the code could not run.

    Never raises for the learner's mistakes: they are printed in Norwegian."""
    from kurs.mjs import check_source

    try:
        name, base = parse_line(line)
    except CourseError as exc:
        print(f"⚠️  {exc}")
        return None
    path = workspace.save(name, cell, base or default_base(name))
    problems = check_source(cell, "init.js")
    if problems:
        print(f"❌ Koden er lagret i {workspace.shown(path)}, men den er ikke gyldig mJS ennå, så et ekte "
              "ESP32-kort ville ikke kjørt den:")
        for p in problems:
            print(f"   linje {p.line + CELL_OFFSET} i cellen: {p.message}")
        print("Rett opp linjene over og kjør cellen på nytt. Kortet er ikke startet på nytt.")
        return None
    try:
        running = boards.run(name)
    except CourseError as exc:
        print(f"❌ Kortet «{name}» startet ikke: {exc}")
        return None
    board = running.board
    print(f"✅ Koden er gyldig mJS og lagret i {workspace.shown(path)}.")
    errors = js_errors(board)
    if errors:
        text, fix = explain_error(errors[0], board)
        print(f"❌ Kortet «{name}» startet, men koden stoppet med en feil. {text}")
        print(f"   → {fix} Kjør så cellen på nytt.")
    else:
        print(f"✅ Kortet «{name}» ({board.device_id}) kjører koden din.")
    if name in _exercise_names():
        print(f"Sjekk den med {name}.sjekk().")
    return running.panel


def _exercise_names() -> list[str]:
    from kurs.exercises import EXERCISES

    return [e.name for e in EXERCISES]


def mjs(line: str, cell: str) -> None:
    """IPython cell magic: ``%%mjs NAVN [--app start|knapp|lys]``."""
    panel = run_cell(line, cell)
    if panel is not None:
        from IPython.display import display

        display(panel)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(mjs, magic_kind="cell", magic_name="mjs")
