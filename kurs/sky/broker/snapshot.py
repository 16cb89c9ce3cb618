"""The broker's part of the cloud's snapshot (kurs/sky/persistence.py): persistent sessions
with their subscriptions and undelivered QoS 1 messages, and retained messages.

AWS IoT keeps both across its own restarts; so must the local cloud across ``kurs sky
stop``/``start`` and a kill -9. Built on the broker's event loop (``BrokerCore.tick``) so
the writer thread only ever sees a finished, immutable copy.
"""

from __future__ import annotations

import base64
from typing import Any

from kurs.sky.broker.retained import RetainedMessage
from kurs.sky.broker.sessions import Outgoing, Session, Subscription


def _message(out: Outgoing) -> dict[str, Any]:
    return {"topic": out.topic, "payload": base64.b64encode(out.payload).decode(), "retain": out.retain,
            "packet_id": out.packet_id, "expires_at": out.expires_at,
            "props": _props(out.props)}


def _props(props: dict[int, Any] | None) -> list[list[Any]] | None:
    if not props:
        return None
    out = []
    for key, value in props.items():
        if isinstance(value, bytes):
            out.append([key, "b64", base64.b64encode(value).decode()])
        else:
            out.append([key, "raw", value])
    return out


def _props_back(raw: list[list[Any]] | None) -> dict[int, Any] | None:
    if not raw:
        return None
    props: dict[int, Any] = {}
    for key, kind, value in raw:
        if kind == "b64":
            props[int(key)] = base64.b64decode(value)
        elif int(key) == 0x26:  # user properties: a list of pairs
            props[int(key)] = [tuple(pair) for pair in value]
        else:
            props[int(key)] = value
    return props


def export_state(core: Any) -> dict[str, Any]:
    now = core.clock()
    sessions = []
    for s in core.sessions.values():
        if not s.persistent:
            continue
        sessions.append({
            "client_id": s.client_id, "expiry_s": s.expiry_s,
            "disconnected_at": s.disconnected_at if s.disconnected_at is not None else now,
            "subscriptions": {f: [sub.qos, sub.no_local, sub.retain_as_published, sub.retain_handling]
                              for f, sub in s.subscriptions.items()},
            "inflight": [_message(o) for o in s.inflight.values()],
            "pending": [_message(o) for o in s.pending],
        })
    retained = [{"topic": m.topic, "payload": base64.b64encode(m.payload).decode(), "qos": m.qos,
                 "last_modified_ms": m.last_modified_ms} for m in core.retained.values()]
    return {"sessions": sessions, "retained": retained}


def _outgoing(raw: dict[str, Any]) -> Outgoing:
    return Outgoing(raw["topic"], base64.b64decode(raw["payload"]), 1, bool(raw.get("retain")),
                    _props_back(raw.get("props")), raw.get("expires_at"), int(raw.get("packet_id") or 0))


def import_state(core: Any, data: dict[str, Any]) -> tuple[int, int]:
    """Put sessions and retained messages back; returns (sessions, retained messages)."""
    now = core.clock()
    count = 0
    for raw in data.get("sessions", []):
        session = Session(raw["client_id"], float(raw["expiry_s"]))
        session.disconnected_at = float(raw["disconnected_at"])
        if session.expired(now):
            continue
        for topic_filter, (qos, no_local, rap, rh) in raw.get("subscriptions", {}).items():
            sub = Subscription(int(qos), bool(no_local), bool(rap), int(rh))
            session.subscriptions[topic_filter] = sub
            core.tree.add(topic_filter, session.client_id, sub)
        for m in raw.get("inflight", []):
            out = _outgoing(m)
            out.first_sent_at = out.sent_at = now
            session.inflight[out.packet_id] = out
            session.last_packet_id = max(session.last_packet_id, out.packet_id)
        session.pending.extend(_outgoing(m) for m in raw.get("pending", []))
        core.sessions[session.client_id] = session
        count += 1
    for m in data.get("retained", []):
        core.retained[m["topic"]] = RetainedMessage(m["topic"], base64.b64decode(m["payload"]), int(m["qos"]),
                                                    int(m["last_modified_ms"]))
    return count, len(data.get("retained", []))
