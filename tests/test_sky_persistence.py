"""The local cloud keeps what it accepted across stop/start, a killed process and a bad file.

Each test runs its own clouds in a private KURS_HOME, one after the other, as a learner
would run ``kurs sky stop`` tonight and ``kurs sky start`` tomorrow.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import boto3
import pytest

from kurs import mqtt
from tests.ports import steady_port
from tests.waiting import eventually

pytestmark = pytest.mark.integration

ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})


@pytest.fixture
def home(own_cloud_home):  # noqa: ANN001 - fixture
    """A private KURS_HOME and the clouds a test starts there, stopped afterwards."""
    started: list = []
    yield own_cloud_home, started
    from kurs.sky.process import terminate

    for info in started:  # by pid: never another cloud
        terminate(info)


def _start(started: list, *, same_ports: bool = True):  # noqa: ANN202 - SkyInfo
    """A cloud on the same ports as the last one (as with the defaults), so boards find it again."""
    from kurs import sky

    if started and same_ports:
        ports = {"http_port": started[-1].http_port, "mqtt_port": started[-1].mqtt_port,
                 "mqtts_port": started[-1].mqtts_port}
    else:
        ports = {"http_port": steady_port(), "mqtt_port": steady_port(), "mqtts_port": steady_port()}
    info = sky.start(**ports, quiet=True)
    started.append(info)
    return info


def _stop(info) -> None:  # noqa: ANN001
    from kurs.sky.process import terminate

    assert terminate(info) is False, "the cloud should stop cleanly on SIGTERM"


def _snapshot(home: Path) -> Path:
    return home / "sky" / "tilstand.json"


def _shadow(thing: str) -> dict | None:
    """The thing's classic shadow document, or None while it has none."""
    iot_data = boto3.client("iot-data")
    try:
        return json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())
    except iot_data.exceptions.ResourceNotFoundException:
        return None


def _log(info) -> str:  # noqa: ANN001
    return Path(info.log_file).read_text(errors="replace")


def test_everything_accepted_is_back_after_stop_and_start(home):
    from kurs import serverless
    from kurs.provisioning import provision

    tmp, started = home
    first = _start(started)
    iot, iot_data = boto3.client("iot"), boto3.client("iot-data")

    # notebook 03: a thing provisioned as mos aws-iot-setup does (CSR signed by this cloud process)
    device = provision("esp32_LAGRET", verbose=False)
    # a second certificate as the AWS console makes it (CreateKeysAndCertificate)
    made = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_policy(policyName="alt-tillatt", policyDocument=ALLOW_ALL)
    iot.create_policy_version(policyName="alt-tillatt", policyDocument=ALLOW_ALL, setAsDefault=True)
    iot.create_thing(thingName="lys_LAGRET", attributePayload={"attributes": {"rom": "stue"}})
    iot.attach_policy(policyName="alt-tillatt", target=made["certificateArn"])
    iot.attach_thing_principal(thingName="lys_LAGRET", principal=made["certificateArn"])
    cert2, key2 = tmp / "lys.cert.pem", tmp / "lys.key.pem"
    cert2.write_text(made["certificatePem"])
    key2.write_text(made["keyPair"]["PrivateKey"])

    # notebook 01: the course's IAM user with a customer-managed policy (no access keys)
    iam = boto3.client("iam")
    course_policy = iam.create_policy(PolicyName="kurs-iot", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}))
    iam.create_user(UserName="kurs-deltaker")
    iam.attach_user_policy(UserName="kurs-deltaker", PolicyArn=course_policy["Policy"]["Arn"])

    # notebook 05: a shadow with desired and reported state
    iot_data.update_thing_shadow(thingName=device.thing_name, payload=json.dumps(
        {"state": {"desired": {"farge": "rød"}, "reported": {"farge": "blå"}}}))
    iot_data.update_thing_shadow(thingName=device.thing_name, payload=json.dumps(
        {"state": {"reported": {"lys": 1}}}))
    before = json.loads(iot_data.get_thing_shadow(thingName=device.thing_name)["payload"].read())
    assert before["version"] == 2

    # notebook 06: rule → Lambda → shadow, and presses in DynamoDB
    table = "kurs-lagret-trykk"
    serverless.deploy_button_to_light("knapp_LAGRET", "lys_LAGRET", table=table)
    mqtt.publish("state", {"on": True, "btnCount": 1}, client_id="knapp_LAGRET")
    assert eventually(lambda: len(serverless.presses(table)) == 1, timeout=20)
    rows_before = serverless.presses(table)
    assert eventually(lambda: (_shadow("lys_LAGRET") or {}).get("state", {}).get("desired") == {"on": True},
                      timeout=20)
    lys_before = _shadow("lys_LAGRET")
    rules_before = sorted(r["ruleName"] for r in iot.list_topic_rules()["rules"])

    _stop(first)
    snapshot = _snapshot(tmp)
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    text = snapshot.read_text()
    assert "PRIVATE KEY" not in text, "no private key may ever be written to the snapshot"
    assert made["certificateId"] not in text or "BEGIN CERTIFICATE" in text

    second = _start(started)
    assert second.pid != first.pid
    iot, iot_data = boto3.client("iot"), boto3.client("iot-data")

    # the registry: things, certificates (same ids, ACTIVE), policies, attachments
    names = {t["thingName"] for t in iot.list_things()["things"]}
    assert {"esp32_LAGRET", "lys_LAGRET"} <= names
    assert iot.describe_thing(thingName="lys_LAGRET")["attributes"] == {"rom": "stue"}
    for cert_id, arn in ((device.certificate_id, device.certificate_arn),
                         (made["certificateId"], made["certificateArn"])):
        described = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
        assert described["status"] == "ACTIVE" and described["certificateArn"] == arn
    assert [p["policyName"] for p in iot.list_attached_policies(target=device.certificate_arn)["policies"]] == \
        [device.policy_name]
    assert iot.list_thing_principals(thingName="lys_LAGRET")["principals"] == [made["certificateArn"]]
    versions = iot.list_policy_versions(policyName="alt-tillatt")["policyVersions"]
    assert sorted((v["versionId"], v["isDefaultVersion"]) for v in versions) == [("1", False), ("2", True)]

    # IAM: the user and the policy it had, with the same document
    iam = boto3.client("iam")
    attached = iam.list_attached_user_policies(UserName="kurs-deltaker")["AttachedPolicies"]
    assert attached == [{"PolicyName": "kurs-iot", "PolicyArn": course_policy["Policy"]["Arn"]}]
    version = iam.get_policy_version(PolicyArn=course_policy["Policy"]["Arn"], VersionId="v1")["PolicyVersion"]
    document = version["Document"]
    assert (json.loads(document) if isinstance(document, str) else document)["Statement"][0]["Action"] == "iot:*"

    # shadows: same version, state and metadata timestamps
    after = json.loads(iot_data.get_thing_shadow(thingName=device.thing_name)["payload"].read())
    assert (after["version"], after["state"], after["metadata"]) == \
        (before["version"], before["state"], before["metadata"])
    lys_after = _shadow("lys_LAGRET")
    assert lys_after["version"] == lys_before["version"] and lys_after["state"] == lys_before["state"]

    # rules, the function and the table with its items
    assert sorted(r["ruleName"] for r in iot.list_topic_rules()["rules"]) == rules_before
    assert serverless.presses(table) == rows_before

    # the learner's saved certificate and key still get in over mutual TLS, and a delta arrives
    client = device.connect()
    try:
        got: list = []
        client.on_message = lambda c, u, m: got.append(m)
        client.subscribe(f"$aws/things/{device.thing_name}/shadow/update/delta", qos=1)
        time.sleep(0.3)  # SUBACK
        iot_data.update_thing_shadow(thingName=device.thing_name, payload=json.dumps(
            {"state": {"desired": {"farge": "grønn"}}}))
        assert eventually(lambda: got, timeout=10)
        delta = json.loads(got[0].payload)
        assert delta["state"] == {"farge": "grønn"} and delta["version"] == before["version"] + 1
    finally:
        client.disconnect()
        client.loop_stop()
    tls = mqtt.connect("lys_LAGRET", tls=True, cert_file=cert2, key_file=key2)
    tls.disconnect()
    tls.loop_stop()

    # and the deployed Lambda still runs: a press after the restart reaches the LED shadow and the table
    mqtt.publish("state", {"on": False, "btnCount": 2}, client_id="knapp_LAGRET")
    assert eventually(lambda: len(serverless.presses(table)) == 2, timeout=20)
    assert eventually(lambda: _shadow("lys_LAGRET")["state"]["desired"] == {"on": False}, timeout=20)
    assert "Hentet fram det den lokale skyen hadde lagret" in _log(second)


def test_a_killed_cloud_keeps_what_it_had_a_second_before(home):
    tmp, started = home
    first = _start(started)
    iot = boto3.client("iot")
    iot.create_thing(thingName="overlever_kill")
    boto3.client("iot-data").update_thing_shadow(thingName="overlever_kill",
                                                 payload=json.dumps({"state": {"reported": {"n": 7}}}))
    # written in the background within about a second, without any stop
    assert eventually(lambda: _snapshot(tmp).exists() and "overlever_kill" in _snapshot(tmp).read_text()
                      and '"n":7' in _snapshot(tmp).read_text(), timeout=10)
    os.kill(first.pid, signal.SIGKILL)
    from kurs.sky.process import is_cloud_process

    assert eventually(lambda: not is_cloud_process(first.pid), timeout=5)

    # New ports: the killed process's half-closed connections may hold the old ones for a while.
    _start(started, same_ports=False)
    assert "overlever_kill" in {t["thingName"] for t in boto3.client("iot").list_things()["things"]}
    shadow = json.loads(boto3.client("iot-data").get_thing_shadow(thingName="overlever_kill")["payload"].read())
    assert shadow["state"] == {"reported": {"n": 7}} and shadow["version"] == 1


@pytest.mark.parametrize("content", [b"{ikke json", json.dumps({"format": "kurs-sky-tilstand", "version": 99}).encode()],
                         ids=["ødelagt", "ukjent-versjon"])
def test_a_bad_snapshot_is_moved_aside_and_the_cloud_starts_empty(home, content, capsys):
    tmp, started = home
    (tmp / "sky").mkdir(parents=True, exist_ok=True)
    _snapshot(tmp).write_bytes(content)
    info = _start(started)  # quiet=True: a loss is said all the same
    assert boto3.client("iot").list_things()["things"] == []
    assert "kunne ikke leses" in _log(info) and "starter tom" in _log(info)
    moved = list((tmp / "sky").glob("tilstand-feil-*.json"))
    assert len(moved) == 1 and moved[0].read_bytes() == content
    said = capsys.readouterr().out  # what was moved aside, and what is lost
    assert "kunne ikke leses" in said and str(moved[0]) in said and "starter derfor tom" in said
    assert not _snapshot(tmp).exists() or b"kurs-sky-tilstand" in _snapshot(tmp).read_bytes()


def test_one_item_that_cannot_be_restored_is_skipped_with_a_warning(home, capsys):
    tmp, started = home
    (tmp / "sky").mkdir(parents=True, exist_ok=True)
    unknown_cert = "arn:aws:iot:eu-west-1:123456789012:cert/" + "0" * 64
    _snapshot(tmp).write_text(json.dumps({
        "format": "kurs-sky-tilstand", "version": 1,
        "iot": {"things": [{"name": "god_ting", "type": None, "attributes": {}}, {"attributes": {}}],
                "thing_principals": [{"thing": "god_ting", "principal": unknown_cert}]},
        "shadows": [{"thing": "god_ting", "name": "", "state": {"reported": {"a": 1}}, "metadata": {},
                     "version": 5, "exists": True}, {"thing": 3}],
    }))
    info = _start(started)
    assert [t["thingName"] for t in boto3.client("iot").list_things()["things"]] == ["god_ting"]
    shadow = json.loads(boto3.client("iot-data").get_thing_shadow(thingName="god_ting")["payload"].read())
    assert shadow["version"] == 5
    assert "Kunne ikke gjenopprette" in _log(info) and "Hopper over" in _log(info)
    said = capsys.readouterr().out
    assert "kunne ikke hentes fram og er borte" in said and "dingsen (thing) «?»" in said


def test_reset_wipes_the_snapshot_too(home):
    from kurs import sky

    tmp, started = home
    first = _start(started)
    boto3.client("iot").create_thing(thingName="skal_bort")
    assert eventually(lambda: _snapshot(tmp).exists() and "skal_bort" in _snapshot(tmp).read_text(), timeout=10)
    sky.reset(quiet=True)
    assert not _snapshot(tmp).exists()
    _stop(first)
    _start(started)
    assert boto3.client("iot").list_things()["things"] == []


def test_virtual_board_follows_the_shadow_after_a_restart(home):
    """Versions survive, so a board that saw version n before the restart takes n+1 after it."""
    board_mod = pytest.importorskip("kurs.esp32.board")
    tmp, started = home
    first = _start(started)
    iot_data = boto3.client("iot-data")
    with board_mod.VirtualBoard("start", seed="persist") as lys:
        lys.start()
        lys.wait_for("online: true")
        thing = lys.thing_name
        iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"desired": {"on": True}}}))
        lys.wait_for(lambda: lys.led(), timeout=20)
        # Raise the version the board has seen well above what a fresh, empty cloud would send.
        for n in range(6):
            reply = iot_data.update_thing_shadow(thingName=thing,
                                                 payload=json.dumps({"state": {"desired": {"n": n}}}))
        seen = json.loads(reply["payload"].read())["version"]
        lys.wait_for(f"-> {seen} (", timeout=20)
        _stop(first)
        mark = lys.console.mark()
        second = _start(started)  # same ports: the board reconnects by itself, as to AWS
        lys.wait_for("online: true", since=mark, timeout=30)
        boto3.client("iot-data").update_thing_shadow(thingName=thing,
                                                     payload=json.dumps({"state": {"desired": {"on": False}}}))
        lys.wait_for(lambda: not lys.led(), timeout=20)
    assert second.pid != first.pid
