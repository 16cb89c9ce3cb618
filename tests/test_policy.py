"""AWS IoT policy evaluation and validation, as a table of what AWS decides."""

from __future__ import annotations

import json

import pytest

from kurs.provisioning import device_policy
from kurs.sky.broker.policy import Context, MalformedPolicy, evaluate, parse, resource_arn, wildcard_match

REGION, ACCOUNT = "eu-west-1", "123456789012"
ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}"


def decide(doc: dict, action: str, name: str, context: Context) -> str:
    result = evaluate([parse(doc, "p")], action, resource_arn(action, name, REGION, ACCOUNT), context)
    return result.reason


def statement(effect: str, action, resource, condition: dict | None = None) -> dict:
    st = {"Effect": effect, "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


KNAPP = Context("esp32_KNAPP", thing_name="esp32_KNAPP")  # client id = an attached thing
STRANGER = Context("noen-andre")  # same certificate, another client id: no thing resolved
DEVICE = device_policy.document(REGION, ACCOUNT)


@pytest.mark.parametrize("policy,action,name,context,expected", [
    # the course's device policy
    (DEVICE, "iot:Connect", "esp32_KNAPP", KNAPP, "allow"),
    (DEVICE, "iot:Connect", "noen-andre", STRANGER, "implicit-deny"),
    (DEVICE, "iot:Connect", "esp32_LYS", KNAPP, "implicit-deny"),
    (DEVICE, "iot:Publish", "devices/esp32_KNAPP/events", KNAPP, "allow"),
    (DEVICE, "iot:Publish", "devices/esp32_LYS/events", KNAPP, "implicit-deny"),
    (DEVICE, "iot:Publish", "state", KNAPP, "allow"),
    (DEVICE, "iot:Receive", "state", KNAPP, "allow"),
    (DEVICE, "iot:Publish", "$aws/things/esp32_KNAPP/shadow/update", KNAPP, "allow"),
    (DEVICE, "iot:Publish", "$aws/things/esp32_LYS/shadow/update", KNAPP, "implicit-deny"),
    (DEVICE, "iot:Subscribe", "$aws/things/esp32_KNAPP/shadow/update/delta", KNAPP, "allow"),
    (DEVICE, "iot:Subscribe", "devices/esp32_KNAPP/#", KNAPP, "allow"),
    (DEVICE, "iot:Subscribe", "#", KNAPP, "implicit-deny"),
    (DEVICE, "iot:Subscribe", "state", STRANGER, "allow"),  # no thing variable in that resource
    (DEVICE, "iot:Publish", "devices/noen-andre/events", STRANGER, "implicit-deny"),
    # explicit Deny wins over any Allow
    (doc(statement("Allow", "iot:*", "*"), statement("Deny", "iot:Publish", f"{ARN}:topic/hemmelig/*")),
     "iot:Publish", "hemmelig/x", KNAPP, "explicit-deny"),
    (doc(statement("Allow", "iot:*", "*"), statement("Deny", "iot:Publish", f"{ARN}:topic/hemmelig/*")),
     "iot:Publish", "åpen/x", KNAPP, "allow"),
    # nothing allows: implicit deny
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/a")), "iot:Receive", "a", KNAPP, "implicit-deny"),
    # * crosses topic levels; ? is one character
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/a/*")), "iot:Publish", "a/b/c/d", KNAPP, "allow"),
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/rom?")), "iot:Publish", "rom1", KNAPP, "allow"),
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/rom?")), "iot:Publish", "rom12", KNAPP, "implicit-deny"),
    # MQTT wildcards are literal characters in a policy
    (doc(statement("Allow", "iot:Subscribe", f"{ARN}:topicfilter/a/+")), "iot:Subscribe", "a/+", KNAPP, "allow"),
    (doc(statement("Allow", "iot:Subscribe", f"{ARN}:topicfilter/a/+")), "iot:Subscribe", "a/b", KNAPP,
     "implicit-deny"),
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/a/#")), "iot:Publish", "a/b", KNAPP, "implicit-deny"),
    # topicfilter/ is for Subscribe, topic/ for Publish and Receive
    (doc(statement("Allow", "iot:Subscribe", f"{ARN}:topic/a")), "iot:Subscribe", "a", KNAPP, "implicit-deny"),
    (doc(statement("Allow", "iot:Receive", f"{ARN}:topicfilter/a")), "iot:Receive", "a", KNAPP, "implicit-deny"),
    # action wildcards, case-insensitive action names
    (doc(statement("Allow", "iot:Pub*", "*")), "iot:Publish", "x", KNAPP, "allow"),
    (doc(statement("Allow", "IOT:PUBLISH", "*")), "iot:Publish", "x", KNAPP, "allow"),
    # ${iot:ClientId}
    (doc(statement("Allow", "iot:Connect", f"{ARN}:client/${{iot:ClientId}}")), "iot:Connect", "hvem-som-helst",
     Context("hvem-som-helst"), "allow"),
    # IsAttached condition
    (doc(statement("Allow", "iot:Connect", "*", {"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}})),
     "iot:Connect", "noen-andre", STRANGER, "implicit-deny"),
    (doc(statement("Allow", "iot:Connect", "*", {"Bool": {"iot:Connection.Thing.IsAttached": "true"}})),
     "iot:Connect", "esp32_KNAPP", KNAPP, "allow"),
    # certificate common name
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/cn/${{iot:Certificate.Subject.CommonName}}")),
     "iot:Publish", "cn/esp32_KNAPP", Context("x", common_name="esp32_KNAPP"), "allow"),
    # escapes: ${*} is a literal star
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/stjerne/${{*}}")), "iot:Publish", "stjerne/*", KNAPP, "allow"),
    (doc(statement("Allow", "iot:Publish", f"{ARN}:topic/stjerne/${{*}}")), "iot:Publish", "stjerne/x", KNAPP,
     "implicit-deny"),
    # a Deny with an unresolvable variable denies nothing
    (doc(statement("Allow", "iot:*", "*"),
         statement("Deny", "iot:Publish", f"{ARN}:topic/${{iot:Connection.Thing.ThingName}}/x")),
     "iot:Publish", "noen-andre/x", STRANGER, "allow"),
    # StringLike condition on the client id
    (doc(statement("Allow", "iot:Connect", "*", {"StringLike": {"iot:ClientId": "esp32_*"}})),
     "iot:Connect", "esp32_KNAPP", KNAPP, "allow"),
    (doc(statement("Allow", "iot:Connect", "*", {"StringLike": {"iot:ClientId": "esp32_*"}})),
     "iot:Connect", "noen-andre", STRANGER, "implicit-deny"),
    # NotResource
    (doc({"Effect": "Allow", "Action": "iot:Publish", "NotResource": f"{ARN}:topic/privat"}),
     "iot:Publish", "privat", KNAPP, "implicit-deny"),
])
def test_policy_decisions(policy, action, name, context, expected):
    assert decide(policy, action, name, context) == expected


def test_the_first_matching_policy_of_several_is_named():
    allow = parse(doc(statement("Allow", "iot:*", "*")), "åpen")
    deny = parse(doc(statement("Deny", "iot:Publish", "*")), "stengt")
    decision = evaluate([allow, deny], "iot:Publish", resource_arn("iot:Publish", "x", REGION, ACCOUNT), KNAPP)
    assert (decision.allowed, decision.policy) == (False, "stengt")


@pytest.mark.parametrize("text,message", [
    ("{", "Invalid policy syntax"),
    ("[]", "Invalid policy syntax"),
    ('{"Version": "2012-10-17"}', "Statement"),
    (json.dumps(doc(statement("Kanskje", "iot:Connect", "*"))), "Invalid effect"),
    (json.dumps(doc(statement("Allow", "iot:Connect", "\\"))), "The following resources are invalid"),
    (json.dumps(doc(statement("Allow", "s3:GetObject", "*"))), "The following actions are invalid"),
    (json.dumps(doc({"Effect": "Allow", "Action": "iot:*"})), "Resource"),
    (json.dumps(doc(statement("Allow", "iot:*", "*", {"Mangler": {"a": "b"}}))), "condition operator"),
    (json.dumps({"Version": "2099-01-01", "Statement": [statement("Allow", "iot:*", "*")]}), "version"),
])
def test_malformed_documents_are_refused_like_aws(text, message):
    with pytest.raises(MalformedPolicy, match=message) as err:
        parse(text)
    assert str(err.value).startswith("Policy document is Malformed")


def test_the_device_policy_is_valid_and_fits_the_aws_size_limit():
    text = json.dumps(DEVICE, separators=(",", ":"))
    parse(text)
    assert len("".join(text.split())) <= 2048, "AWS IoT policies may be at most 2048 characters"


def test_wildcard_match_treats_variable_values_literally():
    assert not wildcard_match("a/${iot:ClientId}", "a/xyz", {"iot:clientid": "*"})
    assert wildcard_match("a/${iot:ClientId}", "a/*", {"iot:clientid": "*"})
