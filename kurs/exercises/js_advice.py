"""Norwegian advice for the mJS runtime errors the exercise checks meet, pointing at the learner's cell.

A board reports ``MJS callback error: actual arg #1 is not an int (the type idx is: undefined)``
with a place like ``init.js:17``. The learner wrote that code in a ``%%mjs`` cell whose first line
is the magic itself, so init.js line N is line N + 1 of the cell: that is the line we name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The %%mjs line sits above init.js's first line in the learner's cell.
CELL_OFFSET = 1

_PLACE = re.compile(r"init\.js:(\d+)")
_ARG = re.compile(r"actual arg #(\d+) is not (an int|a bool|a ptr|a string|a function)")
_NOT_DEFINED = re.compile(r"\[([^\]]+)\] is not defined")
_READ_UNDEFINED = re.compile(r"cannot read property '([^']+)' of (undefined|null)")
_COUNT = re.compile(r"got (\d+) actuals, but function takes (\d+) args")
# Which load('api_….js') brings a global the learner may have used without loading it.
_API_FILES = {"GPIO": "api_gpio.js", "MQTT": "api_mqtt.js", "Timer": "api_timer.js", "Cfg": "api_config.js",
              "Sys": "api_sys.js", "Shadow": "api_shadow.js", "Event": "api_events.js", "AWS": "api_aws.js"}


@dataclass(frozen=True)
class Advice:
    text: str  # what happened, in Norwegian, with the cell line
    fix: str   # what to do


def cell_line(error: str) -> int | None:
    """The learner's cell line for the first ``init.js:N`` in an error report."""
    found = _PLACE.search(error)
    return int(found.group(1)) + CELL_OFFSET if found else None


def _code_line(source: str | None, init_line: int | None) -> str | None:
    if source is None or init_line is None:
        return None
    lines = source.splitlines()
    return lines[init_line - 1].strip() if 0 < init_line <= len(lines) else None


def explain(error: str, source: str | None = None) -> Advice:
    """Norwegian text and fix for one error report from :func:`kurs.exercises.observe.js_errors`."""
    line = cell_line(error)
    code = _code_line(source, line - CELL_OFFSET if line else None)
    where = f"Linje {line} i cellen" + (f" ({code})" if code else "") if line else "Koden"
    if "evig løkke" in error:
        from kurs.exercises.observe import LOOP_FIX

        return Advice(f"{where}: {error}.", LOOP_FIX)
    arg = _ARG.search(error)
    if arg:
        return _argument(where, int(arg.group(1)) + 1, arg.group(2), error, code or "")
    name = _NOT_DEFINED.search(error)
    if name:
        word = name.group(1)
        api = _API_FILES.get(word)
        fix = (f"Legg til load('{api}'); øverst i koden: den gir deg {word}." if api else
               f"Sjekk stavemåten (store og små bokstaver teller), og at «{word}» er laget med let før den brukes.")
        return Advice(f"{where}: «{word}» finnes ikke.", fix)
    if "calling non-callable" in error:
        return Advice(f"{where}: du kaller noe som ikke er en funksjon.",
                      "Sjekk navnet på funksjonen: store og små bokstaver teller (MQTT.pub, ikke MQTT.Pub; "
                      "GPIO.write, ikke GPIO.Write).")
    read = _READ_UNDEFINED.search(error)
    if read:
        return Advice(f"{where}: du leser «{read.group(1)}» fra noe som er {read.group(2)}.",
                      "Sjekk at variabelen har fått en verdi før du bruker den, og stavemåten på den.")
    if "invalid JSON string" in error:
        return Advice(f"{where}: JSON.parse fikk tekst som ikke er JSON.",
                      "JSON.parse trenger gyldig JSON, som {\"on\": true}. mJS har ikke try/catch, så funksjonen "
                      "stopper der; kortet kjører videre.")
    if "implicit type conversion is prohibited" in error:
        return Advice(f"{where}: mJS setter ikke sammen tekst og tall (eller tall og true/false) med +.",
                      "Gi dem til print som egne verdier: print('Antall:', state.btnCount); eller gjør tallet om "
                      "til tekst først med JSON.stringify(tall).")
    if "invalid operand for ++" in error or "invalid operand for --" in error:
        return Advice(f"{where}: ++ og -- virker bare på en vanlig variabel i mJS, ikke på et felt i et objekt.",
                      "Skriv det ut: state.btnCount = state.btnCount + 1;")
    missing_file = re.search(r'failed to exec file "([^"]+)"', error)
    if missing_file:
        return Advice(f"{where}: load('{missing_file.group(1)}') fant ikke fila på kortet.",
                      "Sjekk navnet: api_gpio.js, api_mqtt.js, api_timer.js, api_config.js, api_sys.js, "
                      "api_shadow.js, api_events.js …")
    if "unsupported object type" in error:
        return Advice(f"{where}: mJS kan ikke gjøre dette med en slik verdi (for eksempel en funksjon inne i et "
                      "objekt som skal bli JSON).", "Lagre bare tall, tekst, true/false, lister og objekter av "
                      "slike i tilstanden du sender.")
    if re.search(r"\btype error\b", error):
        read = _property_read(code or "")
        if read is not None:
            return _type_error_on_read(where, *read)
        return Advice(f"{where}: mJS kan ikke bruke denne verdien slik (mange metoder fra vanlig JavaScript, "
                      "som toUpperCase eller prototype, finnes ikke i mJS).",
                      "Se hvilke funksjoner mJS har i eksemplene i notatboka, og hold deg til dem.")
    if "missing a value to stringify" in error:
        return Advice(f"{where}: JSON.stringify() fikk ingen verdi.", "Gi den objektet: JSON.stringify(state).")
    count = _COUNT.search(error)
    if count:
        return Advice(f"{where}: funksjonen fikk {count.group(1)} verdier, men tar {count.group(2)}.",
                      "Sammenlign kallet med eksemplet i notatboka, og ta med alle verdiene (også null til slutt).")
    return Advice(f"{where}: {error}",
                  "Se på linjen feilen peker på. Sammenlign med eksemplet i notatboka; store og små bokstaver "
                  "teller.")


# Globals of the Mongoose OS API: ``GPIO.write`` on a line is a call, not the failing read.
_API_GLOBALS = frozenset({"GPIO", "MQTT", "Timer", "Sys", "Cfg", "JSON", "Shadow", "Event", "AWS", "RPC", "Math"})


def _property_read(code: str) -> tuple[str, str] | None:
    """The first ``object.field`` read on a line that is not an API call (``msg.on`` in ``GPIO.write(led, msg.on)``)."""
    for match in re.finditer(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)", code):
        if match.group(1) not in _API_GLOBALS:
            return match.group(1), match.group(2)
    return None


def _type_error_on_read(where: str, name: str, field: str) -> Advice:
    """mJS stops with "type error" when a field is read from text, a number or a function (OP_GET)."""
    if name == "msg":
        return Advice(f"{where}: msg er tekst, så «msg.{field}» kan ikke leses (mJS stopper med «type error»).",
                      f"Gjør meldingen om til et objekt først: let state = JSON.parse(msg); og bruk state.{field}.")
    return Advice(f"{where}: «{name}.{field}» kan ikke leses, for {name} er ikke et objekt (mJS stopper med "
                  "«type error»). En MQTT-melding er tekst: msg.on finnes ikke før du har gjort den om.",
                  f"Er {name} meldingen fra MQTT.sub, gjør den om først: let {name} = JSON.parse(msg);")


def _argument(where: str, number: int, kind: str, error: str, code: str) -> Advice:
    nth = f"verdi nr. {number}"
    undefined = "undefined" in error
    if kind in ("an int", "a bool"):
        field = re.search(r"\bmsg\.\w+", code)
        if undefined and field:
            return Advice(f"{where}: {nth} er undefined, men skal være et tall. msg er tekst, så "
                          f"«{field.group(0)}» finnes ikke.",
                          "Gjør meldingen om til et objekt først: let state = JSON.parse(msg); og bruk state.on.")
        if "type idx is: string" in error:
            return Advice(f"{where}: {nth} er tekst, men skal være et tall.",
                          "Bruk et tall uten anførselstegn (2, ikke '2'). En innstilling leser du som tall med "
                          "Cfg.get når den er et tall i mos.yml.")
        what = "undefined (en verdi som ikke finnes)" if undefined else "ikke et tall"
        return Advice(f"{where}: {nth} er {what}, men skal være et tall (eller true/false).",
                      "Sjekk stavemåten på variabelen eller feltet (state.on, ikke state.On), og at den har "
                      "fått en verdi.")
    if kind in ("a ptr", "a string"):
        if "MQTT.pub" in code:
            return Advice(f"{where}: {nth} til MQTT.pub er ikke tekst.",
                          "MQTT sender tekst. Gjør objektet om til JSON-tekst først: "
                          "let message = JSON.stringify(state); og send message.")
        return Advice(f"{where}: {nth} skal være tekst (en streng), men er det ikke.",
                      "Gjør verdien om til tekst, for eksempel med JSON.stringify(…), eller skriv den i '…'.")
    return Advice(f"{where}: {nth} skal være en funksjon.",
                  "Gi en funksjon der, for eksempel function(conn, topic, msg) { … }.")


def board_source(board: Any) -> str | None:
    """The init.js a (check) board runs, for quoting the learner's line."""
    try:
        return (Path(board.fs_dir) / "init.js").read_text(encoding="utf-8")
    except (AttributeError, OSError):
        return None
