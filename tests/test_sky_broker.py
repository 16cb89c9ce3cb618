"""The local cloud's broker and control plane, tested as a learner's code would meet them."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kurs import mqtt
from kurs.errors import CourseError

pytestmark = pytest.mark.integration


def _cert(iot, tmp_path: Path, active: bool = True) -> tuple[str, Path, Path]:
    r = iot.create_keys_and_certificate(setAsActive=active)
    # The local cloud enforces IoT policies: with none attached AWS IoT denies everything.
    # These tests are about TLS, so they get what `mos aws-iot-setup` attaches (iot:* on *).
    try:
        iot.create_policy(policyName="alt-tillatt", policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}))
    except iot.exceptions.ResourceAlreadyExistsException:
        pass
    iot.attach_policy(policyName="alt-tillatt", target=r["certificateArn"])
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(r["certificatePem"])
    key.write_text(r["keyPair"]["PrivateKey"])
    return r["certificateId"], cert, key


def _watch_close(client) -> threading.Event:
    gone = threading.Event()
    client.on_disconnect = lambda *a: gone.set()
    client.reconnect_delay_set(min_delay=60, max_delay=60)  # don't let paho hide the close
    return gone


def _closed_soon(client, timeout: float = 5.0) -> bool:
    """True once the broker has closed this client's connection."""
    return _watch_close(client).wait(timeout)


def test_pub_sub_over_plain_tcp(sky):
    with mqtt.Monitor("kurs/test/#") as mon:
        mqtt.publish("kurs/test/a", {"hei": "verden"})
        msg = mon.wait(topic="kurs/test/a")
    assert msg.json() == {"hei": "verden"}


def test_mutual_tls_with_certificate_from_create_keys_and_certificate(sky, iot, tmp_path):
    _, cert, key = _cert(iot, tmp_path)
    client = mqtt.connect("tls-enhet", tls=True, cert_file=cert, key_file=key)
    try:
        with mqtt.Monitor("tls/test") as mon:
            client.publish("tls/test", b"over TLS", qos=1).wait_for_publish(5)
            assert mon.wait().payload == b"over TLS"
    finally:
        client.disconnect()
        client.loop_stop()


def test_deactivated_certificate_is_refused(sky, iot, tmp_path):
    cert_id, cert, key = _cert(iot, tmp_path)
    mqtt.connect("aktiv-foer", tls=True, cert_file=cert, key_file=key).disconnect()
    iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    with pytest.raises(CourseError, match="ACTIVE"):
        mqtt.connect("deaktivert", tls=True, cert_file=cert, key_file=key, timeout=3)


def test_certificate_created_inactive_is_refused(sky, iot, tmp_path):
    _, cert, key = _cert(iot, tmp_path, active=False)
    with pytest.raises(CourseError):
        mqtt.connect("inaktiv", tls=True, cert_file=cert, key_file=key, timeout=3)


def test_unregistered_certificate_is_refused(sky, tmp_path):
    from kurs.sky.ca import ensure_tls_files

    stranger = ensure_tls_files(tmp_path / "fremmed")  # a valid certificate AWS never saw
    with pytest.raises(CourseError):
        mqtt.connect("fremmed", tls=True, cert_file=stranger.cert_file, key_file=stranger.key_file, timeout=3)


def test_tls_client_without_certificate_is_refused(sky):
    ctx = ssl.create_default_context(cafile=sky.ca_file)
    connect = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04anon"
    try:
        with socket.create_connection(("localhost", sky.mqtts_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(connect)
                answer = s.recv(4)
    except (ssl.SSLError, ConnectionError):
        answer = b""
    assert answer == b"", "a TLS client with no certificate got a CONNACK"


@pytest.mark.parametrize("topic,payload,qos,why", [
    ("kurs/stor", b"x" * (128 * 1024 + 1), 0, "payload over 128 KB"),
    ("a/b/c/d/e/f/g/h/i", b"{}", 0, "more than 7 slashes"),
    ("kurs/" + "x" * 260, b"{}", 0, "topic over 256 bytes"),
    ("kurs/qos2", b"{}", 2, "QoS 2"),
    ("$SYS/hei", b"{}", 0, "reserved $ topic"),
])
def test_aws_limits_disconnect_the_client(sky, topic, payload, qos, why):
    client = mqtt.connect()
    client.publish(topic, payload, qos=qos)
    assert _closed_soon(client), f"the broker accepted: {why}"
    client.loop_stop()


def test_the_cloud_keeps_serving_after_a_client_broke_the_rules(sky):
    bad = mqtt.connect()
    bad.publish("a/b/c/d/e/f/g/h/i/j", b"{}")
    assert _closed_soon(bad)
    bad.loop_stop()
    test_pub_sub_over_plain_tcp(sky)


def test_second_connection_with_same_client_id_takes_over(sky):
    first = mqtt.connect("samme-id")
    first_gone = _watch_close(first)
    second = mqtt.connect("samme-id")
    try:
        assert first_gone.wait(5), "the first connection was not dropped"
        with mqtt.Monitor("overtatt") as mon:
            second.publish("overtatt", b"ja", qos=1).wait_for_publish(5)
            assert mon.wait().payload == b"ja"
    finally:
        first.loop_stop()
        second.disconnect()
        second.loop_stop()


def test_qos2_subscription_is_granted_qos1(sky):
    client = mqtt.connect()
    granted = threading.Event()
    result = {}

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        result["codes"] = [rc.value for rc in reason_codes]
        granted.set()

    client.on_subscribe = on_subscribe
    client.subscribe("kurs/qos", qos=2)
    assert granted.wait(5)
    assert result["codes"] == [1]
    client.disconnect()
    client.loop_stop()


def test_aws_cli_lists_a_thing_created_with_boto3(sky, iot):
    iot.create_thing(thingName="cli-dings")
    env = {**os.environ, **sky.env()}
    aws = Path(sys.executable).with_name("aws")
    out = subprocess.run([str(aws), "iot", "list-things"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    names = [t["thingName"] for t in json.loads(out.stdout)["things"]]
    assert "cli-dings" in names


def test_ats_endpoint_leads_to_the_local_broker(sky, iot, tmp_path):
    endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    assert endpoint == iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"], "must be stable"
    _, cert, key = _cert(iot, tmp_path)
    client = mqtt.connect("via-endepunkt", host=endpoint, port=sky.mqtts_port, tls=True,
                          cert_file=cert, key_file=key)
    client.disconnect()
    client.loop_stop()


def test_iot_data_publish_reaches_mqtt_subscribers(sky, iot_data):
    with mqtt.Monitor("fra/http") as mon:
        iot_data.publish(topic="fra/http", qos=1, payload=b'{"kilde": "boto3"}')
        assert mon.wait().json() == {"kilde": "boto3"}


def test_messages_keep_flowing_under_a_burst(sky):
    with mqtt.Monitor("kurs/burst") as mon:
        client = mqtt.connect()
        for i in range(200):
            client.publish("kurs/burst", str(i).encode(), qos=1)
        deadline = time.monotonic() + 10
        while len(mon.messages) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        client.disconnect()
        client.loop_stop()
    assert [m.text for m in mon.messages] == [str(i) for i in range(200)]


def test_lifecycle_events_announce_connect_and_disconnect(sky):
    with mqtt.Monitor("$aws/events/presence/+/livssyklus") as mon:
        client = mqtt.connect("livssyklus")
        connected = mon.wait(topic="$aws/events/presence/connected/livssyklus").json()
        client.disconnect()
        client.loop_stop()
        gone = mon.wait(topic="$aws/events/presence/disconnected/livssyklus").json()
    assert connected["eventType"] == "connected" and connected["clientId"] == "livssyklus"
    assert gone["clientInitiatedDisconnect"] is True
    assert gone["sessionIdentifier"] == connected["sessionIdentifier"]
