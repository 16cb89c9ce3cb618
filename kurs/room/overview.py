"""What the instructor sees of a room: every learner, their boards (connected, LED, last press),
which exercises they have passed, and the live messages, filterable per learner.

It listens on the instructor's own cloud over plain MQTT on 127.0.0.1 (this machine only), like
the overview of the local cloud: the learners' reports (``kurs/rom/<prefix>/…``), the lifecycle
events (``$aws/events/presence/…``) and every other message, each attributed to the learner whose
prefix its topic or client carries. The reports are retained; AWS IoT replays retained messages only
to subscriptions without wildcards, so an overview opened later reads them the way AWS offers it:
ListRetainedMessages and GetRetainedMessage on the data plane's HTTP API.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kurs.room import roster

log = logging.getLogger(__name__)

TOPICS = ("#", "$aws/events/#", "$aws/things/+/shadow/#")
EXERCISES = (1, 2, 3, 4, 5, 6)


@dataclass
class BoardView:
    thing: str
    connected: bool | None = None
    led: bool | None = None
    last_press: float | None = None
    real: bool = False  # a real ESP32 (kurs.room.real_board): connected is known, its LED and button are not


@dataclass
class LearnerView:
    name: str
    slug: str
    boards: dict[str, BoardView] = field(default_factory=dict)
    passed: dict[int, bool] = field(default_factory=dict)

    def board(self, thing: str) -> BoardView:
        return self.boards.setdefault(thing, BoardView(thing))


@dataclass(frozen=True)
class Seen:
    when: float
    slug: str | None
    topic: str
    text: str


class RoomWatcher:
    """Collects the room's state from MQTT; ``learners()`` and ``messages(slug)`` read it."""

    def __init__(self, *, keep: int = 500, client: Any = None, retained: bool = True) -> None:
        from kurs import mqtt

        self._lock = threading.Lock()
        self._learners: dict[str, LearnerView] = {}
        self._messages: deque[Seen] = deque(maxlen=keep)
        self.listeners: list[Any] = []
        self._own = client is None
        self.client = client or mqtt.connect()
        self._own_id = _client_id(self.client)
        # The callback before the subscription: the retained reports come right after the SUBACK.
        self.client.on_message = self._on_message
        for topic in TOPICS:
            self.client.subscribe(topic, qos=1)
        if retained:
            self._read_retained()

    def _read_retained(self) -> None:
        """What the learners reported before this overview opened (retained on ``kurs/rom/…``)."""
        from types import SimpleNamespace

        from kurs.room.classroom import _client

        try:
            data = _client("iot-data")
            topics = [m["topic"] for page in data.get_paginator("list_retained_messages").paginate()
                      for m in page.get("retainedTopics", []) if m["topic"].startswith("kurs/rom/")]
            for topic in topics:
                payload = data.get_retained_message(topic=topic).get("payload") or b""
                self._on_message(None, None, SimpleNamespace(topic=topic, payload=payload, retain=True))
        except Exception:  # noqa: BLE001 - live messages still come; the cloud may be restarting
            log.warning("Fant ikke rapportene deltakerne sendte før oversikten ble åpnet", exc_info=True)
        # A retained report says "connected" from when it was sent; whether the board is connected
        # now is the broker's to say (its presence list, beside the cloud on this machine).
        from kurs.instructor import connected_clients

        online = connected_clients()
        with self._lock:
            for learner in self._learners.values():
                for board in learner.boards.values():
                    board.connected = board.thing in online

    def close(self) -> None:
        self.client.on_message = None
        for topic in TOPICS:
            self.client.unsubscribe(topic)
        if self._own:
            self.client.disconnect()
            self.client.loop_stop()

    def _roster(self) -> dict[str, LearnerView]:
        room = roster.load()
        with self._lock:
            for learner in (room.learners.values() if room else []):
                self._learners.setdefault(learner.slug, LearnerView(learner.name, learner.slug))
            return dict(self._learners)

    def learners(self) -> list[LearnerView]:
        return sorted(self._roster().values(), key=lambda x: x.name.lower())

    def messages(self, slug: str | None = None) -> list[Seen]:
        with self._lock:
            return [m for m in self._messages if slug is None or m.slug == slug]

    def _owner(self, name: str) -> str | None:
        learners = self._roster()
        for part in name.replace("/", " ").split():
            head = part.split("-", 1)[0]
            if head in learners and (part == head or part.startswith(head + "-")):
                return head
        return None

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        topic, payload = msg.topic, bytes(msg.payload)
        if topic.startswith("$aws/events/") and topic.rsplit("/", 1)[-1] == self._own_id:
            return  # this overview's own connection and subscriptions are not the room's news
        text = payload.decode("utf-8", "replace")
        slug = self._owner(topic)
        parts = topic.split("/")
        with self._lock:
            learner = self._learners.get(slug) if slug else None
            if topic.startswith("kurs/rom/") and learner is not None and len(parts) >= 4:
                data = _json(payload)
                # A report is whatever the learner's code sent: only values of the right type count,
                # so one learner's odd report cannot stop the overview for the whole room.
                if parts[3] == "fremdrift" and type(data.get("oppgave")) is int:
                    learner.passed[data["oppgave"]] = bool(data.get("bestatt"))
                elif parts[3] == "kort" and isinstance(data.get("kort"), str):
                    board = learner.board(data["kort"])
                    board.led = data["lys"] if isinstance(data.get("lys"), bool) else board.led
                    press = data.get("trykk")
                    board.last_press = press if type(press) in (int, float) and 0 < press < 1e12 else board.last_press
                    board.real = board.real or data.get("ekte") is True
                    if board.connected is None and isinstance(data.get("tilkoblet"), bool):
                        board.connected = data["tilkoblet"]  # until a lifecycle event says more
            elif topic.startswith("$aws/events/presence/") and learner is not None:
                client_id = parts[-1]
                if not client_id.endswith("-notatbok"):
                    learner.board(client_id).connected = parts[3] == "connected"
            if not msg.retain:
                self._messages.append(Seen(time.time(), slug, topic, text[:300]))
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # noqa: BLE001 - a display's bug never stops the watcher
                pass


def _client_id(client: Any) -> str:
    raw = getattr(client, "_client_id", b"")
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _json(payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def text(watcher: RoomWatcher) -> str:
    """The overview as lines of text (``kurs rom status`` in a terminal)."""
    room = roster.load()
    if room is None:
        return "Det er ikke noe rom på denne maskinen. Start et med «kurs rom start»."
    lines = [f"Rom på {room.address}, klassekode {room.code}, {len(room.learners)} deltakere"]
    for learner in watcher.learners():
        done = " ".join(f"{n}{'✓' if learner.passed.get(n) else ('✗' if n in learner.passed else '·')}"
                        for n in EXERCISES)
        lines.append(f"  {learner.name} ({learner.slug}-)   oppgaver: {done}")
        for board in sorted(learner.boards.values(), key=lambda b: b.thing):
            lines.append(f"      {board.thing}: {_connected(board)}, {_details(board)}")
    return "\n".join(lines)


def _details(board: BoardView) -> str:
    if board.real:
        return "ekte kort (lys og trykk ses ikke herfra)"
    return f"lys {_led(board)}, siste trykk {_ago(board.last_press)}"


def _connected(board: BoardView) -> str:
    return {True: "tilkoblet", False: "frakoblet", None: "ukjent"}[board.connected]


def _led(board: BoardView) -> str:
    return {True: "på", False: "av", None: "–"}[board.led]


def _ago(when: float | None) -> str:
    if not when:
        return "aldri"
    return f"for {max(0, int(time.time() - when))} s siden"
