"""Provisioning against the real local cloud, and the cloud enforcing the policy it attaches."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kurs import mqtt
from kurs.errors import CourseError
from kurs.provisioning import provision, verify

pytestmark = pytest.mark.integration


def _closed_within(client, timeout: float = 5.0) -> bool:
    gone = threading.Event()
    client.on_disconnect = lambda *a: gone.set()
    client.reconnect_delay_set(min_delay=60, max_delay=60)  # don't let paho hide the close
    return gone.wait(timeout)


def _log_text(sky) -> str:
    return Path(sky.log_file).read_text(errors="replace")


def _key_body(key_file: Path) -> str:
    """The secret part of a PEM key (without the BEGIN/END lines)."""
    return "".join(line for line in key_file.read_text().splitlines() if not line.startswith("-----"))


@pytest.fixture(scope="module")
def device(sky):
    return provision("esp32_PROV01", verbose=False)


def test_provisioning_twice_gives_one_thing_one_active_certificate_one_policy(sky, iot, capsys):
    first = provision("esp32_TWICE1")
    second = provision("esp32_TWICE1")
    out = capsys.readouterr().out
    assert second.certificate_id == first.certificate_id
    assert "fantes fra før" in out and "bruker det" in out  # the second run says it reused
    assert [t["thingName"] for t in iot.list_things()["things"]].count("esp32_TWICE1") == 1
    principals = iot.list_thing_principals(thingName="esp32_TWICE1")["principals"]
    assert principals == [first.certificate_arn]
    active = [c for c in iot.list_certificates()["certificates"]
              if c["certificateArn"] in principals and c["status"] == "ACTIVE"]
    assert len(active) == 1
    assert [p["policyName"] for p in iot.list_policies()["policies"]].count("kurs-esp32_TWICE1") == 1
    assert [p["policyName"] for p in iot.list_attached_policies(target=first.certificate_arn)["policies"]] == [
        "kurs-esp32_TWICE1"]


def test_a_lost_key_gets_a_new_certificate_and_the_old_one_is_retired(sky, iot):
    first = provision("esp32_MISTET", verbose=False)
    first.key_file.unlink()
    second = provision("esp32_MISTET", verbose=False)
    assert second.certificate_id != first.certificate_id
    assert iot.list_thing_principals(thingName="esp32_MISTET")["principals"] == [second.certificate_arn]
    ids = [c["certificateId"] for c in iot.list_certificates()["certificates"]]
    assert first.certificate_id not in ids


def test_credential_files_are_private_and_named_like_mos(device):
    folder = device.key_file.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (device.key_file, device.cert_file, device.ca_file, folder / "provisioning.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert device.cert_file.name == "aws-esp32_PROV01.crt.pem"
    assert device.key_file.name == "aws-esp32_PROV01.key.pem"
    assert "PRIVATE KEY" not in (folder / "provisioning.json").read_text()


def test_device_config_is_what_mos_aws_iot_setup_sets(sky, device):
    cfg = device.device_config
    assert cfg["mqtt.enable"] is True
    assert cfg["mqtt.server"] == f"localhost:{sky.mqtts_port}"
    # The CA gets a file of its own: ca.pem on a real board is the ca-bundle library's bundle,
    # which mos aws-iot-setup never uploads (it only sets mqtt.ssl_ca_cert; mos cli/aws/aws.go).
    assert (cfg["mqtt.ssl_cert"], cfg["mqtt.ssl_key"], cfg["mqtt.ssl_ca_cert"]) == (
        "aws-esp32_PROV01.crt.pem", "aws-esp32_PROV01.key.pem", "kurs-ca.pem")
    assert cfg["aws.thing_name"] == "esp32_PROV01"


def test_no_private_key_in_output_or_cloud_log(sky, capsys):
    result = provision("esp32_HEMMELIG")
    shown = capsys.readouterr()
    secret = _key_body(result.key_file)
    assert len(secret) > 40
    for text in (shown.out, shown.err, str(result), repr(result.device_config), _log_text(sky)):
        assert secret not in text
        assert "PRIVATE KEY" not in text


def test_fs_dir_gets_the_files_and_the_saved_configuration(sky, tmp_path):
    result = provision("esp32_FILER1", fs_dir=tmp_path, verbose=False)
    for name in ("aws-esp32_FILER1.crt.pem", "aws-esp32_FILER1.key.pem", "kurs-ca.pem"):
        assert (tmp_path / name).is_file()
    assert stat.S_IMODE((tmp_path / "aws-esp32_FILER1.key.pem").stat().st_mode) == 0o600
    saved = json.loads((tmp_path / "conf9.json").read_text())
    assert saved["mqtt"]["server"] == result.device_config["mqtt.server"]
    assert saved["aws"]["thing_name"] == "esp32_FILER1"


def test_provisioned_client_connects_over_mutual_tls_and_its_publish_arrives(sky, device):
    client = device.connect()
    try:
        with mqtt.Monitor("devices/esp32_PROV01/#") as mon:
            client.publish("devices/esp32_PROV01/events", b'{"btnCount": 1}', qos=1).wait_for_publish(5)
            assert mon.wait(topic="devices/esp32_PROV01/events").json() == {"btnCount": 1}
            client.publish("state", b'{"on": true}', qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_same_certificate_under_another_client_id_is_refused(sky, device):
    with pytest.raises(CourseError, match="iot:Connect"):
        device.connect("esp32_ANNEN", timeout=3)
    assert "nektet iot:Connect" in _log_text(sky) and "client/esp32_ANNEN" in _log_text(sky)


def test_publish_outside_the_policy_disconnects_the_client(sky, device):
    client = device.connect()
    with mqtt.Monitor("devices/#") as mon:
        client.publish("devices/esp32_NABO/events", b"{}", qos=1)
        assert _closed_within(client), "AWS IoT drops a client that publishes outside its policy"
        client.loop_stop()
        with pytest.raises(CourseError):
            mon.wait(timeout=0.5, topic="devices/esp32_NABO/events")
    assert "nektet iot:Publish" in _log_text(sky) and "topic/devices/esp32_NABO/events" in _log_text(sky)


def test_subscribe_outside_the_policy_disconnects_the_client(sky, device):
    client = device.connect()
    client.subscribe("#", qos=1)
    assert _closed_within(client)
    client.loop_stop()
    assert "nektet iot:Subscribe" in _log_text(sky) and "topicfilter/#" in _log_text(sky)


def test_receive_is_checked_per_message_and_a_denied_one_is_just_not_delivered(sky, iot, tmp_path):
    arn = "arn:aws:iot:eu-west-1:123456789012"
    iot.create_policy(policyName="les-bare-ok", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/leser"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{arn}:topicfilter/post/*"},
        {"Effect": "Allow", "Action": "iot:Receive", "Resource": f"{arn}:topic/post/ok"}]}))
    r = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName="les-bare-ok", target=r["certificateArn"])
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text(r["certificatePem"])
    key.write_text(r["keyPair"]["PrivateKey"])
    reader = mqtt.connect("leser", tls=True, cert_file=cert, key_file=key)
    try:
        with mqtt.Monitor("post/#", client=reader) as mon:
            mqtt.publish("post/nei", b"skal ikke fram")
            mqtt.publish("post/ok", b"fram")
            assert mon.wait().payload == b"fram"
            assert [m.topic for m in mon.messages] == ["post/ok"]
            assert reader.is_connected()
    finally:
        reader.disconnect()
        reader.loop_stop()


def test_a_detached_policy_takes_effect_at_once_and_verify_names_the_fix(sky, iot):
    result = provision("esp32_UTENPOL", verbose=False)
    iot.detach_policy(policyName=result.policy_name, target=result.certificate_arn)
    with pytest.raises(CourseError):
        result.connect(timeout=3)
    with pytest.raises(CourseError, match="attach-policy"):
        verify("esp32_UTENPOL", verbose=False)
    provision("esp32_UTENPOL", verbose=False)  # repairs it
    verify("esp32_UTENPOL", verbose=False)
    result.connect().disconnect()


def test_verify_names_an_inactive_certificate(sky, iot):
    result = provision("esp32_INAKTIV", verbose=False)
    iot.update_certificate(certificateId=result.certificate_id, newStatus="INACTIVE")
    with pytest.raises(CourseError, match="INACTIVE"):
        verify("esp32_INAKTIV", verbose=False)


@pytest.mark.parametrize("call", ["create_policy", "create_policy_version"])
def test_malformed_policy_documents_are_refused_like_aws(sky, iot, call):
    if call == "create_policy":
        do = lambda text: iot.create_policy(policyName="kurs-test-feil", policyDocument=text)  # noqa: E731
    else:
        iot.create_policy(policyName="kurs-test-versjon", policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
        do = lambda text: iot.create_policy_version(policyName="kurs-test-versjon", policyDocument=text)  # noqa: E731
    with pytest.raises(ClientError) as err:
        do('{"Statement": [')
    assert err.value.response["Error"]["Code"] == "MalformedPolicyException"
    with pytest.raises(ClientError, match="resources are invalid"):
        do(json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "klient"}]}))


def test_a_virtual_board_with_the_provisioned_certificate_sends_its_button_presses(sky, tmp_path):
    from kurs.esp32 import VirtualBoard

    board = VirtualBoard("knapp", device_id="esp32_BRETT1", fs_dir=tmp_path / "fs")
    try:
        provision("esp32_BRETT1", verbose=False).apply_to(board)
        assert board.config_get("mqtt.server") == f"localhost:{sky.mqtts_port}"
        with mqtt.Monitor("state") as mon:
            board.start()
            board.wait_for(lambda: board.connected, timeout=15)
            board.click()
            assert "btnCount" in mon.wait(timeout=10).json()
    finally:
        board.close()


def test_a_refused_connection_does_not_disturb_the_device_using_that_client_id(sky, device):
    other = provision("esp32_UBUDEN", verbose=False)
    client = device.connect()
    try:
        with pytest.raises(CourseError):
            other.connect("esp32_PROV01", timeout=3)  # someone else's certificate, our client id
        with mqtt.Monitor("devices/esp32_PROV01/events") as mon:
            client.publish("devices/esp32_PROV01/events", b"fortsatt her", qos=1).wait_for_publish(5)
            assert mon.wait().payload == b"fortsatt her"
        assert client.is_connected()
    finally:
        client.disconnect()
        client.loop_stop()
