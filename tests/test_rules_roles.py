"""The role checks AWS IoT makes before it acts with a rule's roleArn (get_thing_shadow()), against
moto's IAM in-process: the trust policy must let iot.amazonaws.com assume the role, and its
inline or attached policies must allow the action on the resource without a Deny.

https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html (a role AWS IoT assumes),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html (explicit
Deny wins; otherwise an Allow is needed), and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html (NotAction).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from kurs.sky.rules.roles import refusal

THING = "arn:aws:iot:eu-west-1:123456789012:thing/lys"
IOT_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["iot.amazonaws.com"]}, "Action": "sts:AssumeRole"}]}


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def iam(monkeypatch):  # noqa: ANN001, ANN201
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("iam", region_name="eu-west-1")


def _role(iam, name: str, trust: dict = IOT_TRUST, inline: str | None = None) -> str:  # noqa: ANN001
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if inline is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=inline)
    return arn


def test_inline_allow_with_wildcards_is_enough(iam):  # noqa: ANN001
    arn = _role(iam, "ok", inline=_policy({"Effect": "Allow", "Action": "iot:Get*", "Resource": "arn:aws:iot:*:*:thing/*"}))
    assert refusal(arn, "iot:GetThingShadow", THING) is None


def test_attached_managed_policy_counts_and_its_default_version_is_used(iam):  # noqa: ANN001
    arn = _role(iam, "styrt")
    policy = iam.create_policy(PolicyName="skyggelesing", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": "iot:UpdateThingShadow", "Resource": "*"}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="styrt", PolicyArn=policy)
    assert "ingen policy" in refusal(arn, "iot:GetThingShadow", THING)
    iam.create_policy_version(PolicyArn=policy, SetAsDefault=True, PolicyDocument=_policy(
        {"Effect": "Allow", "Action": ["iot:GetThingShadow"], "Resource": [THING]}))
    assert refusal(arn, "iot:GetThingShadow", THING) is None


def test_role_not_trusted_by_iot_is_refused(iam):  # noqa: ANN001
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    arn = _role(iam, "lambdarolle", trust, inline=_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    assert "kan ikke antas av iot.amazonaws.com" in refusal(arn, "iot:GetThingShadow", THING)


def test_explicit_deny_wins_over_allow(iam):  # noqa: ANN001
    arn = _role(iam, "nektet", inline=_policy(
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:GetThingShadow", "Resource": THING}))
    assert "(Deny)" in refusal(arn, "iot:GetThingShadow", THING)
    assert refusal(arn, "iot:GetThingShadow", "arn:aws:iot:eu-west-1:123456789012:thing/knapp") is None


def test_not_action_and_other_resources(iam):  # noqa: ANN001
    arn = _role(iam, "ikke", inline=_policy({"Effect": "Allow", "NotAction": "iot:GetThingShadow", "Resource": "*"}))
    assert "ingen policy" in refusal(arn, "iot:GetThingShadow", THING)
    other = _role(iam, "annen", inline=_policy(
        {"Effect": "Allow", "Action": "iot:GetThingShadow", "Resource": "arn:aws:iot:*:*:thing/knapp"}))
    assert "ingen policy" in refusal(other, "iot:GetThingShadow", THING)


def test_missing_role_and_url_encoded_documents(iam):  # noqa: ANN001
    assert "finnes ikke" in refusal("arn:aws:iam::123456789012:role/borte", "iot:GetThingShadow", THING)
    assert "finnes ikke" in refusal("ikke-en-arn", "iot:GetThingShadow", THING)
    arn = iam.create_role(RoleName="kodet", AssumeRolePolicyDocument=quote(json.dumps(IOT_TRUST)))["Role"]["Arn"]
    iam.put_role_policy(RoleName="kodet", PolicyName="p", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": "iot:GetThingShadow", "Resource": "*"}))
    assert refusal(arn, "iot:GetThingShadow", THING) is None
