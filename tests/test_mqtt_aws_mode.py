"""kurs.mqtt in aws mode, tested by pointing aws mode at the local cloud (we cannot reach AWS here).

Same boto3 calls and the same paho TLS code as against AWS; AWS_ENDPOINT_URL only changes
where the calls go, and the local broker's TLS port and CA stand in for AWS's.
"""

from __future__ import annotations

import json
import os
import ssl

import pytest
from waiting import eventually

from kurs import aws_mode, mqtt, naming
from kurs.errors import CourseError
from kurs.provisioning import notebook

LOCAL_ACCOUNT = "123456789012"  # the local cloud's (moto's) account
ARN = f"arn:aws:iot:eu-west-1:{LOCAL_ACCOUNT}"


@pytest.fixture
def confirmed(aws_env, monkeypatch):
    monkeypatch.setenv("KURS_AWS_KONTO", LOCAL_ACCOUNT)


def _presence(mon: mqtt.Monitor, client_prefix: str) -> list[dict]:
    """The connected events seen so far for client ids starting with ``client_prefix``."""
    return [m.json() for m in list(mon.messages) if m.topic.startswith("$aws/events/presence/connected/")
            and m.json()["clientId"].startswith(client_prefix)]


@pytest.mark.integration
@pytest.mark.parametrize("port,alpn", [(8883, None), (443, "x-amzn-mqtt-ca")])
def test_monitor_and_publish_go_over_mutual_tls_as_the_notebook(confirmed, monkeypatch, sky, iot, capsys,
                                                                 port, alpn):
    monkeypatch.setenv("KURS_AWS_MQTT_PORT", str(port))
    topics = ["kurs/aws-test", "$aws/events/presence/connected/+"]
    with mqtt.Monitor(topics) as mon:
        sock = mon.client.socket()
        assert isinstance(sock, ssl.SSLSocket) and sock.getpeername()[1] == sky.mqtts_port
        assert sock.selected_alpn_protocol() == alpn
        mqtt.publish("kurs/aws-test", {"hei": "fra aws-modus"})
        assert mon.wait(topic="kurs/aws-test").json() == {"hei": "fra aws-modus"}
        # publish()'s own connection, announced as AWS IoT does
        assert eventually(lambda: _presence(mon, naming.NOTEBOOK_THING + "-"))
        presence = _presence(mon, naming.NOTEBOOK_THING + "-")[0]

    identity = notebook.identity()
    assert presence["principalIdentifier"] == identity.certificate_id
    assert (identity.thing_name, identity.policy_name) == ("kurs-notatbok", "kurs-notatbok")
    assert (identity.port, identity.alpn) == (port, alpn)  # what a real AWS connection would use
    assert f"aws-{LOCAL_ACCOUNT}-eu-west-1" in str(identity.key_file)
    assert os.stat(identity.key_file).st_mode & 0o777 == 0o600
    attributes = iot.describe_thing(thingName="kurs-notatbok")["attributes"]
    assert naming.is_course_thing(attributes)
    out = capsys.readouterr().out
    assert "MQTT i aws-modus: notatboka kobler til localhost" in out and "«kurs-notatbok»" in out
    assert "PRIVATE KEY" not in out


@pytest.mark.integration
def test_the_mqtt_console_follows_aws_mode(confirmed):
    from kurs.widgets import MqttConsole

    console = MqttConsole("state")
    try:
        assert isinstance(console._client.socket(), ssl.SSLSocket)
        mqtt.publish("state", {"on": True})
        assert eventually(lambda: any(topic == "state" for _, topic, _ in console.messages))
    finally:
        console.close()


@pytest.mark.integration
def test_the_broker_holds_the_notebook_to_its_policy(confirmed):
    identity = notebook.identity()
    with pytest.raises(CourseError, match="avvist"):
        mqtt.Monitor("#")  # subscribing to everything is not the notebook's business
    with pytest.raises(CourseError, match="lukket forbindelsen"):  # its certificate, another client id
        mqtt.connect("esp32_ANNEN", cert_file=identity.cert_file, key_file=identity.key_file)
    with pytest.raises(CourseError, match="tillater ikke klient-ID-en"):
        mqtt.connect("esp32_ANNEN")


@pytest.mark.parametrize("action,name,allowed", [
    ("iot:Connect", "kurs-notatbok", True),
    ("iot:Connect", "kurs-notatbok-1a2b3c4d", True),
    ("iot:Connect", "esp32_F7F2AD", False),
    ("iot:Publish", "state", True),
    ("iot:Publish", "devices/esp32_F7F2AD/events", True),
    ("iot:Publish", "kurs/ekko/notatbok", True),
    ("iot:Publish", "$aws/things/esp32_F7F2AD/shadow/update", True),
    ("iot:Publish", "$aws/events/presence/connected/esp32_F7F2AD", False),
    ("iot:Publish", "hei/verden", False),
    ("iot:Subscribe", "devices/#", True),
    ("iot:Subscribe", "$aws/things/+/shadow/update/#", True),
    ("iot:Subscribe", "$aws/events/presence/connected/+", True),
    ("iot:Subscribe", "#", False),
    ("iot:Subscribe", "$aws/things/esp32_F7F2AD/jobs/notify", False),
    ("iot:Receive", "$aws/events/presence/disconnected/esp32_F7F2AD", True),
    ("iot:Receive", "hei/verden", False),
])
def test_the_notebook_policy_allows_the_course_topics_and_nothing_else(action, name, allowed):
    from kurs.provisioning.device_policy import wrap
    from kurs.sky.broker.policy import Context, evaluate, parse, resource_arn

    policy = parse(json.dumps(wrap(notebook.statements(ARN))), "kurs-notatbok")
    client = name if action == "iot:Connect" else "kurs-notatbok-1a2b3c4d"
    decision = evaluate([policy], action, resource_arn(action, name, "eu-west-1", LOCAL_ACCOUNT), Context(client))
    assert decision.allowed is allowed


@pytest.mark.integration
def test_an_unconfirmed_account_refuses_before_any_mqtt_connection(aws_env, monkeypatch, iot):
    import paho.mqtt.client as paho

    from kurs.widgets import MqttConsole

    sent: list[str] = []
    aws_mode.session().events.register("before-send", lambda event_name, **kw: sent.append(event_name))
    dialled: list[tuple] = []
    real_connect = paho.Client.connect
    monkeypatch.setattr(paho.Client, "connect", lambda self, *a, **kw: dialled.append(a) or real_connect(self, *a, **kw))
    for attempt in (lambda: mqtt.Monitor("state"), lambda: mqtt.publish("state", {"on": True}),
                    lambda: MqttConsole("state")):
        with pytest.raises(CourseError) as err:
            attempt()
        assert LOCAL_ACCOUNT in str(err.value) and "ikke bekreftet" in str(err.value)
    assert dialled == []
    assert [e.split(".", 1)[1] for e in sent] == ["sts.GetCallerIdentity"]


@pytest.mark.integration
def test_lokal_mode_still_means_plain_tcp_to_the_local_cloud(sky, monkeypatch):
    monkeypatch.setenv("KURS_MODUS", "lokal")
    client = mqtt.connect()
    try:
        sock = client.socket()
        assert not isinstance(sock, ssl.SSLSocket) and sock.getpeername()[1] == sky.mqtt_port
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.integration
def test_cleanup_removes_the_notebook_identity_and_it_comes_back_when_needed(confirmed, iot):
    from kurs.cleanup import clean

    first = notebook.identity()
    result = clean(verbose=False)
    removed = {(i.kind, i.name) for i in result.removed}
    assert {("thing", "kurs-notatbok"), ("policy", "kurs-notatbok"),
            ("certificate", first.certificate_id[:12] + "…"), ("files", str(first.key_file.parent))} <= removed
    assert "kurs-notatbok" not in [t["thingName"] for t in iot.list_things()["things"]]
    assert not first.key_file.exists()

    mqtt.publish("state", {"on": False})  # provisioned again, with a new certificate
    assert notebook.identity().certificate_id != first.certificate_id
