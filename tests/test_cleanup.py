"""Cleanup against the real local cloud: exactly the course's resources, idempotently.

The module starts by cleaning whatever earlier test modules left, so that "exactly what was
made" means what this module made.
"""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import redirect_stdout

import pytest

from kurs import naming
from kurs.cleanup import clean, plan
from kurs.provisioning import provision

pytestmark = pytest.mark.integration

POLICY = json.dumps({"Version": "2012-10-17",
                     "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]})


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


@pytest.fixture(scope="module")
def made(sky):
    """The course's resources (and some that are not the course's), made through boto3."""
    import boto3

    clean(verbose=False)
    iot, iot_data = boto3.client("iot"), boto3.client("iot-data")
    knapp = provision("esp32_RYDD01", verbose=False)
    lys = provision("esp32_RYDD02", verbose=False)
    iot_data.update_thing_shadow(thingName="esp32_RYDD01", payload=b'{"state": {"reported": {"on": true}}}')
    iot_data.update_thing_shadow(thingName="esp32_RYDD02", shadowName="ekstra",
                                 payload=b'{"state": {"reported": {"on": false}}}')
    sql = {"sql": "SELECT * FROM 'state'", "actions": [], "ruleDisabled": False}
    iot.create_topic_rule(ruleName=naming.rule_name("test_regel"), topicRulePayload=sql)
    iot.create_topic_rule(ruleName="fremmed_regel", topicRulePayload=sql)
    iam = boto3.client("iam")
    iam.create_role(RoleName="fremmed-rolle", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                                  "Statement": []}))
    role = iam.create_role(RoleName=naming.role_name("test-rolle"), AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    awslambda = boto3.client("lambda")
    for name in (naming.function_name("test-funksjon"), "fremmed-funksjon"):
        awslambda.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                                  Code={"ZipFile": _zip()})
        awslambda.invoke(FunctionName=name, Payload=b"{}")  # the run's log goes to /aws/lambda/<name>
    dynamodb = boto3.client("dynamodb")
    for name in (naming.table_name("test-tabell"), "fremmed-tabell"):
        dynamodb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
    # Not the course's: a thing, a policy, and a learner's own certificate on one of our things.
    iot.create_thing(thingName="fremmed-ting")
    iot.create_policy(policyName="fremmed-policy", policyDocument=POLICY)
    own = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName="fremmed-policy", target=own["certificateArn"])
    iot.attach_thing_principal(thingName="esp32_RYDD01", principal=own["certificateArn"])
    return {"knapp": knapp, "lys": lys, "own_cert": own["certificateId"]}


def _expected(made) -> set[tuple[str, str]]:
    knapp, lys = made["knapp"], made["lys"]
    return {
        ("rule", "kurs_test_regel"), ("function", "kurs-test-funksjon"), ("table", "kurs-test-tabell"),
        ("log_group", "/aws/lambda/kurs-test-funksjon"),
        ("role", "kurs-test-rolle"),
        ("shadow", "esp32_RYDD01"), ("shadow", "esp32_RYDD02/ekstra"),
        ("certificate", knapp.certificate_id[:12] + "…"), ("certificate", lys.certificate_id[:12] + "…"),
        ("policy", "kurs-esp32_RYDD01"), ("policy", "kurs-esp32_RYDD02"),
        ("thing", "esp32_RYDD01"), ("thing", "esp32_RYDD02"),
        ("files", str(knapp.key_file.parent)), ("files", str(lys.key_file.parent)),
    }


def test_dry_run_lists_exactly_what_the_course_made_and_removes_nothing(made, iot, capsys):
    result = clean(dry_run=True)
    out = capsys.readouterr().out
    assert {(i.kind, i.name) for i in result.plan.items} == _expected(made)
    assert "Prøvekjøring: ingenting er fjernet" in out and "2 sertifikater" in out and "2 policyer" in out
    assert "logg-gruppe (CloudWatch Logs) (1):\n    - /aws/lambda/kurs-test-funksjon" in out
    assert "fremmed" not in out
    assert {"esp32_RYDD01", "esp32_RYDD02"} <= {t["thingName"] for t in iot.list_things()["things"]}
    assert made["knapp"].key_file.is_file()


def test_kurs_rydd_dry_run_in_a_terminal(made):
    from kurs.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["rydd", "--dry-run"]) == 0
    assert "Dette har kurset laget i den lokale skyen" in out.getvalue()
    assert "kurs-esp32_RYDD01" in out.getvalue()


def test_cleanup_removes_the_courses_resources_and_only_those(made, iot, iot_data, capsys):
    import boto3

    result = clean()
    out = capsys.readouterr().out
    assert {(i.kind, i.name) for i in result.removed} == _expected(made)
    assert not result.errors
    assert result.counts() == {"rule": 1, "function": 1, "log_group": 1, "table": 1, "role": 1, "shadow": 2,
                               "certificate": 2, "policy": 2, "thing": 2, "files": 2}
    assert "Fjernet: 1 regel (topic rule), 1 Lambda-funksjon, 1 logg-gruppe (CloudWatch Logs)" in out

    things = {t["thingName"] for t in iot.list_things()["things"]}
    policies = {p["policyName"] for p in iot.list_policies()["policies"]}
    certs = {c["certificateId"] for c in iot.list_certificates()["certificates"]}
    assert not {t for t in things if t.startswith("esp32_RYDD")}
    assert not {p for p in policies if naming.is_course_policy(p)}
    assert made["knapp"].certificate_id not in certs and made["lys"].certificate_id not in certs
    assert not made["knapp"].key_file.parent.exists()
    # what the course did not make survives
    assert "fremmed-ting" in things and "fremmed-policy" in policies and made["own_cert"] in certs
    assert {r["ruleName"] for r in iot.list_topic_rules()["rules"]} >= {"fremmed_regel"}
    assert "fremmed-funksjon" in [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    assert "fremmed-tabell" in boto3.client("dynamodb").list_tables()["TableNames"]
    groups = [g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"]]
    assert "/aws/lambda/fremmed-funksjon" in groups and "/aws/lambda/kurs-test-funksjon" not in groups
    roles = [r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]]
    assert "fremmed-rolle" in roles and "kurs-test-rolle" not in roles


def test_a_second_cleanup_is_a_no_op(made, capsys):
    clean(verbose=False)
    result = clean()
    assert result.removed == [] and result.counts() == {}
    assert "Ingenting å rydde" in capsys.readouterr().out
    assert plan().items == []


def test_the_rydd_help_is_norwegian():
    from kurs.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "kommando").choices["rydd"]
    text = sub.format_help()
    assert "bare vis hva som ville blitt fjernet" in text and "--bekreft-konto" in text
