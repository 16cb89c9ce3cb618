"""Delivery as subscribers see it on the wire: QoS, RETAIN and persistent sessions (item 10.3).

Raw MQTT 3.1.1 subscribers show the fixed-header flags; paho-mqtt publishes.
"""

from __future__ import annotations

import time

import pytest

from tests.integration import rawmqtt as mq
from tests.integration.clients import Paho, uid
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _raw_sub(cloud, closing, topic_filter: str, qos: int, *, client_id: str | None = None,  # noqa: ANN001
             clean: bool = True) -> mq.RawClient:
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    raw.client_id = client_id or uid("raa")
    assert raw.handshake(raw.client_id, clean=clean).reason == 0
    raw.send(mq.subscribe(1, [(topic_filter, qos)]))
    assert raw.expect(mq.SUBACK).reasons == [qos]
    return raw


def _publisher(cloud, closing) -> Paho:  # noqa: ANN001
    pub = Paho(cloud.mqtt_port, uid("pub"))
    closing.append(pub)
    return pub.wait_connected()


@pytest.mark.parametrize("pub_qos,sub_qos", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_delivered_qos_is_the_minimum_of_publish_and_subscription(cloud, closing, pub_qos, sub_qos):
    """MQTT 3.1.1 §3.8.4 [MQTT-3.8.4-6] / MQTT 5.0 §3.8.4 [MQTT-3.8.4-8]: a message is delivered
    with min(QoS published, QoS granted). AWS mqtt.html "MQTT Quality of Service (QoS) options"."""
    topic = f"kurs/qos/{uid('min')}"
    sub = _raw_sub(cloud, closing, topic, sub_qos)
    _publisher(cloud, closing).publish(topic, b"q", qos=pub_qos)
    got = sub.expect(mq.PUBLISH, timeout=5)
    assert got.qos == min(pub_qos, sub_qos)
    assert not got.retain


def test_retain_flag_is_set_only_when_a_retained_message_is_replayed_on_subscribe(cloud, closing):
    """A retained message sent because of a new subscription carries RETAIN=1 ([MQTT-3.3.1-8]);
    a message forwarded to a subscription that already existed carries RETAIN=0 even if it was
    published with RETAIN=1 ([MQTT-3.3.1-9]). AWS mqtt.html#mqtt-retain: "Retained messages received
    upon subscribing ... have the RETAIN flag set. Retained messages that are received by a
    subscribing client after subscription, don't." """
    topic = f"kurs/retain/{uid('flagg')}"
    live = _raw_sub(cloud, closing, topic, 1)
    pub = _publisher(cloud, closing)
    pub.publish(topic, b"lagret", qos=1, retain=True)
    forwarded = live.expect(mq.PUBLISH)
    assert forwarded.payload == b"lagret" and not forwarded.retain

    late = _raw_sub(cloud, closing, topic, 1)
    replayed = late.expect(mq.PUBLISH)
    assert replayed.payload == b"lagret" and replayed.retain
    late.send(mq.puback(replayed.packet_id))


def test_queued_delivery_to_a_resumed_session_has_retain_0(cloud, closing):
    """A retained message published while a persistent subscriber was offline is queued for it as
    a normal forwarded message: on resume it arrives with RETAIN=0 ([MQTT-3.3.1-9]; the
    subscription already existed), exactly once."""
    cid, topic = uid("hvilende"), f"kurs/retain/{uid('ko')}"
    sub = _raw_sub(cloud, closing, topic, 1, client_id=cid, clean=False)
    sub.send(mq.disconnect())
    sub.close()
    _publisher(cloud, closing).publish(topic, b"mens-borte", qos=1, retain=True)

    back = mq.RawClient(cloud.mqtt_port)
    closing.append(back)
    ack = back.handshake(cid, clean=False)
    assert ack.session_present
    got = back.publishes(1)
    assert [(p.payload, p.retain) for p in got] == [(b"mens-borte", False)]


def test_qos0_is_not_queued_and_qos1_is_delivered_on_resume(cloud, closing):
    """Persistent session (clean_session=0), offline: AWS stores QoS 1 messages only
    (mqtt.html#mqtt-persistent-sessions: "the message broker stores unacknowledged QoS 1 messages and
    new QoS 1 messages"); on resume CONNACK Session Present = 1 ([MQTT-3.2.2-2]) and the QoS 1
    message arrives, the QoS 0 one does not."""
    cid, topic = uid("vedvarende"), f"kurs/ko/{uid('qos')}"
    sub = _raw_sub(cloud, closing, topic, 1, client_id=cid, clean=False)
    sub.send(mq.disconnect())
    sub.close()
    pub = _publisher(cloud, closing)
    pub.publish(topic, b"qos0", qos=0)
    pub.publish(topic, b"qos1", qos=1)

    back = mq.RawClient(cloud.mqtt_port)
    closing.append(back)
    ack = back.handshake(cid, clean=False)
    assert ack.reason == 0 and ack.session_present
    got = back.publishes(1)
    assert [(p.payload, p.qos) for p in got] == [(b"qos1", 1)]


def test_unacknowledged_qos1_is_sent_again_on_resume(cloud, closing):
    """A QoS 1 message delivered but not acknowledged before the connection dropped is sent again
    when the session resumes ([MQTT-4.4.0-1]: on reconnect with CleanSession 0 the server re-sends
    unacknowledged PUBLISH packets with DUP=1; AWS mqtt.html#mqtt-persistent-sessions)."""
    cid, topic = uid("ukvittert"), f"kurs/ko/{uid('dup')}"
    sub = _raw_sub(cloud, closing, topic, 1, client_id=cid, clean=False)
    _publisher(cloud, closing).publish(topic, b"en-gang-til", qos=1)
    first = sub.expect(mq.PUBLISH)
    assert first.payload == b"en-gang-til"
    sub.close()  # no PUBACK, no DISCONNECT

    back = mq.RawClient(cloud.mqtt_port)
    closing.append(back)
    assert back.handshake(cid, clean=False).session_present
    again = back.publishes(1)
    assert [p.payload for p in again] == [b"en-gang-til"]
    assert again[0].dup


def test_clean_session_reconnect_discards_the_old_session(cloud, closing):
    """CleanSession=1 discards the previous session: Session Present 0 and no queued messages
    ([MQTT-3.1.2-6], [MQTT-3.2.2-1]; AWS mqtt.html "Ending a persistent session")."""
    cid, topic = uid("rens"), f"kurs/ko/{uid('rens')}"
    sub = _raw_sub(cloud, closing, topic, 1, client_id=cid, clean=False)
    sub.send(mq.disconnect())
    sub.close()
    _publisher(cloud, closing).publish(topic, b"glemt", qos=1)
    back = mq.RawClient(cloud.mqtt_port)
    closing.append(back)
    ack = back.handshake(cid, clean=True)
    assert ack.reason == 0 and not ack.session_present
    assert not [p for p in back.collect(quiet=1.0) if p.type == mq.PUBLISH]


def test_empty_retained_publish_deletes_the_retained_message(cloud, closing):
    """A RETAIN=1 PUBLISH with a zero-byte payload removes the retained message; a later subscriber
    gets nothing ([MQTT-3.3.1-10], [MQTT-3.3.1-11]; AWS mqtt.html#mqtt-retain "Deleting a retained
    message")."""
    topic = f"kurs/retain/{uid('slett')}"
    pub = _publisher(cloud, closing)
    pub.publish(topic, b"snart borte", qos=1, retain=True)
    pub.publish(topic, b"", qos=1, retain=True)
    late = _raw_sub(cloud, closing, topic, 1)
    assert not [p for p in late.collect(quiet=1.0) if p.type == mq.PUBLISH]


@pytest.mark.parametrize("topic,watch", [
    ("$aws/events/presence/connected/{id}", "$aws/events/presence/connected/+"),
    ("$aws/events/subscriptions/subscribed/{id}", "$aws/events/subscriptions/subscribed/+"),
    ("$aws/things/{id}/shadow/update/delta", "$aws/things/+/shadow/update/delta"),
    ("$aws/things/{id}/shadow/update/accepted", "$aws/things/+/shadow/update/accepted"),
], ids=["presence", "subscribed", "shadow-delta", "shadow-accepted"])
def test_clients_cannot_forge_aws_iot_messages(cloud, closing, topic, watch):
    """Topics AWS IoT publishes itself allow clients only to subscribe
    (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html, "Event topics" and
    "Shadow topics": client operations allowed "Subscribe"; "Unsupported publish or subscribe
    operations to reserved topics can result in a terminated connection"). A forged lifecycle event
    or shadow reply never reaches subscribers."""
    spoof = topic.format(id=uid("falsk"))
    watcher = Paho(cloud.mqtt_port, uid("vakt"))
    closing.append(watcher)
    watcher.wait_connected().subscribe(watch)
    watcher.drain(0.3)
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    assert raw.handshake(uid("forfalsker")).reason == 0
    raw.send(mq.publish(spoof, b'{"state": {"lys": "av"}, "version": 99}', qos=1))
    raw.collect(quiet=1.0, total=3.0)
    assert spoof not in [m.topic for m in watcher.drain(1.0)], f"a client forged {spoof}"


def _connect_with_will(cloud, closing, topic: str, payload: bytes, *, version: int = 4,  # noqa: ANN001
                       will_props: bytes = b"") -> mq.RawClient:
    raw = mq.RawClient(cloud.mqtt_port, version=version)
    closing.append(raw)
    flags = 0x02 | 0x04 | (1 << 3)  # clean, will, will QoS 1
    body = mq.utf8("MQTT") + bytes([version, flags]) + b"\x00\x3c"
    if version == 5:
        body += b"\x00"
    body += mq.utf8(uid("testamente"))
    if version == 5:
        body += will_props or b"\x00"
    body += mq.utf8(topic) + mq.utf8(payload)
    raw.send(mq.packet(0x10, body))
    assert raw.expect(mq.CONNACK).reason == 0
    return raw


def test_will_is_published_when_the_connection_is_lost_not_on_disconnect(cloud, closing):
    """Last Will and Testament (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-lwt):
    a client that disappears without DISCONNECT has its Will published ([MQTT-3.1.2-8]); one that
    sends DISCONNECT does not ([MQTT-3.1.2-10])."""
    topic = f"kurs/testamente/{uid('lwt')}"
    watcher = Paho(cloud.mqtt_port, uid("vakt"))
    closing.append(watcher)
    watcher.wait_connected().subscribe(topic)

    polite = _connect_with_will(cloud, closing, topic, b"ryddig")
    polite.send(mq.disconnect())
    polite.close()
    lost = _connect_with_will(cloud, closing, topic, b"borte")
    lost.close()  # no DISCONNECT
    got = [m.payload for m in watcher.wait_messages(1, settle=0.5)]
    assert got == [b"borte"], got


def test_mqtt5_will_delay_lets_a_quick_reconnect_cancel_the_will(cloud, closing):
    """MQTT 5 Will Delay Interval (MQTT 5.0 §3.1.3.2.2): the Will is held for the delay and not sent
    if the client reconnects to its session in time ([MQTT-3.1.3-9]); AWS supports MQTT 5 Wills
    (mqtt.html#mqtt-lwt) and does not list the delay among its differences from the spec."""
    topic = f"kurs/testamente/{uid('forsinket')}"
    watcher = Paho(cloud.mqtt_port, uid("vakt"))
    closing.append(watcher)
    watcher.wait_connected().subscribe(topic)
    raw = mq.RawClient(cloud.mqtt_port, version=5)
    closing.append(raw)
    cid = uid("forsinket")
    flags = 0x04 | (1 << 3)  # clean start 0, will, will QoS 1
    body = (mq.utf8("MQTT") + bytes([5, flags]) + b"\x00\x3c" + mq.props((mq.SESSION_EXPIRY, 60)) + mq.utf8(cid)
            + mq.props((0x18, 5)) + mq.utf8(topic) + mq.utf8(b"for sent"))
    raw.send(mq.packet(0x10, body))
    assert raw.expect(mq.CONNACK).reason == 0
    raw.close()  # lost, will delayed 5 s
    back = mq.RawClient(cloud.mqtt_port, version=5)
    closing.append(back)
    assert back.handshake(cid, clean=False, properties=mq.props((mq.SESSION_EXPIRY, 60))).reason == 0
    assert watcher.next_message(6.5) is None, "the delayed Will was sent although the client came back"


@pytest.mark.parametrize("version", [4, 5])
def test_shared_subscription_delivers_each_message_to_one_member(cloud, closing, version):
    """Shared subscriptions `$share/<group>/<filter>` (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt5-shared-subscription,
    for MQTT 3.1.1 and 5; MQTT 5.0 §4.8.2): each message goes to one member of the group, every
    message to some member; an ordinary subscriber to the same topic gets them all."""
    topic, group = f"kurs/delt/{uid('jobb')}", uid("gruppe")
    members = []
    for i in range(2):
        m = Paho(cloud.mqtt_port, uid(f"medlem{i}"), v5=version == 5)
        closing.append(m)
        assert m.wait_connected().subscribe(f"$share/{group}/{topic}") == [1]
        members.append(m)
    everyone = Paho(cloud.mqtt_port, uid("alle"))
    closing.append(everyone)
    everyone.wait_connected().subscribe(topic)
    pub = _publisher(cloud, closing)
    sent = [str(i).encode() for i in range(10)]
    for p in sent:
        pub.publish(topic, p, qos=1)
    assert sorted(m.payload for m in everyone.wait_messages(len(sent))) == sorted(sent)
    eventually(lambda: sum(m.messages.qsize() for m in members) >= len(sent), 5)
    shared = [m.payload for member in members for m in member.drain(0.3)]
    assert sorted(shared) == sorted(sent), f"shared members got {shared}"


def test_expired_retained_message_is_not_replayed(cloud, closing):
    """A retained message with Message Expiry Interval 1 s is not sent to a subscriber that comes
    after it expired ([MQTT-3.3.2-5]; MQTT 5.0 §3.3.2.3.3)."""
    from tests.integration.clients import v5_props

    topic = f"kurs/retain/{uid('utlopt')}"
    pub = Paho(cloud.mqtt_port, uid("pub5"), v5=True)
    closing.append(pub)
    pub.wait_connected().publish(topic, b"gammel", qos=1, retain=True, properties=v5_props(MessageExpiryInterval=1))
    time.sleep(2.2)
    late = _raw_sub(cloud, closing, topic, 1)
    assert not [p for p in late.collect(quiet=1.0) if p.type == mq.PUBLISH], "an expired retained message came"


def test_takeover_with_a_persistent_session_carries_the_session_over(cloud, closing):
    """A device that reboots and reconnects (clean_session=0) while its old TCP connection still looks
    alive: the new connection takes over (the old one is closed) and resumes the session, Session
    Present 1, and receives what is published next (mqtt.html "AWS IoT differences from MQTT
    specifications": the previously connected client is disconnected; #mqtt-persistent-sessions)."""
    cid, topic = uid("omstart"), f"kurs/ko/{uid('overtak')}"
    old = _raw_sub(cloud, closing, topic, 1, client_id=cid, clean=False)
    new = mq.RawClient(cloud.mqtt_port)
    closing.append(new)
    ack = new.handshake(cid, clean=False)
    assert ack.reason == 0 and ack.session_present, "the session did not carry over to the new connection"
    assert old.closed_within(5), "the old connection was not closed"
    _publisher(cloud, closing).publish(topic, b"etter omstart", qos=1)
    got = new.expect(mq.PUBLISH)
    assert got.payload == b"etter omstart"


def test_retained_replay_uses_the_lower_qos(cloud, closing):
    """A retained message published with QoS 0 is replayed to a QoS 1 subscription as QoS 0
    (MQTT 3.1.1 §3.8.4 [MQTT-3.8.4-6]: min of the message's and the granted QoS)."""
    topic = f"kurs/retain/{uid('qos')}"
    pub = _publisher(cloud, closing)
    pub.publish(topic, b"qos0", qos=0, retain=True)
    pub.publish(f"{topic}/markør", b"", qos=1)  # its PUBACK means the QoS 0 one before it was handled
    late = _raw_sub(cloud, closing, topic, 1)
    replay = late.expect(mq.PUBLISH)
    assert (replay.payload, replay.qos, replay.retain) == (b"qos0", 0, True)


def test_wildcard_subscription_gets_no_retained_replay(cloud, closing):
    """AWS IoT replays a retained message only to a subscription whose filter is exactly its topic:
    "Subscription to topic filters that contain a wildcard character can't receive retained messages.
    To receive a retained message, the subscribe request must contain a topic filter that matches the
    retained message topic exactly" (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html,
    "AWS IoT differences from MQTT specifications", and #mqtt-retain "Subscribing to a retained message
    topic"; an AWS difference from [MQTT-3.3.1-6]). Later messages do reach the wildcard subscriber."""
    base = f"kurs/retain/{uid('jokertegn')}"
    pub = _publisher(cloud, closing)
    pub.publish(f"{base}/a", b"lagret", qos=1, retain=True)
    wild = _raw_sub(cloud, closing, f"{base}/#", 1)
    exact = _raw_sub(cloud, closing, f"{base}/a", 1)
    assert [(p.payload, p.retain) for p in exact.publishes(1)] == [(b"lagret", True)]
    pub.publish(f"{base}/a", b"ny", qos=1)
    got = wild.publishes(1)
    assert [(p.payload, p.retain) for p in got] == [(b"ny", False)], "a wildcard subscription got a retained replay"


def test_retained_messages_are_one_store_for_mqtt_and_the_http_data_plane(cloud, closing, iot_data):
    """A retained MQTT publish is what iot-data GetRetainedMessage returns, and a retained iot-data
    Publish is replayed to an MQTT subscriber with RETAIN=1
    (https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_GetRetainedMessage.html,
    API_iotdata_Publish.html `retain`; mqtt.html#mqtt-retain)."""
    via_mqtt, via_http = f"kurs/retain/{uid('mqtt')}", f"kurs/retain/{uid('http')}"
    _publisher(cloud, closing).publish(via_mqtt, b"fra mqtt", qos=1, retain=True)
    got = iot_data.get_retained_message(topic=via_mqtt)
    assert (got["topic"], got["payload"], got["qos"]) == (via_mqtt, b"fra mqtt", 1)
    iot_data.publish(topic=via_http, qos=1, retain=True, payload=b"fra http")
    sub = _raw_sub(cloud, closing, via_http, 1)
    assert [(p.payload, p.retain) for p in sub.publishes(1)] == [(b"fra http", True)]
    listed = {m["topic"] for m in iot_data.list_retained_messages()["retainedTopics"]}
    assert {via_mqtt, via_http} <= listed
