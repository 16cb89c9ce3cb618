"""Identity over mutual TLS: the certificate is bound at the handshake and checked at every
CONNECT; changing it in the control plane drops its live connections within seconds.

AWS IoT developer guide: "Activate or deactivate a client certificate" and "Revoke a client
certificate" (devices using it are disconnected), "Detach an AWS IoT policy from a client
certificate", "AWS IoT Core policies" (iot:Connect is checked on every connection).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest

pytestmark = pytest.mark.integration


def _device(iot, tmp_path: Path, policy_name: str) -> tuple[str, str, Path, Path]:
    r = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_policy(policyName=policy_name, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}))
    iot.attach_policy(policyName=policy_name, target=r["certificateArn"])
    cert, key = tmp_path / f"{policy_name}.crt", tmp_path / f"{policy_name}.key"
    cert.write_text(r["certificatePem"])
    key.write_text(r["keyPair"]["PrivateKey"])
    return r["certificateId"], r["certificateArn"], cert, key


def _connect(sky, cert: Path, key: Path, *, clean: bool = True, protocol: int = paho.MQTTv311,
             client_id: str | None = None):
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or f"id-{uuid.uuid4().hex[:6]}",
                         protocol=protocol, **({"clean_session": clean} if protocol != paho.MQTTv5 else {}))
    client.tls_set(ca_certs=sky.ca_file, certfile=str(cert), keyfile=str(key))
    client.reconnect_delay_set(60, 60)
    state = {"connected": threading.Event(), "gone": threading.Event()}
    client.on_connect = lambda c, u, f, rc, p: state["connected"].set() if not rc.is_failure else None
    client.on_disconnect = lambda *a: state["gone"].set()
    client.connect("localhost", sky.mqtts_port)
    client.loop_start()
    return client, state


@pytest.mark.parametrize("change", ["deactivate", "revoke", "detach"])
def test_live_connection_is_dropped_within_seconds(sky, iot, tmp_path, change):
    name = f"p-{change}-{uuid.uuid4().hex[:4]}"
    cert_id, arn, cert, key = _device(iot, tmp_path, name)
    client, state = _connect(sky, cert, key)
    try:
        assert state["connected"].wait(5)
        if change == "deactivate":
            iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
        elif change == "revoke":
            iot.update_certificate(certificateId=cert_id, newStatus="REVOKED")
        else:
            iot.detach_policy(policyName=name, target=arn)
        t0 = time.monotonic()
        assert state["gone"].wait(10), f"still connected after {change}"
        assert time.monotonic() - t0 < 6
    finally:
        client.loop_stop()


def test_session_resumption_with_a_deactivated_certificate_is_refused(sky, iot, tmp_path):
    """The issue's security hole: a persistent session must not let a certificate back in."""
    name = f"p-res-{uuid.uuid4().hex[:4]}"
    cert_id, _, cert, key = _device(iot, tmp_path, name)
    client, state = _connect(sky, cert, key, clean=False, client_id="vedvarende-enhet")
    assert state["connected"].wait(5)
    client.disconnect()
    client.loop_stop()
    iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    again, state2 = _connect(sky, cert, key, clean=False, client_id="vedvarende-enhet")
    try:
        assert not state2["connected"].wait(3)
    finally:
        again.loop_stop()


def test_mqtt5_over_tls_gets_connack_and_reason_codes(sky, iot, tmp_path):
    """AWS IoT developer guide, "MQTT 5 supported features": the SDK v2's default is MQTT 5."""
    name = f"p-v5-{uuid.uuid4().hex[:4]}"
    _, _, cert, key = _device(iot, tmp_path, name)
    client, state = _connect(sky, cert, key, protocol=paho.MQTTv5)
    try:
        assert state["connected"].wait(5)
        info = client.publish("v5/tls", b"hei", qos=1)
        info.wait_for_publish(5)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()
