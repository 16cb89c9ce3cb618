"""The clients learners and devices really use, over mutual TLS with certificates and policies made
through boto3: the AWS IoT Device SDK v2 for Python (awsiotsdk: MQTT 3 connection, MQTT 5 client,
shadow client), the AWS IoT Device SDK v1 (AWSIoTPythonSDK) and Debian's mosquitto_pub/mosquitto_sub
(items 10.1, 10.2 and 10.7 as those clients see them).

AWS: connecting with the Device SDKs, https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-sdk;
the shadow MQTT topics, https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from tests.integration.clients import ALLOW_ALL, Paho, arn, uid
from tests.waiting import eventually

TIMEOUT = 10

pytestmark = pytest.mark.integration


def _restricted(cloud) -> dict:  # noqa: ANN001
    """Connect anywhere, publish/receive/subscribe under kurs/lov/ only."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": arn(cloud, "topic", "kurs/lov/*")},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": arn(cloud, "topicfilter", "kurs/lov/*")},
    ]}


# --- awsiotsdk: MQTT 3 connection (mqtt_connection_builder.mtls_from_path) ---------------------
def _mqtt3(cloud, ident, client_id: str, closing, *, clean: bool = True, interrupted=None):  # noqa: ANN001, ANN202
    from awsiot import mqtt_connection_builder

    conn = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost", port=cloud.mqtts_port, cert_filepath=ident.cert_file,
        pri_key_filepath=ident.key_file, ca_filepath=ident.ca_file, client_id=client_id,
        clean_session=clean, keep_alive_secs=30, on_connection_interrupted=interrupted,
        reconnect_min_timeout_secs=60, reconnect_max_timeout_secs=60)
    closing.append(lambda: conn.disconnect().result(2))  # an interrupted connection may never answer
    return conn


def test_sdk_v2_mqtt3_publish_subscribe_round_trip(cloud, identity, closing):
    """mtls_from_path connection: CONNECT, SUBSCRIBE QoS 1 granted, PUBLISH QoS 1 acknowledged and
    received back (the SDK's basic pub/sub sample, mqtt.html#mqtt-sdk)."""
    from awscrt import mqtt

    ident = identity()
    conn = _mqtt3(cloud, ident, uid("sdk3"), closing)
    assert conn.connect().result(TIMEOUT)["session_present"] is False
    topic, got = f"kurs/sdk3/{uid('rundtur')}", Future()
    sub, _ = conn.subscribe(topic, mqtt.QoS.AT_LEAST_ONCE,
                            callback=lambda topic, payload, **kw: got.done() or got.set_result((topic, payload)))
    assert sub.result(TIMEOUT)["qos"] == mqtt.QoS.AT_LEAST_ONCE
    pub, _ = conn.publish(topic, b"hei fra SDK v2", mqtt.QoS.AT_LEAST_ONCE)
    pub.result(TIMEOUT)
    assert got.result(TIMEOUT) == (topic, b"hei fra SDK v2")


def test_sdk_v2_mqtt3_persistent_session_resumes(cloud, identity, closing):
    """clean_session=False: the reconnect reports session_present and gets the QoS 1 message sent
    while it was away (mqtt.html#mqtt-persistent-sessions)."""
    from awscrt import mqtt

    ident, cid, topic = identity(), uid("sdk3-vedvarende"), f"kurs/sdk3/{uid('ko')}"
    first = _mqtt3(cloud, ident, cid, closing, clean=False)
    first.connect().result(TIMEOUT)
    sub, _ = first.subscribe(topic, mqtt.QoS.AT_LEAST_ONCE, callback=lambda **kw: None)
    sub.result(TIMEOUT)
    first.disconnect().result(TIMEOUT)
    sender = Paho(cloud.mqtts_port, uid("sender"), identity=ident)
    closing.append(sender)
    sender.wait_connected().publish(topic, b"mens du var borte")

    got = Future()
    second = _mqtt3(cloud, ident, cid, closing, clean=False)
    second.on_message(lambda topic, payload, **kw: got.done() or got.set_result(payload))
    assert second.connect().result(TIMEOUT)["session_present"] is True
    assert got.result(TIMEOUT) == b"mens du var borte"


def test_sdk_v2_mqtt3_denied_subscribe(cloud, identity, closing):
    """With a narrow policy, a SUBSCRIBE outside it is refused: SubscribeError (SUBACK 0x80, MQTT
    3.1.1 §3.9.3) or the connection interrupted (AWS closes it: aws/aws-iot-device-sdk-js#125); never
    granted."""
    from awscrt import mqtt

    interrupted = threading.Event()
    conn = _mqtt3(cloud, identity(_restricted(cloud)), uid("sdk3-smal"), closing,
                  interrupted=lambda **kw: interrupted.set())
    conn.connect().result(TIMEOUT)
    sub, _ = conn.subscribe("kurs/forbudt/#", mqtt.QoS.AT_LEAST_ONCE, callback=lambda **kw: None)
    try:
        granted = sub.result(TIMEOUT)
    except mqtt.SubscribeError:  # awscrt's word for SUBACK 0x80
        return
    except Exception:  # noqa: BLE001 - the connection was closed under it
        assert interrupted.wait(TIMEOUT), "the SUBSCRIBE failed, but neither by SUBACK 0x80 nor by a close"
        return
    raise AssertionError(f"a denied SUBSCRIBE was granted: {granted}")


def test_sdk_v2_mqtt3_denied_publish(cloud, identity, closing):
    """With a narrow policy, a QoS 1 PUBLISH outside it is never acknowledged and the connection is
    interrupted (AWS mqtt.html "AWS IoT differences from MQTT specifications"; iot-troubleshooting.html)."""
    from awscrt import mqtt

    interrupted = threading.Event()
    conn = _mqtt3(cloud, identity(_restricted(cloud)), uid("sdk3-smal"), closing,
                  interrupted=lambda **kw: interrupted.set())
    conn.connect().result(TIMEOUT)
    pub, _ = conn.publish("kurs/forbudt/x", b"nei", mqtt.QoS.AT_LEAST_ONCE)
    assert interrupted.wait(TIMEOUT), "the connection survived a denied publish"
    assert not (pub.done() and pub.exception() is None), "a denied publish was acknowledged"


# --- awsiotsdk: MQTT 5 client (mqtt5_client_builder.mtls_from_path) -----------------------------
class Mqtt5:
    """An awscrt MQTT 5 client with its lifecycle recorded."""

    def __init__(self, cloud, ident, client_id: str, closing, **connect: object) -> None:  # noqa: ANN001
        from awscrt import mqtt5
        from awsiot import mqtt5_client_builder

        self.connected: Future = Future()
        self.disconnects: list = []
        self.messages: list = []
        self.stopped = threading.Event()
        self.client = mqtt5_client_builder.mtls_from_path(
            endpoint="localhost", port=cloud.mqtts_port, cert_filepath=ident.cert_file,
            pri_key_filepath=ident.key_file, ca_filepath=ident.ca_file, client_id=client_id,
            connect_options=mqtt5.ConnectPacket(client_id=client_id, **connect),
            session_behavior=(mqtt5.ClientSessionBehaviorType.REJOIN_ALWAYS if connect.get("session_expiry_interval_sec")
                              else mqtt5.ClientSessionBehaviorType.CLEAN),
            min_reconnect_delay_ms=60_000, max_reconnect_delay_ms=60_000,
            on_lifecycle_connection_success=lambda d: self.connected.done() or self.connected.set_result(d),
            on_lifecycle_connection_failure=lambda d: self.connected.done() or self.connected.set_exception(
                RuntimeError(f"connection failure: {d.exception} {d.connack_packet}")),
            on_lifecycle_disconnection=lambda d: self.disconnects.append(d),
            on_lifecycle_stopped=lambda d: self.stopped.set(),
            on_publish_received=lambda d: self.messages.append(d.publish_packet))
        closing.append(self.stop)
        self.client.start()

    def stop(self) -> None:
        self.client.stop()
        self.stopped.wait(TIMEOUT)


def test_sdk_v2_mqtt5_connack_settings_and_round_trip_with_user_properties(cloud, identity, closing):
    """The SDK's MQTT 5 client negotiates with the CONNACK (Maximum QoS 1, Topic Alias Maximum 8 as
    in AWS quotas, MQTT 5.0 §3.2.2.3) and a QoS 1 PUBLISH with user properties comes back with them
    in order ([MQTT-3.3.2-17], [MQTT-3.3.2-18])."""
    from awscrt import mqtt5

    c = Mqtt5(cloud, identity(), uid("sdk5"), closing)
    settings = c.connected.result(TIMEOUT).negotiated_settings
    assert settings.maximum_qos == mqtt5.QoS.AT_LEAST_ONCE
    assert settings.topic_alias_maximum_to_server == 8
    topic = f"kurs/sdk5/{uid('rundtur')}"
    suback = c.client.subscribe(mqtt5.SubscribePacket(
        subscriptions=[mqtt5.Subscription(topic, mqtt5.QoS.AT_LEAST_ONCE)])).result(TIMEOUT)
    assert suback.reason_codes == [mqtt5.SubackReasonCode.GRANTED_QOS_1]
    props = [mqtt5.UserProperty("rom", "stue"), mqtt5.UserProperty("rom", "bad")]
    done = c.client.publish(mqtt5.PublishPacket(topic=topic, payload=b"v5", qos=mqtt5.QoS.AT_LEAST_ONCE,
                                                user_properties=props)).result(TIMEOUT)
    assert done.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
    assert eventually(lambda: c.messages, TIMEOUT)
    m = c.messages[0]
    assert (m.topic, m.payload) == (topic, b"v5")
    assert [(p.name, p.value) for p in m.user_properties or []] == [("rom", "stue"), ("rom", "bad")]


def test_sdk_v2_mqtt5_denied_operations_report_not_authorized(cloud, identity, closing):
    """MQTT 5 reason codes (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-reason-codes):
    a denied SUBSCRIBE gets SUBACK 0x87 Not authorized; a denied QoS 1 PUBLISH gets 0x87 in the PUBACK
    or in a server DISCONNECT."""
    from awscrt import mqtt5

    c = Mqtt5(cloud, identity(_restricted(cloud)), uid("sdk5-smal"), closing)
    c.connected.result(TIMEOUT)
    suback = c.client.subscribe(mqtt5.SubscribePacket(
        subscriptions=[mqtt5.Subscription("kurs/forbudt/#", mqtt5.QoS.AT_LEAST_ONCE)])).result(TIMEOUT)
    assert suback.reason_codes == [mqtt5.SubackReasonCode.NOT_AUTHORIZED]
    fut = c.client.publish(mqtt5.PublishPacket(topic="kurs/forbudt/x", payload=b"nei", qos=mqtt5.QoS.AT_LEAST_ONCE))
    try:
        puback_code = fut.result(TIMEOUT).puback.reason_code
    except Exception:  # noqa: BLE001 - the connection was closed under it
        puback_code = None
    disconnect_codes = [d.disconnect_packet.reason_code for d in c.disconnects if d.disconnect_packet]
    assert (puback_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
            or mqtt5.DisconnectReasonCode.NOT_AUTHORIZED in disconnect_codes), (puback_code, disconnect_codes)


def test_sdk_v2_mqtt5_certificate_without_policy_fails_to_connect(cloud, identity, closing):
    """No policy, no connection: the MQTT 5 client reports a connection failure, never success
    (iot-policies.html: implicit deny)."""
    c = Mqtt5(cloud, identity(policy=None), uid("sdk5-uten"), closing)
    with pytest.raises(Exception):  # noqa: B017 - any failure; success is the bug
        c.connected.result(TIMEOUT)


def test_sdk_v2_mqtt5_rejoins_its_session(cloud, identity, closing):
    """The SDK's MQTT 5 client with a Session Expiry Interval and REJOIN_ALWAYS: after a stop, the
    next start rejoins the session (CONNACK Session Present, MQTT 5.0 §3.2.2.1.1) and gets the QoS 1
    message sent meanwhile (mqtt.html#mqtt-persistent-sessions)."""
    from awscrt import mqtt5

    ident, cid, topic = identity(), uid("sdk5-vedvarende"), f"kurs/sdk5/{uid('ko')}"
    first = Mqtt5(cloud, ident, cid, closing, session_expiry_interval_sec=600)
    first.connected.result(TIMEOUT)
    first.client.subscribe(mqtt5.SubscribePacket(
        subscriptions=[mqtt5.Subscription(topic, mqtt5.QoS.AT_LEAST_ONCE)])).result(TIMEOUT)
    first.stop()
    sender = Paho(cloud.mqtts_port, uid("sender"), identity=ident)
    closing.append(sender)
    sender.wait_connected().publish(topic, b"mens du var borte")
    second = Mqtt5(cloud, ident, cid, closing, session_expiry_interval_sec=600)
    assert second.connected.result(TIMEOUT).connack_packet.session_present is True
    assert eventually(lambda: second.messages, TIMEOUT), "the queued message never came"
    assert second.messages[0].payload == b"mens du var borte"


# --- awsiotsdk: shadow client --------------------------------------------------------------
@pytest.mark.parametrize("transport", ["mqtt3", "mqtt5"])
def test_sdk_v2_shadow_get_update_delta_documents(cloud, iot, identity, closing, transport):
    """iotshadow against the local shadow service (device-shadow-mqtt.html), over the SDK's MQTT 3
    connection and over its MQTT 5 client: /get of a missing shadow is rejected 404; an update of
    desired is accepted (version 1) and publishes /update/delta with the difference and
    /update/documents with previous and current; once reported matches, /get has both sections,
    version 2, and no delta; an update naming a stale version is rejected 409."""
    from awscrt import mqtt
    from awsiot import iotshadow

    thing = uid("skygge")
    iot.create_thing(thingName=thing)
    if transport == "mqtt3":
        conn = _mqtt3(cloud, identity(ALLOW_ALL), thing, closing)
        conn.connect().result(TIMEOUT)
    else:
        c5 = Mqtt5(cloud, identity(ALLOW_ALL), thing, closing)
        c5.connected.result(TIMEOUT)
        conn = c5.client
    shadow = iotshadow.IotShadowClient(conn)
    seen: dict[str, list] = {k: [] for k in ("get_ok", "get_err", "upd_ok", "upd_err", "delta", "docs")}
    qos = mqtt.QoS.AT_LEAST_ONCE
    for fut, _ in (
        shadow.subscribe_to_get_shadow_accepted(iotshadow.GetShadowSubscriptionRequest(thing_name=thing), qos,
                                                seen["get_ok"].append),
        shadow.subscribe_to_get_shadow_rejected(iotshadow.GetShadowSubscriptionRequest(thing_name=thing), qos,
                                                seen["get_err"].append),
        shadow.subscribe_to_update_shadow_accepted(iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing), qos,
                                                   seen["upd_ok"].append),
        shadow.subscribe_to_update_shadow_rejected(iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing), qos,
                                                   seen["upd_err"].append),
        shadow.subscribe_to_shadow_delta_updated_events(
            iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing), qos, seen["delta"].append),
        shadow.subscribe_to_shadow_updated_events(
            iotshadow.ShadowUpdatedSubscriptionRequest(thing_name=thing), qos, seen["docs"].append),
    ):
        fut.result(TIMEOUT)

    shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="t1"), qos).result(TIMEOUT)
    assert eventually(lambda: seen["get_err"], TIMEOUT), "no /get/rejected for a missing shadow"
    assert seen["get_err"][0].code == 404 and seen["get_err"][0].client_token == "t1"

    shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
        thing_name=thing, client_token="t2", state=iotshadow.ShadowState(desired={"lys": "på"})), qos).result(TIMEOUT)
    assert eventually(lambda: seen["upd_ok"] and seen["delta"] and seen["docs"], TIMEOUT), seen
    assert seen["upd_ok"][0].version == 1 and seen["upd_ok"][0].state.desired == {"lys": "på"}
    assert seen["upd_ok"][0].client_token == "t2"
    assert seen["delta"][0].state == {"lys": "på"} and seen["delta"][0].version == 1
    assert seen["docs"][0].current.state.desired == {"lys": "på"}

    shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
        thing_name=thing, state=iotshadow.ShadowState(reported={"lys": "på"}), version=1), qos).result(TIMEOUT)
    assert eventually(lambda: len(seen["upd_ok"]) == 2, TIMEOUT)
    shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="t3"), qos).result(TIMEOUT)
    assert eventually(lambda: seen["get_ok"], TIMEOUT)
    doc = seen["get_ok"][0]
    assert doc.version == 2 and doc.state.desired == {"lys": "på"} and doc.state.reported == {"lys": "på"}
    assert not doc.state.delta
    assert len(seen["delta"]) == 1, "a delta was published though reported matches desired"

    shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
        thing_name=thing, state=iotshadow.ShadowState(reported={"lys": "av"}), version=1), qos).result(TIMEOUT)
    assert eventually(lambda: seen["upd_err"], TIMEOUT), "an update with a stale version was not rejected"
    assert seen["upd_err"][0].code == 409


def test_sdk_v2_named_shadow_update_and_delta(cloud, iot, identity, closing):
    """Named shadows ($aws/things/<thing>/shadow/name/<name>/…, device-shadow-mqtt.html): an update of
    desired through iotshadow is accepted on the named topic and publishes the named delta; the
    classic shadow of the thing is untouched (iot-data GetThingShadow without shadowName is 404)."""
    from awscrt import mqtt
    from awsiot import iotshadow

    thing, name = uid("navngitt"), "lys"
    iot.create_thing(thingName=thing)
    conn = _mqtt3(cloud, identity(ALLOW_ALL), thing, closing)
    conn.connect().result(TIMEOUT)
    shadow = iotshadow.IotShadowClient(conn)
    qos, accepted, deltas = mqtt.QoS.AT_LEAST_ONCE, [], []
    shadow.subscribe_to_update_named_shadow_accepted(iotshadow.UpdateNamedShadowSubscriptionRequest(
        thing_name=thing, shadow_name=name), qos, accepted.append)[0].result(TIMEOUT)
    shadow.subscribe_to_named_shadow_delta_updated_events(iotshadow.NamedShadowDeltaUpdatedSubscriptionRequest(
        thing_name=thing, shadow_name=name), qos, deltas.append)[0].result(TIMEOUT)
    shadow.publish_update_named_shadow(iotshadow.UpdateNamedShadowRequest(
        thing_name=thing, shadow_name=name, state=iotshadow.ShadowState(desired={"på": True})), qos).result(TIMEOUT)
    assert eventually(lambda: accepted and deltas, TIMEOUT), (accepted, deltas)
    assert accepted[0].version == 1 and deltas[0].state == {"på": True}
    import boto3

    iot_data = boto3.client("iot-data")
    doc = json.loads(iot_data.get_thing_shadow(thingName=thing, shadowName=name)["payload"].read())
    assert doc["state"]["desired"] == {"på": True}
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        iot_data.get_thing_shadow(thingName=thing)


# --- AWSIoTPythonSDK (v1) --------------------------------------------------------------------
def test_sdk_v1_connect_publish_subscribe(cloud, identity, closing):
    """AWSIoTMQTTClient with certificate files: connect, subscribe QoS 1, publish QoS 1, receive."""
    from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTClient

    ident = identity()
    c = AWSIoTMQTTClient(uid("sdk1"))
    c.configureEndpoint("localhost", cloud.mqtts_port)
    c.configureCredentials(ident.ca_file, ident.key_file, ident.cert_file)
    c.configureConnectDisconnectTimeout(TIMEOUT)
    c.configureMQTTOperationTimeout(5)
    assert c.connect()
    closing.append(c.disconnect)
    topic, got = f"kurs/sdk1/{uid('rundtur')}", []
    assert c.subscribe(topic, 1, lambda client, userdata, message: got.append(message.payload))
    assert c.publish(topic, b"hei fra SDK v1", 1)
    assert eventually(lambda: got, TIMEOUT) and got[0] == b"hei fra SDK v1"


def test_sdk_v1_shadow_client_delta_update_get(cloud, iot, iot_data, identity, closing):
    """AWSIoTMQTTShadowClient as a device uses it (device-shadow-mqtt.html): the app sets desired
    through iot-data UpdateThingShadow and the device's delta callback fires with the difference;
    the device's shadowUpdate of reported is accepted; shadowGet returns both sections, version 2.
    (The SDK drops a delta whose version it has already seen in an accepted reply, so the delta is
    caused by another client, as in the course.)"""
    from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTShadowClient

    ident, thing = identity(), uid("v1skygge")
    iot.create_thing(thingName=thing)
    sc = AWSIoTMQTTShadowClient(thing)
    sc.configureEndpoint("localhost", cloud.mqtts_port)
    sc.configureCredentials(ident.ca_file, ident.key_file, ident.cert_file)
    sc.configureConnectDisconnectTimeout(TIMEOUT)
    sc.configureMQTTOperationTimeout(5)
    assert sc.connect()
    closing.append(sc.disconnect)
    handler = sc.createShadowHandlerWithName(thing, True)
    results: dict[str, list] = {"update": [], "get": [], "delta": []}
    handler.shadowRegisterDeltaCallback(lambda payload, status, token: results["delta"].append(json.loads(payload)))
    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"desired": {"farge": "rød"}}}))
    assert eventually(lambda: results["delta"], TIMEOUT), "the delta callback never fired"
    assert results["delta"][0]["state"] == {"farge": "rød"} and results["delta"][0]["version"] == 1
    handler.shadowUpdate(json.dumps({"state": {"reported": {"farge": "rød"}}}),
                         lambda payload, status, token: results["update"].append((status, json.loads(payload))), 5)
    assert eventually(lambda: results["update"], TIMEOUT), "no answer to shadowUpdate"
    assert results["update"][0][0] == "accepted" and results["update"][0][1]["version"] == 2
    handler.shadowGet(lambda payload, status, token: results["get"].append((status, json.loads(payload))), 5)
    assert eventually(lambda: results["get"], TIMEOUT), "no answer to shadowGet"
    status, doc = results["get"][0]
    assert status == "accepted" and doc["version"] == 2
    assert doc["state"] == {"desired": {"farge": "rød"}, "reported": {"farge": "rød"}}


# --- mosquitto_pub / mosquitto_sub ----------------------------------------------------------
def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (Debian: mosquitto-clients; scripts/setup-mqtt-clients.sh)")
    return path


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    """Run a mosquitto client; a hang (no answer from the broker within 10 s) fails the test."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{Path(cmd[0]).name} hung for 10 s: the broker never answered") from e


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_clients_over_tls(cloud, identity, closing, version):
    """mosquitto_sub and mosquitto_pub with --cafile/--cert/--key, MQTT 3.1.1 and -V mqttv5: a QoS 1
    message goes through the local cloud over mutual TLS."""
    sub_bin, pub_bin = _need("mosquitto_sub"), _need("mosquitto_pub")
    ident, topic = identity(), f"kurs/mosquitto/{uid(version)}"
    tls = ["--cafile", ident.ca_file, "--cert", ident.cert_file, "--key", ident.key_file,
           "-h", "localhost", "-p", str(cloud.mqtts_port), "-V", version]
    sub = subprocess.Popen([sub_bin, *tls, "-i", uid("msub"), "-t", topic, "-q", "1", "-C", "1", "-W", "15", "-v"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    closing.append(sub)
    # mosquitto_sub prints nothing until a message comes; publish until it is there to hear it.
    deadline, out = time.monotonic() + 12, None
    while time.monotonic() < deadline and sub.poll() is None:
        pub = _run([pub_bin, *tls, "-i", uid("mpub"), "-t", topic, "-q", "1", "-m", "hei mosquitto"])
        assert pub.returncode == 0, pub.stderr
        try:
            out, err = sub.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:
            continue
    if out is None:
        out, err = sub.communicate(timeout=5)
    assert sub.returncode == 0, err
    assert out.strip() == f"{topic} hei mosquitto"


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_pub_with_a_certificate_without_policy_fails(cloud, identity, version):
    """A certificate with no policy: mosquitto_pub cannot publish (non-zero exit) (iot-policies.html)."""
    pub_bin = _need("mosquitto_pub")
    ident = identity(policy=None)
    pub = _run([pub_bin, "--cafile", ident.ca_file, "--cert", ident.cert_file, "--key", ident.key_file,
                "-h", "localhost", "-p", str(cloud.mqtts_port), "-V", version, "-i", uid("mpub"),
                "-t", "kurs/mosquitto/nei", "-q", "1", "-m", "nei"])
    assert pub.returncode != 0, f"mosquitto_pub succeeded without any policy: {pub.stdout} {pub.stderr}"
