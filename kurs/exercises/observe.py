"""What the checks look at: messages at the broker, pin changes on a board, lines in its log."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Library log lines look like "mgos_mqtt.c:125         Subscribing to 'state' (QoS 1)".
_LIBRARY_LINE = re.compile(r"^[\w.-]+\.(c|cc|cpp):\d+\s")
_BOOT_LINE = re.compile(r"^(rst:0x|E \(task_wdt\))")


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> bool:
    """True as soon as ``predicate()`` is truthy; False after ``timeout`` seconds (never raises)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - e.g. a board that is rebooting
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass(frozen=True)
class Seen:
    """A message as the broker delivered it to us."""

    topic: str
    payload: bytes
    at: float  # time.monotonic()

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The payload parsed as JSON, or ``NOT_JSON``."""
        try:
            return json.loads(self.payload)
        except ValueError:
            return NOT_JSON


NOT_JSON = object()


class Recorder:
    """Everything published on ordinary topics (``#``: not ``$aws/…``) while it runs."""

    def __init__(self, topic_filter: str = "#") -> None:
        from kurs import mqtt

        self.messages: list[Seen] = []
        self._lock = threading.Lock()
        self._client = mqtt.connect(mode="lokal")  # check boards always run in the local cloud
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *a: subscribed.set()
        self._client.on_message = self._on_message
        self._client.subscribe(topic_filter, qos=1)
        if not subscribed.wait(5):
            self.close()
            from kurs.errors import CourseError

            raise CourseError("Sjekken fikk ikke abonnert på meldingene i den lokale skyen.",
                              "Kjør kurs.environment.check() og prøv igjen.")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if msg.retain or msg.topic.startswith("$"):
            return  # old retained messages and AWS's own topics are not what a board just did
        with self._lock:
            self.messages.append(Seen(msg.topic, bytes(msg.payload), time.monotonic()))

    def snapshot(self) -> list[Seen]:
        with self._lock:
            return list(self.messages)

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def since(self, index: int) -> list[Seen]:
        with self._lock:
            return self.messages[index:]

    def publish(self, topic: str, payload: str | dict) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        self._client.publish(topic, data, qos=1).wait_for_publish(timeout=5)

    def close(self) -> None:
        try:
            self._client.disconnect()
            self._client.loop_stop()
        except Exception:  # noqa: BLE001 - closing twice or after the cloud went away
            pass

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PinTrace:
    """Level changes of a board's pins, with times (``board.on_pin_change``)."""

    def __init__(self, board: Any) -> None:
        self.changes: list[tuple[float, int, int]] = []  # (monotonic time, pin, level)
        self._lock = threading.Lock()
        self._stop = board.on_pin_change(self._changed)

    def _changed(self, pin: int, level: int) -> None:
        with self._lock:
            self.changes.append((time.monotonic(), pin, level))

    def of(self, pin: int, since: int = 0) -> list[tuple[float, int]]:
        with self._lock:
            return [(t, lvl) for t, p, lvl in self.changes[since:] if p == pin]

    def pins(self) -> set[int]:
        with self._lock:
            return {p for _, p, _ in self.changes}

    def mark(self) -> int:
        with self._lock:
            return len(self.changes)

    def close(self) -> None:
        self._stop()


def printed_lines(board: Any, since: int = 0) -> list[str]:
    """What init.js printed (not library log lines, not mJS error reports)."""
    out = []
    for line in board.console.since(since):
        text = line.text
        if _LIBRARY_LINE.match(text) or _BOOT_LINE.match(text) or text.startswith(("MJS ", "  at ")):
            continue
        out.append(text.rstrip())
    return out


def js_errors(board: Any, since: int = 0) -> list[str]:
    """mJS error reports in the log (``MJS error: …``, ``MJS callback error: …``) with their places."""
    errors: list[str] = []
    where: list[str] = []
    for line in board.console.since(since):
        text = line.text.strip()
        if text.startswith("E (task_wdt) Task watchdog got triggered"):
            errors.append("koden brukte for lang tid uten å gi fra seg kontrollen (en evig løkke?), "
                          "så vakthunden (watchdog) avbrøt den")
        elif text.startswith("at "):
            where.append(text[3:])
        elif text.startswith("MJS"):
            place = f" ({', '.join(where)})" if where else ""
            errors.append(text + place)
            where = []
        else:
            where = []
    return errors


LOOP_FIX = ("Ta bort løkka som aldri slutter. Skal noe skje igjen og igjen, bruk Timer.set(ms, Timer.REPEAT, "
            "function() { … }, null); kortet må gi fra seg kontrollen mellom hver gang.")


def error_fix(error: str) -> str:
    """What to do about an mJS error report from :func:`js_errors` (see kurs.exercises.js_advice)."""
    from kurs.exercises.js_advice import explain

    return explain(error).fix


def explain_error(error: str, board: Any) -> tuple[str, str]:
    """(Norwegian text naming the learner's cell line, fix) for an error report from ``board``'s log.

    The board's own words follow in brackets: a real board's log shows that line too."""
    from kurs.exercises.js_advice import board_source, explain

    advice = explain(error, board_source(board))
    raw = error.split(" (", 1)[0]
    return f"{advice.text} (i loggen: «{raw}»)", advice.fix


def pin_mode(board: Any, pin: int) -> tuple[int, int] | None:
    """(mode, output level) of a pin as the firmware set it, or None if the board is off."""
    fw = getattr(board, "fw", None)
    try:
        state = fw.gpio.pins[pin]
        return int(state.mode), int(state.out)
    except (AttributeError, KeyError):
        return None
