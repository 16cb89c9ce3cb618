"""The broker's persistent state as JSON-ready data, and back: persistent sessions with their
subscriptions and undelivered QoS 1 messages, and retained messages (see journal.py for when
it is written). ``export_state`` is a checkpoint; ``apply`` replays one journal record."""

from __future__ import annotations

import base64
from typing import Any

from kurs.sky.broker.retained import RetainedMessage
from kurs.sky.broker.sessions import Outgoing, Session, Subscription


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def message_record(out: Outgoing) -> dict[str, Any]:
    return {"seq": out.seq, "topic": out.topic, "payload": _b64(out.payload), "retain": out.retain,
            "expires_at": out.expires_at, "props": _props(out.props)}


def _props(props: dict[int, Any] | None) -> list[list[Any]] | None:
    if not props:
        return None
    return [[key, "b64", _b64(value)] if isinstance(value, bytes) else [key, "raw", value]
            for key, value in props.items()]


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


def _outgoing(raw: dict[str, Any]) -> Outgoing:
    out = Outgoing(raw["topic"], base64.b64decode(raw["payload"]), 1, bool(raw.get("retain")),
                   _props_back(raw.get("props")), raw.get("expires_at"))
    out.seq = int(raw.get("seq") or 0)
    return out


def subscription_record(sub: Subscription) -> list[Any]:
    return [sub.qos, sub.no_local, sub.retain_as_published, sub.retain_handling]


def export_state(core: Any) -> dict[str, Any]:
    now = core.clock()
    sessions = []
    for s in core.sessions.values():
        if not s.persistent:
            continue
        queue = sorted(s.inflight.values(), key=lambda o: o.seq) + list(s.pending)
        sessions.append({
            "client_id": s.client_id, "expiry_s": s.expiry_s,
            "disconnected_at": s.disconnected_at if s.disconnected_at is not None else now,
            "subscriptions": {f: subscription_record(sub) for f, sub in s.subscriptions.items()},
            "queue": [message_record(o) for o in queue],
        })
    retained = [{"topic": m.topic, "payload": _b64(m.payload), "qos": m.qos, "last_modified_ms": m.last_modified_ms,
                 "expires_at": core.retained_expiry.get(m.topic)} for m in core.retained.values()]
    return {"sessions": sessions, "retained": retained, "seq": core.seq}


def import_state(core: Any, data: dict[str, Any] | None, records: list[dict[str, Any]] = ()) -> tuple[int, int]:
    """Put a checkpoint back, replay the journal after it; returns (sessions, retained messages).
    Every restored session is offline; its expiry runs from when it was last connected."""
    now = core.clock()
    data = data or {}
    for raw in data.get("sessions", []):
        session = Session(raw["client_id"], float(raw["expiry_s"]), journaled=True)
        session.disconnected_at = float(raw["disconnected_at"])
        for topic_filter, opts in raw.get("subscriptions", {}).items():
            session.subscriptions[topic_filter] = Subscription(int(opts[0]), bool(opts[1]), bool(opts[2]),
                                                               int(opts[3]))
        session.pending.extend(_outgoing(m) for m in raw.get("queue", []))
        core.sessions[session.client_id] = session
    for m in data.get("retained", []):
        core.retained[m["topic"]] = RetainedMessage(m["topic"], base64.b64decode(m["payload"]), int(m["qos"]),
                                                    int(m["last_modified_ms"]))
        if m.get("expires_at") is not None:
            core.retained_expiry[m["topic"]] = float(m["expires_at"])
    core.seq = max(core.seq, int(data.get("seq", 0)))
    for rec in records:
        apply(core, rec)
    for session in list(core.sessions.values()):
        if session.disconnected_at is None:  # connected when the cloud died
            session.disconnected_at = now
        if session.expired(now):
            del core.sessions[session.client_id]
            continue
        for topic_filter, sub in session.subscriptions.items():
            core.tree_add(session.client_id, topic_filter, sub)
    return len(core.sessions), len(core.retained)


def apply(core: Any, rec: dict[str, Any]) -> None:
    """Replay one journal record (written by BrokerCore while running)."""
    op = rec.get("op")
    cid = rec.get("cid", "")
    session = core.sessions.get(cid)
    if op == "session":
        if session is None:
            session = core.sessions[cid] = Session(cid, float(rec["expiry"]), journaled=True)
        session.expiry_s = float(rec["expiry"])
        session.disconnected_at = None
    elif op == "end":
        core.sessions.pop(cid, None)
    elif op == "gone" and session is not None:
        session.disconnected_at = float(rec["at"])
    elif op == "sub" and session is not None:
        o = rec["o"]
        session.subscriptions[rec["f"]] = Subscription(int(o[0]), bool(o[1]), bool(o[2]), int(o[3]))
    elif op == "unsub" and session is not None:
        session.subscriptions.pop(rec["f"], None)
    elif op == "queue" and session is not None:
        out = _outgoing(rec["m"])
        session.pending.append(out)
        core.seq = max(core.seq, out.seq)
    elif op == "done" and session is not None:
        seq = int(rec["seq"])
        session.pending = type(session.pending)(o for o in session.pending if o.seq != seq)
    elif op == "retain":
        core.retained_expiry.pop(rec["topic"], None)
        if rec.get("payload"):
            core.retained[rec["topic"]] = RetainedMessage(rec["topic"], base64.b64decode(rec["payload"]),
                                                          int(rec["qos"]), int(rec["ms"]))
            if rec.get("exp") is not None:
                core.retained_expiry[rec["topic"]] = float(rec["exp"])
        else:
            core.retained.pop(rec["topic"], None)
