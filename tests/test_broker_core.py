"""The broker's routing, session and authorisation core, in-process with a fake clock.

No sockets and no subprocess: bytes go into ``BrokerCore.data_received`` and what the broker
writes back is read from a fake link. Each test cites the MQTT clause or the AWS IoT page it
checks (MQTT 3.1.1 and 5: OASIS standards; AWS: IoT developer guide and General Reference,
"AWS IoT Core endpoints and quotas").
"""

from __future__ import annotations

import json

import pytest

from kurs.sky.broker.core import BrokerCore
from kurs.sky.broker.identity import Principal
from kurs.sky.broker.limits import Limits
from kurs.sky.broker.snapshot import export_state, import_state
from tests import mqtt_packets as mp

CONNACK, PUBLISH, PUBACK, SUBACK, UNSUBACK, DISCONNECT = 2, 3, 4, 9, 11, 14


class FakeLink:
    def __init__(self, level: int) -> None:
        self.level = level
        self.data = bytearray()
        self.closed = False
        self.queue: list[mp.Received] = []

    def write(self, data: bytes) -> None:
        assert not self.closed, "the broker wrote to a closed connection"
        self.data += data

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[mp.Received]:
        got = self.queue + mp.split(bytes(self.data), self.level)
        self.data.clear()
        self.queue = []
        return got

    def first(self) -> mp.Received:
        """The first packet; the rest stay for the next take()."""
        got = self.take()
        self.queue = got[1:]
        return got[0]

    def publishes(self) -> list[dict]:
        return [p.fields for p in self.take() if p.kind == PUBLISH]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


CERT = Principal("c" * 64, "arn:aws:iot:eu-west-1:123456789012:cert/" + "c" * 64)


class World:
    """One broker core, a fake clock, a policy given as a set of allowed (action, resource)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.clock = Clock()
        self.allowed: set[tuple[str, str]] = set()
        self.active = {CERT.certificate_id}
        self.services: list[tuple[str, bytes, str]] = []
        self.core = BrokerCore(clock=self.clock, limits=limits, authorize=self._authorize,
                               principal_valid=lambda p: p.certificate_id in self.active,
                               on_message=lambda t, p, c, pr: self.services.append((t, p, c)))

    def _authorize(self, principal: Principal, client_id: str, action: str, resource: str) -> str | None:
        if (action, resource) in self.allowed or (action, "*") in self.allowed:
            return None
        return "nektet i testen"

    def open(self, *, level: int = 4, tls: bool = False, principal: Principal | None = None,
             peer: tuple[str, int] = ("127.0.0.1", 40000)):
        link = FakeLink(level)
        conn = self.core.open(link, peer, tls=tls, principal=principal)
        return conn, link

    def client(self, client_id: str, *, level: int = 4, clean: bool = True, tls: bool = False,
               principal: Principal | None = None, properties: bytes = b"", will=None):
        conn, link = self.open(level=level, tls=tls, principal=principal)
        self.core.data_received(conn, mp.connect(client_id, level=level, clean=clean, properties=properties,
                                                 will=will))
        return conn, link

    def send(self, conn, data: bytes) -> None:
        self.core.data_received(conn, data)

    def subscribe(self, conn, link, topic_filter: str, qos: int = 1) -> list[int]:
        self.send(conn, mp.subscribe([(topic_filter, qos)], level=link.level))
        got = link.take()
        link.queue = [p for p in got if p.kind != SUBACK]  # retained replays stay for the test
        return [p for p in got if p.kind == SUBACK][-1].fields["codes"]

    def events(self, conn, link) -> list[dict]:
        """Lifecycle events about other clients than the watcher itself."""
        events = [json.loads(p["payload"]) for p in link.publishes()]
        return [e for e in events if e["clientId"] != conn.client_id]


def connack(link: FakeLink) -> dict:
    first = link.first()
    assert first.kind == CONNACK
    return first.fields


# --- delivery semantics --------------------------------------------------------------------
def test_delivery_qos_is_the_lower_of_publish_and_subscription():
    """MQTT 3.1.1 section 3.8.4 / MQTT 5 section 3.3.5: the server delivers at the minimum of the
    message's QoS and the granted QoS."""
    w = World()
    sub0, l0 = w.client("sub0")
    sub1, l1 = w.client("sub1")
    pub, lp = w.client("pub")
    for link in (l0, l1, lp):
        link.take()
    assert w.subscribe(sub0, l0, "t/#", qos=0) == [0]
    assert w.subscribe(sub1, l1, "t/#", qos=1) == [1]
    w.send(pub, mp.publish("t/a", b"q0", qos=0))
    w.send(pub, mp.publish("t/a", b"q1", qos=1, packet_id=7))
    assert [(m["payload"], m["qos"]) for m in l0.publishes()] == [(b"q0", 0), (b"q1", 0)]
    assert [(m["payload"], m["qos"]) for m in l1.publishes()] == [(b"q0", 0), (b"q1", 1)]
    assert [p.fields["packet_id"] for p in lp.take() if p.kind == PUBACK] == [7]


def test_qos2_subscription_is_granted_qos1_and_qos2_publish_disconnects():
    """AWS IoT developer guide, "MQTT": QoS 2 is not supported; a QoS 2 PUBLISH closes the connection."""
    w = World()
    c, link = w.client("c")
    link.take()
    assert w.subscribe(c, link, "x", qos=2) == [1]
    w.send(c, mp.publish("x", b"2", qos=2))
    assert link.closed


def test_offline_persistent_session_gets_queued_qos1_without_retain_and_no_qos0():
    """MQTT 3.1.1 [MQTT-3.3.1-9]: RETAIN is 0 on a normal delivery, also of a queued message;
    AWS IoT "Using MQTT persistent sessions": only QoS 1 messages are stored for an offline session."""
    w = World()
    sub, ls = w.client("sov", clean=False)
    ls.take()
    w.subscribe(sub, ls, "kø/#", qos=1)
    w.send(sub, mp.DISCONNECT)
    pub, lp = w.client("pub")
    w.send(pub, mp.publish("kø/a", b"null", qos=0))
    w.send(pub, mp.publish("kø/a", b"en", qos=1, packet_id=1, retain=True))
    sub2, ls2 = w.client("sov", clean=False)
    assert connack(ls2) == {"session_present": True, "code": 0}
    got = [m for m in ls2.publishes()]
    assert [(m["payload"], m["qos"], m["retain"]) for m in got] == [(b"en", 1, False)]


def test_connack_says_session_present_when_a_persistent_session_resumes():
    """MQTT 3.1.1 section 3.2.2.2: Session Present is 1 when the server resumes a stored session."""
    w = World()
    c, link = w.client("p", clean=False)
    assert connack(link)["session_present"] is False
    w.send(c, mp.DISCONNECT)
    c2, link2 = w.client("p", clean=False)
    assert connack(link2)["session_present"] is True
    w.send(c2, mp.DISCONNECT)
    c3, link3 = w.client("p", clean=True)
    assert connack(link3)["session_present"] is False


def test_retained_message_is_replayed_with_retain_on_subscribe_and_an_empty_one_deletes_it():
    """MQTT 3.1.1 [MQTT-3.3.1-6, -3.3.1-8, -3.3.1-10]; AWS IoT developer guide, "Retained messages"."""
    w = World()
    pub, lp = w.client("pub")
    w.send(pub, mp.publish("r/a", b"sist", qos=1, retain=True))
    assert w.core.retained_message("r/a").payload == b"sist"
    sub, ls = w.client("sub")
    ls.take()
    w.subscribe(sub, ls, "r/+", qos=1)  # AWS: a wildcard filter gets no retained replay
    assert ls.publishes() == []
    w.subscribe(sub, ls, "r/a", qos=1)
    (m,) = ls.publishes()
    assert (m["topic"], m["payload"], m["retain"], m["qos"]) == ("r/a", b"sist", True, 1)
    w.send(pub, mp.publish("r/a", b"", qos=0, retain=True))
    assert w.core.retained_message("r/a") is None
    assert w.core.retained_messages() == []


def test_qos1_flow_at_most_100_in_flight_and_resent_with_dup_after_the_retry_interval():
    """AWS quotas: "Maximum outbound unacknowledged messages" 100; MQTT [MQTT-4.4.0-1] DUP on resend."""
    w = World()
    sub, ls = w.client("sub")
    ls.take()
    w.subscribe(sub, ls, "f", qos=1)
    for i in range(150):
        w.core.publish("f", str(i).encode(), qos=1)
    first = ls.publishes()
    assert len(first) == 100 and not any(m["dup"] for m in first)
    w.send(sub, b"".join(mp.puback(m["packet_id"]) for m in first[:10]))
    assert [m["payload"] for m in ls.publishes()] == [str(i).encode() for i in range(100, 110)]
    w.clock.advance(60)
    w.core.tick()
    again = ls.publishes()
    assert len(again) == 100 and all(m["dup"] for m in again)


# --- authorisation ----------------------------------------------------------------------------
def test_tls_connection_without_principal_is_refused_even_when_resuming_a_session():
    """The issue's security hole: AWS IoT authorises every CONNECT ("AWS IoT Core policies"); a
    persistent session must not carry anybody in without a registered, ACTIVE certificate."""
    w = World()
    w.allowed |= {("iot:Connect", "dev"), ("iot:Subscribe", "*")}
    c, link = w.client("dev", clean=False, tls=True, principal=CERT)
    assert connack(link)["code"] == 0
    w.send(c, mp.DISCONNECT)
    intruder, li = w.client("dev", clean=False, tls=True, principal=None)
    assert li.closed and not [p for p in li.take() if p.kind == CONNACK]
    assert "dev" in w.core.sessions and w.core.sessions["dev"].connection is None


def test_deactivated_certificate_is_refused_at_connect_and_live_connections_are_dropped():
    """AWS IoT developer guide, "Activate or deactivate a client certificate": devices using a
    deactivated certificate are disconnected."""
    w = World()
    w.allowed.add(("iot:Connect", "*"))
    c, link = w.client("dev", tls=True, principal=CERT)
    assert connack(link)["code"] == 0
    w.active.clear()
    w.core.revalidate()
    assert link.closed
    c2, link2 = w.client("dev", tls=True, principal=CERT)
    assert link2.closed


def test_detaching_the_policy_drops_the_connection_on_the_next_check():
    w = World()
    w.allowed.add(("iot:Connect", "dev"))
    c, link = w.client("dev", tls=True, principal=CERT)
    w.core.revalidate()
    assert not link.closed
    w.allowed.clear()
    w.core.revalidate()
    assert link.closed


def test_denied_qos1_publish_311_gets_no_puback_and_is_closed_and_not_delivered():
    """AWS IoT developer guide, "MQTT": an unauthorised PUBLISH gets no PUBACK and the
    connection is closed (MQTT 3.1.1 has no reason codes)."""
    w = World()
    w.allowed |= {("iot:Connect", "*"), ("iot:Subscribe", "*"), ("iot:Receive", "*")}
    sub, ls = w.client("sub", tls=True, principal=CERT)
    ls.take()
    w.subscribe(sub, ls, "#")
    pub, lp = w.client("pub", tls=True, principal=CERT)
    lp.take()
    w.send(pub, mp.publish("forbudt", b"x", qos=1, packet_id=3))
    assert lp.closed and not [p for p in lp.take() if p.kind == PUBACK]
    assert not [m for m in ls.publishes() if m["topic"] == "forbudt"]
    assert not [s for s in w.services if s[0] == "forbudt"]


def test_denied_qos1_publish_mqtt5_gets_puback_not_authorized_and_stays():
    """AWS IoT developer guide, "MQTT 5 reason codes": PUBACK 0x87 Not authorized."""
    w = World()
    w.allowed.add(("iot:Connect", "*"))
    pub, lp = w.client("pub5", level=5, tls=True, principal=CERT)
    lp.take()
    w.send(pub, mp.publish("forbudt", b"x", qos=1, packet_id=3, level=5))
    (ack,) = lp.take()
    assert (ack.kind, ack.fields["packet_id"], ack.fields["code"]) == (PUBACK, 3, 0x87)
    assert not lp.closed


def test_denied_subscribe_311_closes_and_mqtt5_gets_0x87():
    """AWS IoT: an unauthorised SUBSCRIBE closes a 3.1.1 connection; MQTT 5 SUBACK 0x87."""
    w = World()
    w.allowed.add(("iot:Connect", "*"))
    c, link = w.client("s3", tls=True, principal=CERT)
    link.take()
    w.allowed.add(("iot:Subscribe", "lov"))
    w.send(c, mp.subscribe([("lov", 1), ("hemmelig", 1)]))
    assert link.closed
    assert [p.fields["codes"] for p in link.take() if p.kind == SUBACK] == [[1, 0x80]]  # told why first
    c5, l5 = w.client("s5", level=5, tls=True, principal=CERT)
    l5.take()
    assert w.subscribe(c5, l5, "hemmelig") == [0x87]
    assert not l5.closed


def test_retained_publish_needs_iot_retain_publish():
    """AWS IoT developer guide, "Retained messages": publishing with RETAIN needs iot:RetainPublish."""
    w = World()
    w.allowed |= {("iot:Connect", "*"), ("iot:Publish", "*")}
    c, link = w.client("r", level=5, tls=True, principal=CERT)
    link.take()
    w.send(c, mp.publish("t", b"x", qos=1, retain=True, level=5))
    assert link.take()[0].fields["code"] == 0x87
    assert w.core.retained_message("t") is None


# --- hostile input ------------------------------------------------------------------------
def test_wildcard_topic_in_publish_closes_and_the_hidden_packet_is_not_delivered():
    """MQTT 3.1.1 [MQTT-3.3.2-2] and section 4.8: a malformed packet closes the connection and
    nothing after it in the stream is processed."""
    w = World()
    sub, ls = w.client("sub")
    ls.take()
    w.subscribe(sub, ls, "#", qos=0)
    bad, lb = w.open()
    hidden = mp.publish("skjult", b"smuglet")
    w.send(bad, mp.connect("bad") + mp.publish("ok", b"foer") + mp.publish("a/+", hidden) + mp.publish("etter", b"x"))
    assert lb.closed
    assert connack(lb)["code"] == 0  # what came whole before the bad packet is handled
    assert [m["payload"] for m in ls.publishes() if not m["topic"].startswith("$aws/")] == [b"foer"]


def test_nothing_before_connect_is_routed():
    """MQTT 3.1.1 [MQTT-3.1.0-1]: the first packet must be CONNECT; a PUBLISH first closes."""
    w = World()
    sub, ls = w.client("sub")
    ls.take()
    w.subscribe(sub, ls, "#", qos=0)
    conn, link = w.open()
    w.send(conn, mp.publish("uten/connect", b"x"))
    assert link.closed and ls.publishes() == []


@pytest.mark.parametrize("topic", [b"a/\xff\xfe", b"a/\x00b"])
def test_topic_that_is_not_valid_utf8_or_holds_nul_closes(topic):
    """MQTT 3.1.1 [MQTT-1.5.3-1, -1.5.3-2]: ill-formed UTF-8 or U+0000 closes the connection."""
    w = World()
    sub, ls = w.client("sub")
    ls.take()
    w.subscribe(sub, ls, "#", qos=0)
    bad, lb = w.client("bad")
    w.send(bad, mp.publish(topic, b"x"))
    assert lb.closed and ls.publishes() == []


def test_size_limit_is_checked_from_the_fixed_header_before_the_body():
    """AWS quotas: 128 KB payload; refused from the five header bytes of a 200 MB PUBLISH."""
    w = World()
    c, link = w.client("big")
    w.send(c, b"\x30" + mp.varint(200 * 1024 * 1024))
    assert link.closed


def test_a_connection_that_never_sends_connect_is_closed_at_the_deadline():
    """MQTT 3.1.1 section 3.1: a server may close a connection that sends no CONNECT in a
    reasonable time; ours is ``Limits.connect_deadline_s``."""
    w = World()
    conn, link = w.open()
    w.send(conn, mp.connect("halv")[:5])
    w.clock.advance(9)
    w.core.tick()
    assert not link.closed
    w.clock.advance(1)
    w.core.tick()
    assert link.closed


def test_a_flood_of_half_open_connections_does_not_lock_out_a_normal_client():
    w = World(Limits(pending_connects_per_source=10))
    links = [w.open()[1] for _ in range(50)]
    assert sum(lk.closed for lk in links) == 40
    c, link = w.client("normal")
    assert connack(link)["code"] == 0


def test_subscribe_limits_8_filters_per_subscribe_and_50_per_connection():
    """AWS quotas: 8 topic filters per SUBSCRIBE, 50 subscriptions per connection; failures
    get 0x80 (MQTT 3.1.1 section 3.9.3)."""
    w = World()
    c, link = w.client("many")
    link.take()
    w.send(c, mp.subscribe([(f"t/{i}", 1) for i in range(9)]))
    (ack,) = [p for p in link.take() if p.kind == SUBACK]
    assert ack.fields["codes"] == [1] * 8 + [0x80]
    for n in range(6):
        w.send(c, mp.subscribe([(f"u/{n}/{i}", 0) for i in range(8)], packet_id=2 + n))
    codes = [code for p in link.take() if p.kind == SUBACK for code in p.fields["codes"]]
    assert codes.count(0) == 42 and codes.count(0x80) == 6
    assert len(w.core.sessions["many"].subscriptions) == 50


@pytest.mark.parametrize("topic_filter", ["", "a/#/b", "a+/b"])
def test_invalid_filters_are_refused_in_the_suback(topic_filter):
    """MQTT 3.1.1 section 4.7.1 and [MQTT-4.7.3-1]."""
    w = World()
    c, link = w.client("f")
    link.take()
    assert w.subscribe(c, link, topic_filter) == [0x80]


def test_subscribe_with_qos3_closes():
    """MQTT 3.1.1 [MQTT-3-8.3-4]: reserved bits / QoS 3 in SUBSCRIBE are malformed."""
    w = World()
    c, link = w.client("q3")
    w.send(c, mp.subscribe([("a", 3)]))
    assert link.closed


# --- protocol versions ---------------------------------------------------------------------
@pytest.mark.parametrize("level,code", [(3, 0x01), (6, 0x01)])
def test_unsupported_protocol_level_gets_a_refusing_connack_and_a_close(level, code):
    """MQTT 3.1.1 [MQTT-3.1.2-2]: return code 0x01 and close; never a hang."""
    w = World()
    conn, link = w.open()
    w.send(conn, mp.connect("old", level=level))
    assert connack(link)["code"] == code and link.closed


def test_mqtt5_connack_advertises_aws_limits():
    """AWS IoT developer guide, "MQTT 5 supported features": Maximum QoS 1, topic aliases,
    Receive Maximum."""
    w = World()
    c, link = w.client("m5", level=5)
    (ack,) = link.take()
    assert ack.fields == {"session_present": False, "code": 0}
    body = ack.body
    assert b"\x24\x01" in body  # Maximum QoS 1
    assert b"\x22\x00\x08" in body  # Topic Alias Maximum 8


def test_mqtt5_topic_alias_and_user_properties_pass_through():
    """MQTT 5 section 3.3.2.3.4 (topic alias) and [MQTT-3.3.2-17] (user properties forwarded)."""
    w = World()
    sub, ls = w.client("sub5", level=5)
    ls.take()
    w.subscribe(sub, ls, "alias/#", qos=0)
    pub, lp = w.client("pub5", level=5)
    user = b"\x26" + mp.s("k") + mp.s("v")
    w.send(pub, mp.publish("alias/a", b"1", level=5, properties=b"\x23\x00\x01" + user))
    w.send(pub, mp.publish("", b"2", level=5, properties=b"\x23\x00\x01"))
    got = ls.take()
    assert [(p.fields["topic"], p.fields["payload"]) for p in got] == [("alias/a", b"1"), ("alias/a", b"2")]
    assert mp.s("k") + mp.s("v") in got[0].body


def test_mqtt5_message_expiry_drops_a_queued_message_once_expired():
    """MQTT 5 [MQTT-3.3.2-5]: an expired message is not delivered to a subscriber."""
    w = World()
    props = b"\x11" + (3600).to_bytes(4, "big")  # session expiry 1 h
    sub, ls = w.client("exp", level=5, clean=False, properties=props)
    ls.take()
    w.subscribe(sub, ls, "e", qos=1)
    w.send(sub, mp.DISCONNECT)
    pub, _ = w.client("pub5", level=5)
    w.send(pub, mp.publish("e", b"kort", qos=1, level=5, properties=b"\x02" + (5).to_bytes(4, "big")))
    w.send(pub, mp.publish("e", b"lang", qos=1, packet_id=2, level=5))
    w.clock.advance(10)
    sub2, ls2 = w.client("exp", level=5, clean=False, properties=props)
    assert [m["payload"] for m in ls2.publishes()] == [b"lang"]


def test_mqtt5_receive_maximum_caps_messages_in_flight():
    """MQTT 5 [MQTT-3.3.4-9]: no more unacknowledged QoS 1 PUBLISHes than the client's Receive Maximum."""
    w = World()
    sub, ls = w.client("rm", level=5, properties=b"\x21\x00\x03")
    ls.take()
    w.subscribe(sub, ls, "r", qos=1)
    for i in range(10):
        w.core.publish("r", b"%d" % i, qos=1)
    assert len(ls.publishes()) == 3


# --- sessions and lifecycle ----------------------------------------------------------------
def test_persistent_session_expires_after_an_hour():
    """AWS quotas: "Persistent session expiry period" 1 hour by default."""
    w = World()
    c, link = w.client("timer", clean=False)
    w.send(c, mp.DISCONNECT)
    w.clock.advance(3599)
    w.core.tick()
    assert "timer" in w.core.sessions
    w.clock.advance(1)
    w.core.tick()
    assert "timer" not in w.core.sessions


def test_takeover_events_carry_each_sessions_own_identifier_and_reason():
    """AWS IoT developer guide, "Lifecycle events": the old connection's disconnected event has
    DUPLICATE_CLIENTID and its own sessionIdentifier; the new one's own disconnect is announced."""
    w = World()
    watch, lw = w.client("watch")
    lw.take()
    w.subscribe(watch, lw, "$aws/events/#", qos=0)
    a, la = w.client("same")
    b, lb = w.client("same")
    assert la.closed
    w.send(b, mp.DISCONNECT)
    events = w.events(watch, lw)
    kinds = [(e["eventType"], e.get("disconnectReason")) for e in events]
    assert kinds == [("connected", None), ("disconnected", "DUPLICATE_CLIENTID"), ("connected", None),
                     ("disconnected", "CLIENT_INITIATED_DISCONNECT")]
    first_id, second_id = events[0]["sessionIdentifier"], events[2]["sessionIdentifier"]
    assert first_id != second_id
    assert events[1]["sessionIdentifier"] == first_id and events[3]["sessionIdentifier"] == second_id
    assert events[2]["versionNumber"] > events[0]["versionNumber"]
    assert all(e["ipAddress"] == "127.0.0.1" for e in events)


def test_subscribe_and_unsubscribe_events_and_connection_lost_reason():
    w = World()
    watch, lw = w.client("watch")
    lw.take()
    w.subscribe(watch, lw, "$aws/events/#", qos=0)
    c, link = w.client("dev")
    w.subscribe(c, link, "a/b")
    w.send(c, mp.unsubscribe(["a/b"], packet_id=2))
    w.core.connection_lost(c)
    events = w.events(watch, lw)
    assert [(e["eventType"], e.get("topics"), e.get("disconnectReason")) for e in events] == [
        ("connected", None, None), ("subscribed", ["a/b"], None), ("unsubscribed", ["a/b"], None),
        ("disconnected", None, "CONNECTION_LOST")]


def test_will_is_published_on_connection_lost_but_not_on_disconnect():
    """MQTT 3.1.1 [MQTT-3.1.2-8, -3.1.2-10]."""
    w = World()
    watch, lw = w.client("watch")
    lw.take()
    w.subscribe(watch, lw, "will/#", qos=0)
    a, _ = w.client("a", will=("will/a", b"borte", 0))
    w.send(a, mp.DISCONNECT)
    b, _ = w.client("b", will=("will/b", b"borte", 0))
    w.core.connection_lost(b)
    assert [m["topic"] for m in lw.publishes()] == ["will/b"]


# --- persistence -------------------------------------------------------------------------------
def test_snapshot_brings_back_sessions_queued_messages_and_retained_messages():
    """README: what the cloud accepted is back after stop/start (AWS keeps persistent sessions)."""
    w = World()
    c, link = w.client("varig", clean=False)
    link.take()
    w.subscribe(c, link, "k/#", qos=1)
    w.send(c, mp.DISCONNECT)
    w.core.publish("k/1", b"en", qos=1)
    w.core.publish("k/2", b"to", qos=1, retain=True)
    data = json.loads(json.dumps(export_state(w.core)))
    w2 = World()
    assert import_state(w2.core, data) == (1, 1)
    c2, link2 = w2.client("varig", clean=False)
    assert connack(link2)["session_present"] is True
    w2.core.publish("k/3", b"tre", qos=1)
    assert [(m["payload"], m["retain"]) for m in link2.publishes()] == [(b"en", False), (b"to", False),
                                                                       (b"tre", False)]
    assert w2.core.retained_message("k/2").payload == b"to"


def test_session_expiry_can_be_shortened_for_a_workshop(monkeypatch):
    monkeypatch.setenv("KURS_SESSION_EXPIRY_S", "5")
    w = World(Limits.from_env())
    c, link = w.client("kort", clean=False)
    w.send(c, mp.DISCONNECT)
    w.clock.advance(5)
    w.core.tick()
    assert "kort" not in w.core.sessions


def test_reset_forgets_retained_messages_and_offline_sessions_only():
    w = World()
    off, lo = w.client("borte", clean=False)
    w.send(off, mp.DISCONNECT)
    on, ln = w.client("her", clean=False)
    w.core.publish("r", b"x", retain=True)
    w.core.reset()
    assert w.core.retained_messages() == [] and set(w.core.sessions) == {"her"}


def test_journal_keeps_what_was_acknowledged_without_a_checkpoint(tmp_path):
    """A kill -9 right after the PUBACK: the journal has the queued message, the retained one and
    the session's subscription (AWS keeps a persistent session's QoS 1 messages for its expiry)."""
    from kurs.sky.broker.journal import BrokerJournal

    w = World()
    w.core.journal = BrokerJournal(tmp_path)
    w.core.checkpoint()
    sub, ls = w.client("jrn", clean=False)
    ls.take()
    w.subscribe(sub, ls, "j/#", qos=1)
    w.send(sub, mp.DISCONNECT)
    pub, lp = w.client("pub")
    lp.take()
    w.send(pub, mp.publish("j/a", b"en", qos=1, packet_id=1))
    w.send(pub, mp.publish("j/b", b"to", qos=1, packet_id=2, retain=True))
    w.send(pub, mp.publish("j/c", b"tre", qos=1, packet_id=3))
    assert [p.fields["packet_id"] for p in lp.take() if p.kind == PUBACK] == [1, 2, 3]
    # no checkpoint, no close: the process dies here; the next one starts as CloudBroker does
    w2 = World()
    journal = BrokerJournal(tmp_path)
    assert import_state(w2.core, *journal.load()) == (1, 1)
    w2.core.journal = journal
    w2.core.checkpoint()
    c, link = w2.client("jrn", clean=False)
    assert connack(link)["session_present"] is True
    got = link.publishes()
    assert [m["payload"] for m in got] == [b"en", b"to", b"tre"]
    w2.send(c, b"".join(mp.puback(m["packet_id"]) for m in got[:2]))
    # killed again: only the unacknowledged message is still owed
    w3 = World()
    assert import_state(w3.core, *BrokerJournal(tmp_path).load()) == (1, 1)
    assert [o.payload for o in w3.core.sessions["jrn"].pending] == [b"tre"]
    assert w3.core.retained_message("j/b").payload == b"to"


def test_refused_connect_publishes_connect_failed_and_a_will_topic_outside_the_policy_fails_it():
    """AWS IoT developer guide, "Lifecycle events", connect attempt failure event."""
    w = World()
    watch, lw = w.client("watch")
    lw.take()
    w.subscribe(watch, lw, "$aws/events/presence/connect_failed/#", qos=0)
    w.allowed.add(("iot:Connect", "*"))
    c, link = w.client("med-will", tls=True, principal=CERT, will=("forbudt/will", b"x", 0))
    assert link.closed
    (event,) = w.events(watch, lw)
    assert (event["eventType"], event["connectFailureReason"], event["clientId"]) == (
        "connect_failed", "AUTHORIZATION_FAILED", "med-will")
    assert event["principalIdentifier"] == CERT.certificate_id and event["ipAddress"] == "127.0.0.1"


@pytest.mark.parametrize("topic", ["$aws/events/presence/connected/x", "$aws/things/t/shadow/update/delta",
                                   "$aws/things/t/shadow/name/n/get/accepted", "$aws/things/t/jobs/notify"])
def test_clients_cannot_forge_what_aws_iot_publishes(topic):
    """AWS IoT developer guide, "Reserved topics": event topics and shadow/jobs responses allow
    clients to subscribe only; "unsupported publish ... can result in a terminated connection"."""
    w = World()
    sub, ls = w.client("sub")
    ls.take()
    w.subscribe(sub, ls, "$aws/#", qos=0)
    bad, lb = w.client("falsk")
    w.send(bad, mp.publish(topic, b"{}"))
    assert lb.closed
    assert topic not in [m["topic"] for m in ls.publishes()]


def test_shadow_requests_and_basic_ingest_are_allowed():
    w = World()
    c, link = w.client("enhet")
    link.take()
    for topic in ("$aws/things/t/shadow/update", "$aws/things/t/shadow/name/n/get", "$aws/rules/regel/a"):
        w.send(c, mp.publish(topic, b"{}", qos=1))
    assert [p.kind for p in link.take()] == [PUBACK] * 3 and not link.closed


def test_mqtt5_subscription_identifier_is_a_protocol_error_0xa1():
    """MQTT 5 section 3.2.2.3.12: CONNACK said Subscription Identifiers Available 0."""
    w = World()
    c, link = w.client("sid", level=5)
    link.take()
    w.send(c, mp.packet(0x82, b"\x00\x01" + mp.props(b"\x0b\x07") + mp.s("a") + b"\x01"))
    assert link.closed and [p.fields["code"] for p in link.take() if p.kind == DISCONNECT] == [0xA1]


def test_expired_retained_message_is_not_replayed():
    """MQTT 5 [MQTT-3.3.2-5]: message expiry applies to a retained message."""
    w = World()
    pub, _ = w.client("pub5", level=5)
    w.send(pub, mp.publish("r/x", b"kort", retain=True, level=5, properties=b"\x02" + (1).to_bytes(4, "big")))
    w.clock.advance(2)
    sub, ls = w.client("sub")
    ls.take()
    w.subscribe(sub, ls, "r/#")
    assert ls.publishes() == [] and w.core.retained_messages() == []


def test_mqtt5_will_delay_is_cancelled_by_a_reconnect_and_sent_when_it_runs_out():
    """MQTT 5 section 3.1.3.2.2 and [MQTT-3.1.3-9]."""
    w = World()
    watch, lw = w.client("watch")
    lw.take()
    w.subscribe(watch, lw, "will/#", qos=0)
    props = b"\x11" + (60).to_bytes(4, "big")
    will_props = mp.props(b"\x18" + (5).to_bytes(4, "big"))
    body = (mp.s("MQTT") + bytes([5, 0x04]) + b"\x00\x3c" + mp.props(props) + mp.s("d")
            + will_props + mp.s("will/d") + mp.s("borte"))
    for reconnect in (True, False):
        conn, link = w.open(level=5)
        w.send(conn, mp.packet(0x10, body))
        w.core.connection_lost(conn)
        w.clock.advance(3)
        w.core.tick()
        if reconnect:
            w.client("d", level=5, clean=False, properties=props)
            w.clock.advance(5)
            w.core.tick()
            assert lw.publishes() == []
            w.core.connection_lost(w.core.sessions["d"].connection)
            w.clock.advance(10)
            w.core.tick()
            assert lw.publishes() == []  # that connection had no will
        else:
            assert lw.publishes() == []
            w.clock.advance(2)
            w.core.tick()
            assert [m["payload"] for m in lw.publishes()] == [b"borte"]


@pytest.mark.parametrize("level", [4, 5])
def test_shared_subscription_gives_each_message_to_one_member(level):
    """AWS IoT developer guide, "MQTT" (shared subscriptions, MQTT 3.1.1 and 5); MQTT 5 section 4.8.2."""
    w = World()
    members = [w.client(f"m{i}", level=level) for i in range(2)]
    for conn, link in members:
        link.take()
        assert w.subscribe(conn, link, "$share/gruppe/jobb/#", qos=1) == [1]
    alle, la = w.client("alle")
    la.take()
    w.subscribe(alle, la, "jobb/#", qos=1)
    for i in range(10):
        w.core.publish("jobb/x", b"%d" % i, qos=1)
    got = [[m["payload"] for m in link.publishes()] for _, link in members]
    assert sorted(got[0] + got[1]) == sorted(b"%d" % i for i in range(10)) and all(got)
    assert len(la.publishes()) == 10


@pytest.mark.parametrize("topic_filter", ["$share//a", "$share/g+/a", "$share/g", "$share/g/a/#/b"])
def test_invalid_shared_filters_are_refused(topic_filter):
    w = World()
    c, link = w.client("s")
    link.take()
    assert w.subscribe(c, link, topic_filter) == [0x80]
