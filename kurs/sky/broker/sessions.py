"""A client's session: its subscriptions and the QoS 1 messages it has not acknowledged yet.

A session outlives its connection when it is persistent (MQTT 3.1.1 ``cleanSession=0``,
MQTT 5 session expiry > 0), for AWS IoT's persistent-session expiry (AWS IoT developer
guide, "Using MQTT persistent sessions"). Only QoS 1 messages are kept for an offline
session; QoS 0 messages are not [MQTT-3.1.2-5 allows it; AWS: "QoS 0 messages are not stored"].
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kurs.sky.broker.codec import Properties


@dataclass(slots=True)
class Subscription:
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    share: str = ""  # the whole "$share/<name>/<filter>" for a shared subscription, else ""


@dataclass(slots=True)
class Outgoing:
    """One message on its way to one session."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    props: Properties | None = None
    expires_at: float | None = None  # MQTT 5 message expiry, on the broker's clock
    packet_id: int = 0
    first_sent_at: float = 0.0
    sent_at: float = 0.0
    seq: int = 0  # identity in the journal (persistent sessions only)


@dataclass
class Session:
    client_id: str
    expiry_s: float  # how long the session outlives its connection; 0: ends with it
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    pending: deque[Outgoing] = field(default_factory=deque)  # QoS 1 waiting for a slot (or a connection)
    inflight: dict[int, Outgoing] = field(default_factory=dict)  # sent, waiting for PUBACK
    connection: Any = None  # the ClientConnection while connected
    disconnected_at: float | None = None
    last_packet_id: int = 0
    receive_max: int = 100  # at most this many unacknowledged QoS 1 messages in flight
    journaled: bool = False  # its changes are written to the broker's journal (persistent sessions)

    @property
    def persistent(self) -> bool:
        return self.expiry_s > 0

    def next_packet_id(self) -> int:
        pid = self.last_packet_id
        for _ in range(65535):
            pid = pid % 65535 + 1
            if pid not in self.inflight:
                self.last_packet_id = pid
                return pid
        raise RuntimeError("no free packet id")  # cannot happen: at most 100 in flight

    def expired(self, now: float) -> bool:
        return self.disconnected_at is not None and now - self.disconnected_at >= self.expiry_s
