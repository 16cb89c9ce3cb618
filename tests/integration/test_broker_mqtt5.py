"""MQTT 5 as AWS IoT Core speaks it, driven by paho-mqtt 2.x (MQTTv5) and raw packets (item 10.2).

AWS: https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html, sections "MQTT 5 supported
features", "MQTT 5 properties" and "MQTT reason codes"; limits in "AWS IoT Core endpoints and quotas"
(https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits).
"""

from __future__ import annotations

import time

import pytest

from tests.integration import rawmqtt as mq
from tests.integration.clients import Paho, uid, v5_props
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _v5(cloud, closing, client_id: str | None = None) -> mq.RawClient:  # noqa: ANN001
    raw = mq.RawClient(cloud.mqtt_port, version=5)
    closing.append(raw)
    raw.client_id = client_id or uid("v5")
    return raw


def test_connack_announces_what_aws_iot_supports(cloud, closing):
    """CONNACK properties (MQTT 5.0 §3.2.2.3): Maximum QoS 1 (AWS supports QoS 0 and 1 only,
    mqtt.html "MQTT 5 supported features"; [MQTT-3.2.2-9] the server sends Maximum QoS when it
    does not support QoS 2); Topic Alias Maximum 8 (quotas: "Topic alias maximum ... 8");
    Subscription Identifiers Available 0 (not supported by AWS IoT, mqtt.html "MQTT 5 supported
    features"); Retain Available not 0 (AWS supports retained messages); a Maximum Packet Size,
    if any, that admits AWS's 128 KB payload."""
    raw = _v5(cloud, closing)
    ack = raw.handshake(raw.client_id)
    assert ack.reason == 0
    p = ack.properties
    assert p.get(mq.MAXIMUM_QOS) == 1, p
    assert p.get(mq.TOPIC_ALIAS_MAXIMUM) == 8, p
    assert p.get(mq.SUB_ID_AVAILABLE) == 0, p
    assert p.get(mq.RETAIN_AVAILABLE, 1) == 1, p
    assert p.get(mq.MAXIMUM_PACKET_SIZE, 1 << 28) >= 128 * 1024, p


def test_paho_v5_round_trip_with_user_properties_in_order(cloud, closing):
    """User properties travel to subscribers unchanged and in order (MQTT 5.0 §3.3.2.3.7,
    [MQTT-3.3.2-17], [MQTT-3.3.2-18]; AWS mqtt.html "MQTT 5 supported features": user properties),
    also to an MQTT 3.1.1 subscriber as a plain message (AWS: cross-version communication)."""
    topic = f"kurs/v5/{uid('brukeregenskaper')}"
    sub5 = Paho(cloud.mqtt_port, uid("sub5"), v5=True)
    sub3 = Paho(cloud.mqtt_port, uid("sub3"))
    pub = Paho(cloud.mqtt_port, uid("pub5"), v5=True)
    closing.extend([sub5, sub3, pub])
    for c in (sub5, sub3, pub):
        c.wait_connected()
    assert sub5.subscribe(topic) == [1] and sub3.subscribe(topic) == [1]
    pairs = [("rom", "stue"), ("a", "1"), ("rom", "kjøkken")]
    pub.publish(topic, b"hei", qos=1, properties=v5_props(UserProperty=pairs, ContentType="text/plain"))
    m = sub5.next_message(10)
    assert m is not None and m.payload == b"hei"
    assert list(m.properties.UserProperty) == pairs
    assert m.properties.ContentType == "text/plain"
    m3 = sub3.next_message(10)
    assert m3 is not None and m3.payload == b"hei"


def test_session_expiry_keeps_the_session_and_clean_start_ends_it(cloud, closing):
    """Session Expiry Interval > 0 with Clean Start 0: after a disconnect the session and its QoS 1
    messages wait, CONNACK Session Present 1 (MQTT 5.0 §3.1.2.11.2, §3.2.2.1.1 [MQTT-3.2.2-3]);
    Clean Start 1 throws the session away, Session Present 0 ([MQTT-3.1.2-4], [MQTT-3.2.2-2]).
    AWS mqtt.html#mqtt-persistent-sessions and "MQTT 5 supported features" (session expiry)."""
    cid, topic = uid("utlop"), f"kurs/v5/{uid('sesjon')}"
    raw = _v5(cloud, closing, cid)
    props = mq.props((mq.SESSION_EXPIRY, 600))
    ack = raw.handshake(cid, clean=False, properties=props)
    assert ack.reason == 0 and not ack.session_present
    raw.send(mq.subscribe(1, [(topic, 1)], version=5))
    assert raw.expect(mq.SUBACK).reasons == [1]
    raw.send(mq.disconnect())
    raw.close()

    pub = Paho(cloud.mqtt_port, uid("pub"), v5=True)
    closing.append(pub)
    pub.wait_connected().publish(topic, b"ventet", qos=1)

    back = _v5(cloud, closing, cid)
    ack = back.handshake(cid, clean=False, properties=props)
    assert ack.reason == 0 and ack.session_present, "the session did not survive its disconnect"
    got = back.expect(mq.PUBLISH, timeout=10)
    assert got.payload == b"ventet" and got.qos == 1
    back.send(mq.puback(got.packet_id) + mq.disconnect())
    back.close()

    fresh = _v5(cloud, closing, cid)
    ack = fresh.handshake(cid, clean=True, properties=props)
    assert ack.reason == 0 and not ack.session_present, "Clean Start 1 resumed the old session"


def test_session_expiry_zero_ends_the_session_at_disconnect(cloud, closing):
    """No Session Expiry Interval (0): the session ends when the connection closes (MQTT 5.0
    §3.1.2.11.2: "If the Session Expiry Interval is absent the value 0 is used ... the Session ends
    when the Network Connection is closed"); a later Clean Start 0 gets Session Present 0 and no
    messages sent in between."""
    cid, topic = uid("null"), f"kurs/v5/{uid('null')}"
    raw = _v5(cloud, closing, cid)
    assert raw.handshake(cid, clean=False).reason == 0
    raw.send(mq.subscribe(1, [(topic, 1)], version=5))
    raw.expect(mq.SUBACK)
    raw.send(mq.disconnect())
    raw.close()
    pub = Paho(cloud.mqtt_port, uid("pub"), v5=True)
    closing.append(pub)
    pub.wait_connected().publish(topic, b"borte", qos=1)
    back = _v5(cloud, closing, cid)
    ack = back.handshake(cid, clean=False)
    assert ack.reason == 0 and not ack.session_present
    assert not [p for p in back.collect(quiet=1.0) if p.type == mq.PUBLISH]


def test_session_expiry_above_the_maximum_is_capped_in_connack(cloud, closing):
    """A client asking for 0xFFFFFFFF (never expire) gets the server's own value back in CONNACK
    (MQTT 5.0 §3.2.2.3.2: the server uses the Session Expiry Interval property to tell the client it
    uses another value); AWS IoT keeps persistent sessions 1 hour by default, at most 7 days
    (quotas: "Persistent session expiry period")."""
    raw = _v5(cloud, closing)
    ack = raw.handshake(raw.client_id, clean=False, properties=mq.props((mq.SESSION_EXPIRY, 0xFFFFFFFF)))
    assert ack.reason == 0
    assert 0 < ack.properties.get(mq.SESSION_EXPIRY, 0xFFFFFFFF) <= 7 * 24 * 3600, ack.properties


def test_message_expiry_drops_stale_messages_and_counts_down(cloud, closing):
    """Message Expiry Interval (MQTT 5.0 §3.3.2.3.3): a message that expired while the session was
    offline is not delivered ([MQTT-3.3.2-5]); one still valid arrives with the interval reduced by
    the time it waited ([MQTT-3.3.2-6]). AWS mqtt.html "MQTT 5 supported features": message expiry."""
    cid, topic = uid("msgutlop"), f"kurs/v5/{uid('utlop')}"
    props = mq.props((mq.SESSION_EXPIRY, 600))
    raw = _v5(cloud, closing, cid)
    assert raw.handshake(cid, clean=False, properties=props).reason == 0
    raw.send(mq.subscribe(1, [(topic, 1)], version=5))
    raw.expect(mq.SUBACK)
    raw.send(mq.disconnect())
    raw.close()

    pub = Paho(cloud.mqtt_port, uid("pub"), v5=True)
    closing.append(pub)
    pub.wait_connected()
    pub.publish(topic, b"kort", qos=1, properties=v5_props(MessageExpiryInterval=1))
    pub.publish(topic, b"lang", qos=1, properties=v5_props(MessageExpiryInterval=120))
    time.sleep(2.5)  # the short one expires while nobody is there to take it

    back = _v5(cloud, closing, cid)
    assert back.handshake(cid, clean=False, properties=props).session_present
    got = back.publishes(1)
    assert [p.payload for p in got] == [b"lang"]
    assert got[0].properties.get(mq.MESSAGE_EXPIRY, 999) <= 118, got[0].properties


def test_topic_alias_from_the_client_is_resolved_for_subscribers(cloud, closing):
    """A PUBLISH that sets Topic Alias 1 with a topic, then one with an empty topic and alias 1:
    both reach subscribers on the full topic name (MQTT 5.0 §3.3.2.3.4, [MQTT-3.3.2-12]; AWS
    mqtt.html "MQTT 5 supported features": topic aliases)."""
    topic = f"kurs/v5/{uid('alias')}"
    sub = Paho(cloud.mqtt_port, uid("sub"), v5=True)
    closing.append(sub)
    sub.wait_connected().subscribe(topic)
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id).reason == 0
    raw.send(mq.publish(topic, b"en", qos=1, packet_id=1, version=5, properties=mq.props((mq.TOPIC_ALIAS, 1))))
    raw.send(mq.publish("", b"to", qos=1, packet_id=2, version=5, properties=mq.props((mq.TOPIC_ALIAS, 1))))
    assert [raw.expect(mq.PUBACK).packet_id for _ in range(2)] == [1, 2]
    got = [(m.topic, m.payload) for m in sub.wait_messages(2)]
    assert got == [(topic, b"en"), (topic, b"to")]


def test_topic_alias_above_the_maximum_closes_the_connection(cloud, closing):
    """Topic Alias 9 when CONNACK said Topic Alias Maximum 8: DISCONNECT 0x94 Topic Alias invalid
    and close ([MQTT-3.3.2-9]; AWS mqtt.html#mqtt-reason-codes lists 0x94 for DISCONNECT)."""
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id).reason == 0
    raw.send(mq.publish("kurs/v5/alias9", b"x", qos=1, version=5, properties=mq.props((mq.TOPIC_ALIAS, 9))))
    assert raw.closed_within(5), "the broker took a topic alias above its maximum"
    reasons = [p.reason for p in raw.seen if p.type == mq.DISCONNECT]
    assert reasons in ([], [0x94]), reasons
    assert not [p for p in raw.seen if p.type == mq.PUBACK]


def test_receive_maximum_limits_unacknowledged_deliveries(cloud, closing):
    """A subscriber that says Receive Maximum 2 gets at most 2 unacknowledged QoS 1 PUBLISHes at a
    time ([MQTT-3.3.4-9]; MQTT 5.0 §3.1.2.11.3); the rest follow as it acknowledges, none lost."""
    topic = f"kurs/v5/{uid('mottak')}"
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id, properties=mq.props((mq.RECEIVE_MAXIMUM, 2))).reason == 0
    raw.send(mq.subscribe(1, [(topic, 1)], version=5))
    raw.expect(mq.SUBACK)
    pub = Paho(cloud.mqtt_port, uid("pub"), v5=True)
    closing.append(pub)
    pub.wait_connected()
    for i in range(5):
        pub.publish(topic, str(i).encode(), qos=1)
    first = raw.publishes(2, settle=1.0)
    assert len(first) == 2, f"{len(first)} unacknowledged PUBLISHes with Receive Maximum 2"
    seen = [p.payload for p in first]
    batch = first
    while batch and len(seen) < 5:
        raw.send(b"".join(mq.puback(p.packet_id) for p in batch))
        batch = raw.publishes(min(2, 5 - len(seen)), settle=0.5)
        assert len(batch) <= 2, f"{len(batch)} unacknowledged PUBLISHes with Receive Maximum 2"
        seen += [p.payload for p in batch]
    assert seen == [str(i).encode() for i in range(5)]


@pytest.mark.parametrize("level", [3, 6, 2])
def test_unsupported_protocol_level_is_refused_and_closed(cloud, closing, level):
    """CONNECT "MQTT" with a protocol level AWS IoT does not speak (3 = 3.1, 6, 2): CONNACK 0x01
    Unacceptable protocol version, then close (MQTT 3.1.1 §3.1.2.2, [MQTT-3.1.2-2]; 0x84
    Unsupported Protocol Version is the MQTT 5.0 §3.1.2.2 name for it); never a hang. AWS IoT
    speaks MQTT 3.1.1 and 5 (mqtt.html)."""
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    raw.send(mq.connect(uid("gammel"), version=level, protocol_name="MQTT"))
    assert raw.closed_within(5), "the broker kept a connection with an unsupported protocol level"
    acks = [p.reason for p in raw.seen if p.type == mq.CONNACK]
    assert acks in ([0x01], [0x84]), f"CONNACKs seen: {acks}"


def test_mqtt31_connect_is_not_accepted_and_does_not_hang(cloud, closing):
    """An MQTT 3.1 CONNECT ("MQIsdp", level 3): not accepted and closed within seconds; the server
    may answer CONNACK 0x01 or just close ([MQTT-3.1.2-1]: "If the protocol name is incorrect the
    Server MAY disconnect the Client"; [MQTT-3.1.2-2])."""
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    raw.send(mq.connect(uid("mqtt31"), version=3))
    assert raw.closed_within(5), "the broker hung on an MQTT 3.1 CONNECT"
    assert [p.reason for p in raw.seen if p.type == mq.CONNACK] in ([], [0x01])


@pytest.mark.parametrize("version", [4, 5])
def test_qos2_publish_drops_the_connection(cloud, closing, version):
    """QoS 2 PUBLISH: AWS IoT drops the connection (mqtt.html "AWS IoT differences from MQTT
    specifications": QoS 2 is not supported, no PUBACK/PUBREC); MQTT 5.0 [MQTT-3.2.2-11]: DISCONNECT
    0x9B QoS not supported when Maximum QoS is 1; nobody receives it."""
    topic = f"kurs/v5/{uid('qos2')}"
    sub = Paho(cloud.mqtt_port, uid("sub"), v5=True)
    closing.append(sub)
    sub.wait_connected().subscribe(topic)
    raw = mq.RawClient(cloud.mqtt_port, version=version)
    closing.append(raw)
    assert raw.handshake(uid("qos2")).reason == 0
    raw.send(mq.publish(topic, b"qos2", qos=2, packet_id=5, version=version))
    assert raw.closed_within(5), "a QoS 2 PUBLISH did not drop the connection"
    assert [p.reason for p in raw.seen if p.type == mq.DISCONNECT] in ([], [0x9B])
    assert not [p for p in raw.seen if p.type in (mq.PUBACK, 5)], "QoS 2 was acknowledged"
    assert sub.next_message(1.0) is None


def test_server_disconnect_on_takeover_says_session_taken_over(cloud, closing):
    """A second connection with the same client id takes over; the first, an MQTT 5 client, gets
    DISCONNECT 0x8E Session taken over ([MQTT-3.1.4-3]; AWS mqtt.html#mqtt-reason-codes lists 0x8E)."""
    cid = uid("samme")
    first = _v5(cloud, closing, cid)
    assert first.handshake(cid).reason == 0
    second = _v5(cloud, closing, cid)
    assert second.handshake(cid).reason == 0
    assert first.closed_within(5), "the first connection was not dropped"
    assert [p.reason for p in first.seen if p.type == mq.DISCONNECT] == [0x8E]
    assert eventually(lambda: not second.closed, 1)


def test_session_expiry_elapses(cloud, closing):
    """Session Expiry Interval 2 s: three seconds after the disconnect the session is gone; Clean
    Start 0 gets Session Present 0 (MQTT 5.0 §3.1.2.11.2; [MQTT-3.1.2-23] the session is kept only
    until the interval has passed)."""
    cid = uid("kort")
    props = mq.props((mq.SESSION_EXPIRY, 2))
    raw = _v5(cloud, closing, cid)
    assert raw.handshake(cid, clean=False, properties=props).reason == 0
    raw.send(mq.subscribe(1, [(f"kurs/v5/{cid}", 1)], version=5))
    raw.expect(mq.SUBACK)
    raw.send(mq.disconnect())
    raw.close()
    time.sleep(3.5)
    back = _v5(cloud, closing, cid)
    ack = back.handshake(cid, clean=False, properties=props)
    assert ack.reason == 0 and not ack.session_present, "the session outlived its expiry interval"


def test_topic_alias_zero_is_a_protocol_error(cloud, closing):
    """Topic Alias 0 is not permitted ([MQTT-3.3.2-8]): DISCONNECT 0x94 (or a plain close), nothing
    delivered."""
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id).reason == 0
    raw.send(mq.publish("kurs/v5/alias0", b"x", qos=1, version=5, properties=mq.props((mq.TOPIC_ALIAS, 0))))
    assert raw.closed_within(5), "the broker took Topic Alias 0"
    assert [p.reason for p in raw.seen if p.type == mq.DISCONNECT] in ([], [0x94])


def test_payload_over_128_kb_closes_an_mqtt5_connection(cloud, closing):
    """Payload over AWS's 128 KB (quotas: "Message size ... 128 KB"): the MQTT 5 connection is closed,
    DISCONNECT 0x95 Packet too large if the server says why (MQTT 5.0 §3.14.2.1; AWS
    mqtt.html#mqtt-reason-codes)."""
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id).reason == 0
    raw.send(mq.publish("kurs/v5/stor", b"x" * (128 * 1024 + 1), qos=1, version=5))
    assert raw.closed_within(5), "a payload over 128 KB was taken"
    assert [p.reason for p in raw.seen if p.type == mq.DISCONNECT] in ([], [0x95])
    assert not [p for p in raw.seen if p.type == mq.PUBACK]


@pytest.mark.parametrize("version", [4, 5])
def test_will_with_qos2_is_refused(cloud, closing, version):
    """A Will with QoS 2: AWS supports QoS 0 and 1 only (mqtt.html "AWS IoT differences from MQTT
    specifications"); MQTT 5.0 [MQTT-3.2.2-12]: CONNACK 0x9B QoS not supported; on 3.1.1 the
    connection is refused (closed, no CONNACK 0)."""
    raw = mq.RawClient(cloud.mqtt_port, version=version)
    closing.append(raw)
    flags = 0x02 | 0x04 | (2 << 3)  # clean, will flag, will QoS 2
    body = mq.utf8("MQTT") + bytes([version, flags]) + b"\x00\x3c"
    if version == 5:
        body += b"\x00"
    body += mq.utf8(uid("testamente"))
    if version == 5:
        body += b"\x00"  # will properties
    body += mq.utf8("kurs/testamente") + mq.utf8(b"borte")
    raw.send(mq.packet(0x10, body))
    assert raw.closed_within(5), "a Will with QoS 2 was accepted"
    acks = [p.reason for p in raw.seen if p.type == mq.CONNACK]
    assert 0 not in acks, acks
    if version == 5:
        assert acks in ([], [0x9B]), acks


@pytest.mark.parametrize("asked,granted", [(5, 30), (0, 1200), (3000, 1200)])
def test_keep_alive_is_clamped_and_announced(cloud, closing, asked, granted):
    """AWS quotas, "Keep-alive period" (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits):
    0 and anything over 1200 s become 1200 s, anything under 30 s becomes 30 s. An MQTT 5 server that
    uses another value than the client asked for MUST say so in CONNACK Server Keep Alive
    ([MQTT-3.2.2-21], MQTT 5.0 §3.2.2.3.14)."""
    raw = _v5(cloud, closing)
    ack = raw.handshake(raw.client_id, keepalive=asked)
    assert ack.reason == 0
    assert ack.properties.get(mq.SERVER_KEEP_ALIVE) == granted, ack.properties


def test_request_response_properties_pass_through(cloud, closing):
    """Response Topic, Correlation Data, Payload Format Indicator and Content Type reach the
    subscriber unaltered (MQTT 5.0 §3.3.2.3.2, §3.3.2.3.5, §3.3.2.3.6, §3.3.2.3.9; [MQTT-3.3.2-4],
    [MQTT-3.3.2-20]; AWS mqtt.html "MQTT 5 supported features": request/response, payload format,
    content type)."""
    topic = f"kurs/v5/{uid('svar')}"
    sub = Paho(cloud.mqtt_port, uid("sub"), v5=True)
    closing.append(sub)
    sub.wait_connected().subscribe(topic)
    pub = Paho(cloud.mqtt_port, uid("pub"), v5=True)
    closing.append(pub)
    pub.wait_connected().publish(topic, "{}", qos=1, properties=v5_props(
        ResponseTopic="kurs/v5/svar-her", CorrelationData=b"\x00\x01id", PayloadFormatIndicator=1,
        ContentType="application/json"))
    m = sub.next_message(5)
    assert m is not None
    assert m.properties.ResponseTopic == "kurs/v5/svar-her"
    assert m.properties.CorrelationData == b"\x00\x01id"
    assert m.properties.PayloadFormatIndicator == 1
    assert m.properties.ContentType == "application/json"


def test_unsubscribe_reports_and_stops_delivery(cloud, closing):
    """UNSUBACK reason codes (MQTT 5.0 §3.11.2.1): 0x00 for an existing subscription, 0x11 No
    subscription existed for an unknown one; nothing is delivered on the removed filter
    ([MQTT-3.10.4-2])."""
    topic = f"kurs/v5/{uid('avmeld')}"
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id).reason == 0
    raw.send(mq.subscribe(1, [(topic, 1)], version=5))
    raw.expect(mq.SUBACK)
    raw.send(mq.unsubscribe(2, [topic, "kurs/v5/aldri-abonnert"], version=5))
    assert raw.expect(mq.UNSUBACK).reasons == [0x00, 0x11]
    pub = Paho(cloud.mqtt_port, uid("pub"))
    closing.append(pub)
    pub.wait_connected().publish(topic, b"x", qos=1)
    assert not [p for p in raw.collect(quiet=1.0) if p.type == mq.PUBLISH]


def test_client_maximum_packet_size_is_respected(cloud, closing):
    """A client that says Maximum Packet Size 256 is never sent a larger packet: the broker drops that
    message for it and keeps the connection ([MQTT-3.1.2-24], [MQTT-3.1.2-25]); smaller ones arrive."""
    topic = f"kurs/v5/{uid('liten')}"
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id, properties=mq.props((mq.MAXIMUM_PACKET_SIZE, 256))).reason == 0
    raw.send(mq.subscribe(1, [(topic, 1)], version=5))
    raw.expect(mq.SUBACK)
    pub = Paho(cloud.mqtt_port, uid("pub"))
    closing.append(pub)
    pub.wait_connected()
    pub.publish(topic, b"x" * 1000, qos=1)
    pub.publish(topic, b"liten", qos=1)
    got = raw.publishes(1)  # "liten" was published after the big one
    assert [p.payload for p in got] == [b"liten"]
    assert not raw.closed


def test_subscription_identifier_is_refused_when_not_available(cloud, closing):
    """AWS IoT does not support Subscription Identifiers (mqtt.html "MQTT 5 supported features"); a
    SUBSCRIBE carrying one when CONNACK said Subscription Identifiers Available 0 is a protocol error:
    DISCONNECT 0xA1 Subscription Identifiers not supported, or a plain close (MQTT 5.0 §3.2.2.3.12:
    a SUBSCRIBE with a Subscription Identifier to a server that does not support them is a Protocol
    Error)."""
    raw = _v5(cloud, closing)
    assert raw.handshake(raw.client_id).reason == 0
    body = b"\x00\x01" + mq.props((mq.SUBSCRIPTION_ID, 7)) + mq.utf8("kurs/v5/subid") + b"\x01"
    raw.send(mq.packet(0x82, body))
    assert raw.closed_within(5), f"a SUBSCRIBE with a Subscription Identifier was taken: {[(p.type, p.reasons) for p in raw.seen]}"
    assert [p.reason for p in raw.seen if p.type == mq.DISCONNECT] in ([], [0xA1])
    assert not [p for p in raw.seen if p.type == mq.SUBACK and p.reasons and p.reasons[0] < 0x80]
