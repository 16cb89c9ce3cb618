"""The least-privilege AWS IoT policy each provisioned thing gets (``kurs-<thing>``).

``mos aws-iot-setup`` attaches ``mos-default``: ``iot:*`` on ``*``, so any device with any
certificate may do anything in the account, impersonate any other device included. Ours
lets a device do only what the course needs, and only as itself:

- connect with its own thing name as client id, and only with a certificate attached to
  that thing (``${iot:Connection.Thing.ThingName}`` + ``IsAttached``);
- publish, subscribe and receive on its own ``devices/<thing>/…`` topics, on the course's
  shared ``state`` topic, and on its own device shadow ``$aws/things/<thing>/shadow/…``.

The thing name comes from policy variables, so the same document would serve every device;
each thing still gets its own named policy, so cleanup can remove exactly what it made.
"""

from __future__ import annotations

import json
from typing import Any

THING = "${iot:Connection.Thing.ThingName}"
SHARED_TOPIC = "state"

# (topic, what it is for) — shown to the learner by explain().
TOPICS = [
    (f"devices/{THING}/*", "dingsens egne meldinger, for eksempel devices/<ting>/events"),
    (SHARED_TOPIC, "kursets felles emne der knappen og lyset utveksler tilstand"),
    (f"$aws/things/{THING}/shadow/*", "dingsens egen skygge (device shadow)"),
]


def arn_prefix(region: str, account: str) -> str:
    """``arn:aws:iot:<region>:<account>``: the start of every resource in an IoT policy."""
    return f"arn:aws:iot:{region}:{account}"


def wrap(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """A policy document holding ``statements``."""
    return {"Version": "2012-10-17", "Statement": statements}


def document(region: str, account: str) -> dict[str, Any]:
    """The policy document for one thing in ``region`` of ``account``."""
    arn = arn_prefix(region, account)
    topics = [f"{arn}:topic/{topic}" for topic, _ in TOPICS]
    filters = [f"{arn}:topicfilter/{topic}" for topic, _ in TOPICS]
    return wrap([
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{THING}",
         "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": topics},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": filters},
    ])


def document_text(region: str, account: str) -> str:
    return json.dumps(document(region, account), indent=2)


def explain() -> str:
    """What the policy allows, in Norwegian."""
    lines = ["Policyen gir dingsen lov til dette, og ikke noe mer:",
             "  • koble til med sitt eget tingnavn som klient-ID, og bare med et sertifikat som er knyttet til tingen"]
    lines += [f"  • sende, abonnere på og motta «{topic.replace(THING, '<ting>')}»: {why}" for topic, why in TOPICS]
    return "\n".join(lines)
