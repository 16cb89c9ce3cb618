"""Hostile bytes on the MQTT port: the broker closes the connection and nothing smuggled gets through
(item 10.4). Raw packets over plain TCP on loopback; a paho subscriber watches what is delivered.

DESIGN.md: "Hostile bytes close the connection"; "a bad message never kills ... the broker".
"""

from __future__ import annotations

import socket
import struct

import pytest

from tests.integration import rawmqtt as mq
from tests.integration.clients import Paho, uid
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def watcher(cloud, closing):  # noqa: ANN001 - fixture
    """A subscriber to everything under kurs/, to see what the broker lets through."""
    w = Paho(cloud.mqtt_port, uid("vakt"))
    closing.append(w)
    w.wait_connected().subscribe("kurs/#")
    return w


def _connected(cloud, closing, version: int = 4) -> mq.RawClient:  # noqa: ANN001
    raw = mq.RawClient(cloud.mqtt_port, version=version)
    closing.append(raw)
    assert raw.handshake(uid("fiendtlig")).reason == 0
    return raw


def _broker_still_serves(cloud, closing) -> None:  # noqa: ANN001
    topic = f"kurs/ok/{uid('fortsatt')}"
    c = Paho(cloud.mqtt_port, uid("etterpaa"))
    closing.append(c)
    c.wait_connected().subscribe(topic)
    c.publish(topic, b"ok", qos=1)
    m = c.next_message(5)
    assert m is not None and m.payload == b"ok", "the broker stopped serving after hostile input"


HIDDEN = mq.publish("kurs/smuglet", b"smuglet", qos=0)


@pytest.mark.parametrize("topic,why", [
    ("kurs/+/pluss", "+ in a topic name"),
    ("kurs/#", "# in a topic name"),
    (b"kurs/\xff\xfe", "not valid UTF-8"),
    (b"kurs/a\x00b", "U+0000 in a topic name"),
    (b"kurs/\xed\xa0\x80", "a UTF-16 surrogate encoded in UTF-8"),
], ids=["plus", "hash", "bad-utf8", "nul", "surrogate"])
def test_bad_topic_name_closes_the_connection_and_nothing_hidden_is_delivered(cloud, closing, watcher,
                                                                              topic, why):
    """PUBLISH with a wildcard in the topic name ([MQTT-3.3.2-2]), or a topic that is not
    well-formed UTF-8 or contains U+0000 ([MQTT-1.5.3-1], [MQTT-1.5.3-2]; MQTT 5.0 §1.5.4): the
    connection is closed. Its payload is a complete second PUBLISH; it must never be read as one
    (it is payload: MQTT 3.1.1 §2.2.3 Remaining Length)."""
    raw = _connected(cloud, closing)
    raw.send(mq.publish(topic, HIDDEN, qos=0))
    assert raw.closed_within(5), f"the broker kept the connection: {why}"
    got = [m.topic for m in watcher.drain(1.0)]
    assert "kurs/smuglet" not in got, f"a PUBLISH hidden in the payload was delivered ({why})"
    assert not any(t.startswith("kurs/+") or t == "kurs/#" for t in got)


def test_publish_announcing_200_mb_is_closed_without_waiting_for_the_body(cloud, closing):
    """A PUBLISH whose Remaining Length says 200 MB: closed at once, before the body arrives
    (AWS quotas: payload at most 128 KB, https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits;
    MQTT 5.0 §3.1.2.11.4 / [MQTT-3.2.2-15] Maximum Packet Size; a broker that reads the body first
    can be made to buffer 200 MB)."""
    raw = _connected(cloud, closing)
    header = bytes([0x30]) + mq.varint(200 * 1024 * 1024) + mq.utf8("kurs/stor") + b"x" * 1000
    raw.send(header)
    assert raw.closed_within(3), "the broker waited for a 200 MB body"


def test_half_connects_do_not_lock_out_a_normal_client(cloud, closing):
    """50 sockets that send half a CONNECT and stop: a normal client still connects at once, and
    the broker closes the half-open ones after a CONNECT deadline (MQTT 3.1.1, CONNECT section,
    non-normative comment:
    "If the Server does not receive a CONNECT Packet within a reasonable amount of time after the
    Network Connection is established, the Server SHOULD close the connection"; MQTT 5.0 has the same
    comment). We require the deadline to be at most 20 s."""
    half = mq.connect(uid("halv"))[:7]
    socks = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", cloud.mqtt_port), timeout=5)
            socks.append(s)
            s.sendall(half)
        ok = Paho(cloud.mqtt_port, uid("normal"))
        closing.append(ok)
        ok.wait_connected(5)

        def closed(s: socket.socket) -> bool:
            s.settimeout(0.01)
            try:
                return s.recv(1) == b""
            except TimeoutError:
                return False
            except OSError:
                return True

        assert eventually(lambda: all(closed(s) for s in socks), timeout=20, every=0.5), \
            "half-open CONNECTs were kept open for more than 20 s"
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("version", [4, 5])
def test_empty_topic_filter_is_refused(cloud, closing, version):
    """SUBSCRIBE with a zero-length filter: topic filters are at least one character
    ([MQTT-4.7.3-1]); refused with SUBACK 0x80 (3.1.1) / 0x8F Topic Filter invalid (5; AWS
    mqtt.html#mqtt-reason-codes lists 0x8F for SUBACK), or the connection is closed."""
    raw = _connected(cloud, closing, version)
    raw.send(mq.subscribe(1, [("", 1)], version=version))
    ack = raw.read(5)
    if ack is None:
        assert raw.closed, "no SUBACK and no close for an empty topic filter"
        return
    assert ack.type == mq.SUBACK and ack.reasons == [0x80 if version == 4 else 0x8F]


def test_qos3_in_subscribe_closes_the_connection(cloud, closing):
    """Requested QoS 3 in SUBSCRIBE: malformed, the server closes the connection ([MQTT-3.8.3-4])."""
    raw = _connected(cloud, closing)
    raw.send(mq.subscribe(1, [("kurs/qos3", 3)]))
    assert raw.closed_within(5), "the broker accepted QoS 3 in a SUBSCRIBE"
    assert not [p for p in raw.seen if p.type == mq.SUBACK and 3 in p.reasons]


def test_more_than_8_filters_in_one_subscribe_is_refused(cloud, closing, watcher):
    """AWS quotas: at most 8 subscriptions per SUBSCRIBE ("Maximum number of subscriptions per
    subscribe call", https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits).
    Nine filters: not all granted (failure codes or a closed connection), and nothing delivered on
    the refused ones."""
    raw = _connected(cloud, closing)
    tag = uid("ni")
    raw.send(mq.subscribe(1, [(f"kurs/{tag}/{i}", 1) for i in range(9)]))
    ack = raw.read(5)
    if ack is None:
        assert raw.closed, "no SUBACK and no close for 9 filters"
        return
    assert ack.type == mq.SUBACK and len(ack.reasons) == 9
    assert any(r >= 0x80 for r in ack.reasons), f"all 9 filters granted: {ack.reasons}"


def test_more_than_50_subscriptions_per_connection_are_refused(cloud, closing):
    """AWS quotas: at most 50 subscriptions per connection ("Subscriptions per connection",
    https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits). The 51st is
    refused (SUBACK 0x80, or the connection is closed); the first 50 are granted."""
    raw = _connected(cloud, closing)
    tag = uid("femti")
    for i in range(50):
        raw.send(mq.subscribe(i + 1, [(f"kurs/{tag}/{i}", 1)]))
    granted = [raw.expect(mq.SUBACK).reasons for _ in range(50)]
    assert granted == [[1]] * 50
    raw.send(mq.subscribe(51, [(f"kurs/{tag}/51", 1)]))
    ack = raw.read(5)
    if ack is None:
        assert raw.closed, "no SUBACK and no close for the 51st subscription"
        return
    assert ack.type == mq.SUBACK and ack.reasons == [0x80], ack.reasons


def test_reserved_connect_flag_closes_the_connection(cloud, closing):
    """CONNECT with the reserved flag bit set: malformed, closed without CONNACK 0 ([MQTT-3.1.2-3])."""
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    body = mq.utf8("MQTT") + bytes([4, 0x03]) + struct.pack("!H", 60) + mq.utf8(uid("reservert"))
    raw.send(mq.packet(0x10, body))
    assert raw.closed_within(5)
    assert not [p for p in raw.seen if p.type == mq.CONNACK and p.reason == 0]


def test_second_connect_on_one_connection_closes_it(cloud, closing):
    """A second CONNECT on the same connection is a protocol violation; the server disconnects
    ([MQTT-3.1.0-2])."""
    raw = _connected(cloud, closing)
    raw.send(mq.connect(uid("igjen")))
    assert raw.closed_within(5), "a second CONNECT was accepted"


def test_the_broker_still_serves_after_all_that(cloud, closing):
    """DESIGN.md: a bad message never kills the broker."""
    _broker_still_serves(cloud, closing)


@pytest.mark.parametrize("case,data", [
    ("PUBLISH before CONNECT", mq.publish("kurs/for-tidlig", b"x")),
    ("SUBSCRIBE before CONNECT", mq.subscribe(1, [("kurs/#", 0)])),
], ids=["publish", "subscribe"])
def test_anything_but_connect_first_closes_the_connection(cloud, closing, watcher, case, data):
    """The first packet from a client MUST be CONNECT ([MQTT-3.1.0-1]); anything else closes the
    connection and is not acted on (a PUBLISH is never routed unauthenticated)."""
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    raw.send(data)
    assert raw.closed_within(5), f"{case} was not answered by a close"
    assert not [p for p in raw.seen if p.type in (mq.PUBACK, mq.SUBACK)]
    assert "kurs/for-tidlig" not in [m.topic for m in watcher.drain(0.5)]


@pytest.mark.parametrize("case,data", [
    ("QoS 1 PUBLISH with packet id 0", mq.publish("kurs/pid0", b"x", qos=1, packet_id=0)),
    ("PUBLISH with an empty topic name", mq.publish("", b"x")),
    ("SUBSCRIBE without any filter", mq.packet(0x82, b"\x00\x01")),
    ("SUBSCRIBE with wrong fixed-header flags", mq.packet(0x80, b"\x00\x01" + mq.utf8("kurs/x") + b"\x01")),
    ("reserved packet type 0", b"\x00\x00"),
    ("PUBLISH with both QoS bits set", mq.packet(0x36, mq.utf8("kurs/qos3") + b"\x00\x01x")),
], ids=["packet-id-0", "empty-topic", "no-filters", "subscribe-flags", "type-0", "publish-qos3"])
def test_malformed_packets_close_the_connection(cloud, closing, watcher, case, data):
    """Malformed packets close the network connection (MQTT 3.1.1 §4.8; packet id non-zero
    [MQTT-2.3.1-1]; topic names at least one character [MQTT-4.7.3-1]; a SUBSCRIBE without filters
    [MQTT-3.8.3-3]; SUBSCRIBE fixed-header flags 0010 [MQTT-3.8.1-1]; QoS 3 PUBLISH [MQTT-3.3.1-4];
    reserved packet types §2.2.1), and nothing in them is delivered."""
    raw = _connected(cloud, closing)
    raw.send(data)
    assert raw.closed_within(5), f"the broker kept the connection after: {case}"
    assert not [p for p in raw.seen if p.type in (mq.PUBACK, mq.SUBACK)], f"{case} was acknowledged"
    assert not [m for m in watcher.drain(0.5) if m.topic in ("kurs/pid0", "kurs/qos3")]


@pytest.mark.parametrize("version", [4, 5])
def test_client_id_over_128_bytes_is_refused(cloud, closing, version):
    """AWS quotas: client id at most 128 bytes ("Client ID size",
    https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits). Refused: CONNACK
    0x02 Identifier rejected (3.1.1 §3.2.2.3) / 0x85 Client Identifier not valid (5; AWS
    mqtt.html#mqtt-reason-codes), or closed without CONNACK."""
    raw = mq.RawClient(cloud.mqtt_port, version=version)
    closing.append(raw)
    raw.send(mq.connect("x" * 129, version=version))
    assert raw.closed_within(5), "a 129-byte client id was accepted"
    acks = [p.reason for p in raw.seen if p.type == mq.CONNACK]
    assert acks in ([], [0x02] if version == 4 else [0x85]), acks


def test_empty_client_id_with_a_persistent_session_is_rejected(cloud, closing):
    """MQTT 3.1.1: a zero-length client id with CleanSession 0 gets CONNACK 0x02 Identifier rejected
    and the connection is closed ([MQTT-3.1.3-8])."""
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    raw.send(mq.connect("", clean=False))
    assert raw.closed_within(5)
    assert [p.reason for p in raw.seen if p.type == mq.CONNACK] == [0x02]
