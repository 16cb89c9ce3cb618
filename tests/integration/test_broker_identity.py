"""Identity and IoT policy on the mutual-TLS port, as real clients meet them (issue 10, item 10.1).

AWS IoT Core authenticates every TLS connection by its X.509 certificate and authorizes every
CONNECT, PUBLISH, SUBSCRIBE and RECEIVE against the IoT policies attached to it; with none
attached, everything is denied (AWS IoT Core policies, https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html:
an action no policy allows is implicitly denied).
"""

from __future__ import annotations

import ssl
import time

import pytest

from tests.integration import rawmqtt as mq
from tests.integration.clients import ALLOW_ALL, Paho, arn, uid
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _allow(cloud, *, connect: str = "*", publish: str = "*", subscribe: str = "*", receive: str = "*") -> dict:  # noqa: ANN001
    """A policy allowing Connect/Publish/Subscribe/Receive on the given names only."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": arn(cloud, "client", connect)},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": arn(cloud, "topic", publish)},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": arn(cloud, "topicfilter", subscribe)},
        {"Effect": "Allow", "Action": "iot:Receive", "Resource": arn(cloud, "topic", receive)},
    ]}


def _refused(client: mq.RawClient, client_id: str, **kw: object) -> tuple[bool, str]:
    """(refused, what the client saw) for a CONNECT: refused = no CONNACK 0x00 and the connection closed."""
    client.send(mq.connect(client_id, version=client.version, **kw))
    closed = client.closed_within(5)
    acks = [p for p in client.seen if p.type == mq.CONNACK]
    seen = f"CONNACKs {[(a.reason, a.session_present) for a in acks]}, closed={closed}"
    return closed and not any(a.reason == 0 for a in acks), seen


@pytest.mark.parametrize("version", [4, 5])
def test_certificate_without_policy_cannot_connect(cloud, identity, closing, version):
    """AWS iot-policies.html (implicit deny) and mqtt.html "AWS IoT differences from MQTT
    specifications" (a refused connection is closed: paho reports rc 7, not CONNACK 5)."""
    bare = identity(policy=None)
    raw = mq.RawClient(cloud.mqtts_port, tls=bare.tls(), version=version)
    closing.append(raw)
    refused, seen = _refused(raw, uid("ingen-policy"))
    assert refused, f"a certificate with no policy got in: {seen}"
    if version == 5:  # if MQTT 5 says why, it says 0x87 Not authorized (mqtt.html#mqtt-reason-codes: CONNACK)
        assert [p.reason for p in raw.seen if p.type == mq.CONNACK] in ([], [0x87]), seen


def test_certificate_without_policy_cannot_resume_someone_elses_persistent_session(cloud, identity, closing):
    """A bare certificate may not take over a persistent session (clean_session=0) under a client id
    whose owner's policy allows it: iot:Connect is checked before any session is resumed
    (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions;
    iot-policies.html implicit deny). The session's queued QoS 1 message stays for its owner."""
    owner, bare = identity(), identity(policy=None)
    client_id, topic = uid("eier"), f"kurs/{uid('sesjon')}"
    first = Paho(cloud.mqtts_port, client_id, identity=owner, clean=False)
    closing.append(first)
    first.wait_connected()
    assert first.subscribe(topic) == [1]
    first.disconnect()

    sender = Paho(cloud.mqtts_port, uid("sender"), identity=owner)
    closing.append(sender)
    sender.wait_connected().publish(topic, b"til eieren", qos=1)

    for version, kw in ((4, {"clean": False}), (5, {"clean": False, "properties": mq.props((mq.SESSION_EXPIRY, 3600))})):
        thief = mq.RawClient(cloud.mqtts_port, tls=bare.tls(), version=version)
        closing.append(thief)
        refused, seen = _refused(thief, client_id, **kw)
        assert refused, f"MQTT {version}: a bare certificate resumed the session: {seen}"
        assert not [p for p in thief.seen if p.type == mq.PUBLISH], "the owner's queued message leaked"

    back = Paho(cloud.mqtts_port, client_id, identity=owner, clean=False)
    closing.append(back)
    back.wait_connected()
    assert back.session_present, "the owner's session was lost"
    msg = back.next_message(10)
    assert msg is not None and msg.payload == b"til eieren"


@pytest.mark.parametrize("version", [4, 5])
def test_tls_without_client_certificate_is_refused(cloud, closing, version):
    """No principal on the TLS port = deny: AWS IoT requires a client certificate on 8883
    (https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html, "Protocols, port mappings,
    and authentication": MQTT on 8883 authenticates with an X.509 client certificate)."""
    ctx = ssl.create_default_context(cafile=cloud.ca_file)
    try:
        raw = mq.RawClient(cloud.mqtts_port, tls=ctx, version=version)
    except (ssl.SSLError, ConnectionError, OSError):
        return  # refused in the TLS handshake: as good as it gets
    closing.append(raw)
    try:
        refused, seen = _refused(raw, uid("anonym"))
    except (ssl.SSLError, ConnectionError, OSError):
        return
    assert refused, f"a TLS client without a certificate got in: {seen}"


def test_denied_publish_mqtt311_gets_no_puback_and_is_disconnected(cloud, identity, closing):
    """MQTT 3.1.1 over TLS, QoS 1 PUBLISH to a topic the policy does not allow: no PUBACK, the
    connection is closed, nobody receives it (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html
    "AWS IoT differences from MQTT specifications"; https://docs.aws.amazon.com/iot/latest/developerguide/iot-troubleshooting.html
    "Troubleshooting connectivity": a policy that denies the publish disconnects the device)."""
    ident = identity(_allow(cloud, publish="kurs/lov/*"))
    watcher = Paho(cloud.mqtt_port, uid("vakt"))
    closing.append(watcher)
    watcher.wait_connected().subscribe("kurs/#")

    raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(raw)
    assert raw.handshake(uid("nektet")).reason == 0
    raw.send(mq.publish("kurs/lov/ok", b"lov", qos=1, packet_id=1))
    assert raw.expect(mq.PUBACK).packet_id == 1
    raw.send(mq.publish("kurs/forbudt", b"forbudt", qos=1, packet_id=2))
    assert raw.closed_within(5), "the broker kept the connection after a denied publish"
    assert not [p for p in raw.seen if p.type == mq.PUBACK and p.packet_id == 2], "a denied publish got a PUBACK"
    got = [m.payload for m in watcher.wait_messages(1, settle=1.0)]
    assert b"lov" in got and b"forbudt" not in got


def test_denied_publish_mqtt5_reports_not_authorized(cloud, identity, closing):
    """MQTT 5 over TLS, QoS 1 PUBLISH the policy denies: the client is told 0x87 Not authorized
    (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-reason-codes lists 0x87 for
    PUBACK and DISCONNECT; MQTT 5.0 §3.4.2.1 / §3.14.2.1), in the PUBACK or in the DISCONNECT that
    closes the connection; the message reaches nobody."""
    ident = identity(_allow(cloud, publish="kurs/lov/*"))
    watcher = Paho(cloud.mqtt_port, uid("vakt"))
    closing.append(watcher)
    watcher.wait_connected().subscribe("kurs/#")

    raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls(), version=5)
    closing.append(raw)
    assert raw.handshake(uid("nektet5")).reason == 0
    raw.send(mq.publish("kurs/forbudt5", b"forbudt", qos=1, packet_id=7, version=5))
    seen = raw.collect(quiet=2.0, total=6.0)
    codes = [(p.type, p.reason) for p in seen if p.type in (mq.PUBACK, mq.DISCONNECT)]
    assert (mq.PUBACK, 0x87) in codes or (mq.DISCONNECT, 0x87) in codes, f"the client saw {codes}, closed={raw.closed}"
    assert b"forbudt" not in [m.payload for m in watcher.drain(1.0)]


@pytest.mark.parametrize("version", [4, 5])
def test_denied_subscribe_is_refused(cloud, identity, closing, version):
    """SUBSCRIBE to a filter the policy denies, next to one it allows.
    MQTT 5: SUBACK 0x87 Not authorized for the denied filter, the allowed one granted (MQTT 5.0
    §3.9.3; AWS https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-reason-codes lists
    0x87 for SUBACK). MQTT 3.1.1: SUBACK 0x80 Failure for it (MQTT 3.1.1 §3.9.3), or - as AWS IoT has
    long done - the connection closed ("the server will close the connection if client does not have
    authorized action", AWS SDK maintainer in aws/aws-iot-device-sdk-js#125); never granted."""
    ident = identity(_allow(cloud, subscribe="kurs/lov/*"))
    raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls(), version=version)
    closing.append(raw)
    assert raw.handshake(uid("abonnent")).reason == 0
    raw.send(mq.subscribe(3, [("kurs/lov/a", 1), ("kurs/forbudt/#", 1)], version=version))
    ack = raw.read(5)
    if version == 4 and (ack is None or raw.closed_within(2)):
        # AWS's way: the connection is closed (a SUBACK before the close must not grant the denied filter)
        assert raw.closed, "no SUBACK and no close for a denied SUBSCRIBE"
        assert ack is None or (ack.type == mq.SUBACK and ack.reasons[1] == 0x80), ack
        return
    assert ack is not None and ack.type == mq.SUBACK, f"expected SUBACK, got {ack}"
    assert ack.reasons == [1, 0x80 if version == 4 else 0x87]


def _live_tls_client(cloud, identity, closing):  # noqa: ANN001, ANN202
    ident = identity()
    client = Paho(cloud.mqtts_port, uid("levende"), identity=ident)
    closing.append(client)
    client.wait_connected()
    return ident, client


def test_deactivating_the_certificate_drops_its_live_connection(cloud, iot, identity, closing):
    """UpdateCertificate INACTIVE: AWS IoT disconnects devices using it
    (https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html)."""
    ident, client = _live_tls_client(cloud, identity, closing)
    iot.update_certificate(certificateId=ident.cert_id, newStatus="INACTIVE")
    assert client.gone.wait(10), "the connection of a deactivated certificate stayed up"


def test_revoking_the_certificate_drops_its_live_connection(cloud, iot, identity, closing):
    """UpdateCertificate REVOKED (https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateCertificate.html;
    activate-or-deactivate-device-cert.html): the device is disconnected."""
    ident, client = _live_tls_client(cloud, identity, closing)
    iot.update_certificate(certificateId=ident.cert_id, newStatus="REVOKED")
    assert client.gone.wait(10), "the connection of a revoked certificate stayed up"


def test_deleted_certificate_is_disconnected_and_cannot_come_back(cloud, iot, identity, closing):
    """Detach, deactivate, delete (https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteCertificate.html):
    the live connection is gone and a new CONNECT with the same files is refused."""
    ident, client = _live_tls_client(cloud, identity, closing)
    iot.detach_policy(policyName=ident.policy, target=ident.cert_arn)
    iot.update_certificate(certificateId=ident.cert_id, newStatus="INACTIVE")
    iot.delete_certificate(certificateId=ident.cert_id)
    assert client.gone.wait(10), "the connection of a deleted certificate stayed up"
    try:
        raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    except (ssl.SSLError, ConnectionError, OSError):
        return
    closing.append(raw)
    refused, seen = _refused(raw, uid("slettet"))
    assert refused, f"a deleted certificate got in again: {seen}"


def test_detaching_the_policy_ends_what_the_connection_may_do(cloud, iot, identity, closing):
    """DetachPolicy: AWS IoT evaluates policies on every operation
    (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html), so within seconds the
    connection is closed, at the latest by its next QoS 1 PUBLISH (which gets no PUBACK)."""
    ident, client = _live_tls_client(cloud, identity, closing)
    iot.detach_policy(policyName=ident.policy, target=ident.cert_arn)
    if not client.gone.wait(5):
        time.sleep(1)  # give a policy cache a moment, as AWS does
        mid = client.publish("kurs/etter-detach", b"x", qos=1, wait=False)
        assert eventually(client.gone.is_set, 10), "the connection still works without any policy"
        assert mid not in client.pubacks, "a publish without any policy was acknowledged"


def test_allowed_client_with_a_policy_does_get_in_over_tls(cloud, identity, closing):
    """The control case for the refusals above: the same kind of certificate with a policy gets CONNACK 0."""
    ident = identity(ALLOW_ALL)
    for v5 in (False, True):
        client = Paho(cloud.mqtts_port, uid("slipper-inn"), identity=ident, v5=v5)
        closing.append(client)
        client.wait_connected()


def test_connect_policy_on_the_client_id_decides_who_gets_in(cloud, identity, closing):
    """iot:Connect on `client/esp32_*`: the same certificate gets in as esp32_… and is refused as
    anything else (https://docs.aws.amazon.com/iot/latest/developerguide/connect-policy.html)."""
    ident = identity(_allow(cloud, connect="esp32_*"))
    ok = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(ok)
    assert ok.handshake(uid("esp32").replace("-", "_")).reason == 0
    other = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(other)
    refused, seen = _refused(other, uid("annen"))
    assert refused, f"iot:Connect on client/esp32_* let another client id in: {seen}"


def test_receive_is_authorized_per_message(cloud, identity, closing):
    """iot:Receive is checked for every message delivered: a subscription to kurs/# that the policy
    allows still gets only the topics iot:Receive allows
    (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html, iot:Receive: the
    permission is checked each time a message is delivered to the client)."""
    ident = identity(_allow(cloud, subscribe="kurs/*", receive="kurs/lov/*"))
    sub = Paho(cloud.mqtts_port, uid("mottaker"), identity=ident)
    closing.append(sub)
    assert sub.wait_connected().subscribe("kurs/#") == [1]
    pub = Paho(cloud.mqtt_port, uid("sender"))
    closing.append(pub)
    pub.wait_connected()
    pub.publish("kurs/annet/x", b"ikke til deg", qos=1)
    pub.publish("kurs/lov/x", b"til deg", qos=1)
    got = [m.payload for m in sub.wait_messages(1)]  # published after the denied one: it came first if at all
    assert got == [b"til deg"], got
    assert not sub.gone.is_set()


def test_the_course_device_policy_binds_the_client_id_to_the_attached_thing(cloud, iot, identity, closing):
    """The course's least-privilege device policy (kurs.provisioning.device_policy): iot:Connect on
    client/${iot:Connection.Thing.ThingName} with iot:Connection.Thing.IsAttached
    (https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html). The
    certificate attached to thing T gets in as T, not as another client id; it may publish to
    devices/T/… but not to devices/<other>/… (closed, nothing delivered)."""
    from kurs.provisioning import device_policy

    ident = identity(device_policy.document(cloud.region, cloud.account_id))
    thing, other = uid("esp32").replace("-", "_"), uid("esp32").replace("-", "_")
    iot.create_thing(thingName=thing)
    iot.attach_thing_principal(thingName=thing, principal=ident.cert_arn)

    stranger = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(stranger)
    refused, seen = _refused(stranger, other)
    assert refused, f"the device certificate got in under another client id: {seen}"

    watcher = Paho(cloud.mqtt_port, uid("vakt"))
    closing.append(watcher)
    watcher.wait_connected().subscribe("devices/#")
    dev = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(dev)
    assert dev.handshake(thing).reason == 0
    dev.send(mq.publish(f"devices/{thing}/events", b"egen", qos=1, packet_id=1))
    assert dev.expect(mq.PUBACK).packet_id == 1
    dev.send(mq.publish(f"devices/{other}/events", b"andres", qos=1, packet_id=2))
    assert dev.closed_within(5), "publishing as another thing did not close the connection"
    got = [(m.topic, m.payload) for m in watcher.wait_messages(1, settle=0.5)]
    assert (f"devices/{thing}/events", b"egen") in got and all(p != b"andres" for _, p in got)


def test_retained_publish_needs_iot_retain_publish(cloud, identity, closing):
    """A RETAIN=1 PUBLISH needs iot:RetainPublish as well as iot:Publish
    (https://docs.aws.amazon.com/iot/latest/developerguide/retained-message-policy-examples.html;
    iot-policy-actions.html "iot:RetainPublish"). Without it the retained publish is denied (3.1.1:
    no PUBACK, closed) and nothing is retained; the same policy publishes without RETAIN fine."""
    ident = identity(_allow(cloud, publish="kurs/*"))
    topic = f"kurs/{uid('beholdt')}"
    raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(raw)
    assert raw.handshake(uid("uten-retain")).reason == 0
    raw.send(mq.publish(topic, b"vanlig", qos=1, packet_id=1))
    assert raw.expect(mq.PUBACK).packet_id == 1
    raw.send(mq.publish(topic, b"beholdt", qos=1, packet_id=2, retain=True))
    assert raw.closed_within(5), "a retained publish without iot:RetainPublish was taken"
    assert not [p for p in raw.seen if p.type == mq.PUBACK and p.packet_id == 2]
    late = Paho(cloud.mqtt_port, uid("sen"))
    closing.append(late)
    late.wait_connected().subscribe(topic)
    assert late.next_message(1.0) is None, "the denied retained message was stored"


def test_certificate_deactivated_while_offline_cannot_resume_its_session(cloud, iot, identity, closing):
    """A device with a persistent session goes offline; its certificate is set INACTIVE; the resume
    (clean_session=0) is refused and nothing queued leaks
    (https://docs.aws.amazon.com/iot/latest/developerguide/activate-or-deactivate-device-cert.html;
    mqtt.html#mqtt-persistent-sessions)."""
    ident = identity()
    cid, topic = uid("deaktivert"), f"kurs/{uid('ko')}"
    dev = Paho(cloud.mqtts_port, cid, identity=ident, clean=False)
    closing.append(dev)
    dev.wait_connected().subscribe(topic)
    dev.disconnect()
    sender = Paho(cloud.mqtt_port, uid("sender"))
    closing.append(sender)
    sender.wait_connected().publish(topic, b"hemmelig", qos=1)
    iot.update_certificate(certificateId=ident.cert_id, newStatus="INACTIVE")
    try:
        raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    except (ssl.SSLError, ConnectionError, OSError):
        return  # refused in the TLS handshake
    closing.append(raw)
    refused, seen = _refused(raw, cid, clean=False)
    assert refused, f"a deactivated certificate resumed its session: {seen}"
    assert not [p for p in raw.seen if p.type == mq.PUBLISH], "the queued message leaked"


def test_mqtt_wildcards_are_literal_in_a_subscribe_policy(cloud, identity, closing):
    """In a policy, `+` and `#` in a topicfilter resource are literal characters
    (https://docs.aws.amazon.com/iot/latest/developerguide/pub-sub-policy.html, "Policies for topic
    filters"): `topicfilter/kurs/rom/+` allows SUBSCRIBE to exactly `kurs/rom/+`, not to `kurs/rom/stue`
    (which `*` would be needed for)."""
    ident = identity(_allow(cloud, subscribe="kurs/rom/+"))
    raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls(), version=5)
    closing.append(raw)
    assert raw.handshake(uid("joker")).reason == 0
    raw.send(mq.subscribe(1, [("kurs/rom/+", 1), ("kurs/rom/stue", 1)], version=5))
    assert raw.expect(mq.SUBACK).reasons == [1, 0x87]
