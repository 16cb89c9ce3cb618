"""The room's per-learner structure on a real AWS account (kurs.room.aws_room, ``kurs rom aws``), run
in aws mode against the local cloud as if it were AWS; and ``kurs rydd --prefiks`` for one learner."""

from __future__ import annotations

import json
import stat

import boto3
import pytest

from kurs.room import access, aws_room

pytestmark = pytest.mark.integration


def test_the_instructor_script_makes_and_removes_each_learners_user_policies_and_key(aws_env, sky, capsys,
                                                                                      kurs_home):
    from kurs import aws_mode

    aws_mode.confirm_for_this_run(sky.account_id)
    assert aws_room.create_learners(["Ida", "Ola"]) == ["ida", "ola"]
    assert aws_room.create_learners(["Ida"], quiet=True) == ["ida"]  # again: nothing new, nothing broken
    iam, iot = boto3.client("iam"), boto3.client("iot")
    saved = json.loads(aws_room.keys_file("ida").read_text())
    assert stat.S_IMODE(aws_room.keys_file("ida").stat().st_mode) == 0o600
    assert saved["aws_secret_access_key"] not in capsys.readouterr().out
    assert iam.get_user(UserName="kurs-rom-ida")["User"]["Path"] == "/kurs-rom/"  # (moto omits the boundary)
    attached = iam.list_attached_user_policies(UserName="kurs-rom-ida")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["kurs-rom-ida"]
    arn = attached[0]["PolicyArn"]
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    resources = [r for s in document["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str)
                                                             else s["Resource"])]
    assert "arn:aws:iot:eu-west-1:123456789012:thing/ida-*" in resources
    assert not any("ola" in r for r in resources)
    room_policy = iot.get_policy(policyName="kurs-ida-rom")["policyDocument"]
    assert access.policy_problem("ida", room_policy) is None  # the room's own rules hold for it too
    assert access.policy_problem("ola", room_policy)

    assert aws_room.remove_learners(["Ida", "Ola"]) == ["ida", "ola"]
    names = [u["UserName"] for u in iam.list_users()["Users"]]
    assert "kurs-rom-ida" not in names and "kurs-rom-ola" not in names
    assert not any(p["policyName"].endswith("-rom") for p in iot.list_policies()["policies"])
    assert not aws_room.keys_file("ida").exists()


def test_kurs_rydd_with_a_prefix_removes_one_learners_part_only(sky, iot):
    from kurs import cleanup, naming

    for thing in ("ida-knapp", "ola-knapp"):
        iot.create_thing(thingName=thing, attributePayload={"attributes": naming.thing_attributes()})
        iot.create_policy(policyName=f"kurs-{thing}", policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    found = cleanup.plan(prefix="ida")
    assert {i.name for i in found.items} == {"ida-knapp", "kurs-ida-knapp"}
    cleanup.clean(prefix="ida", verbose=False)
    things = {t["thingName"] for t in iot.list_things()["things"]}
    assert "ida-knapp" not in things and "ola-knapp" in things
    cleanup.clean(prefix="ola", verbose=False)
