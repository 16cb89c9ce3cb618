"""The IoT policy a learner's things get in a room: the course's least-privilege policy
(kurs.provisioning.device_policy), with the course's one shared topic ``state`` replaced by the
room's pair space ``kurs/par/*`` (in a room of thirty, ``state`` would light every LED), plus the
learner's own ``kurs/rom/<prefix>/*`` (progress and board status for the instructor, retained) and,
to read only, the instructor's broadcast topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kurs.provisioning.device_policy import THING

PAIR_TOPICS = "kurs/par/*"
BROADCAST = "kurs/rom/alle/beskjed"


def own_space(slug: str) -> str:
    return f"kurs/rom/{slug}"


def pair_topic(pair: str) -> str:
    """The topic a pair's button and LED boards share, instead of the course's ``state``."""
    return f"kurs/par/{pair}/state"


def statements(slug: str) -> Callable[[str], list[dict[str, Any]]]:
    def build(arn: str) -> list[dict[str, Any]]:
        topics = [f"devices/{THING}/*", f"$aws/things/{THING}/shadow/*", PAIR_TOPICS, f"{own_space(slug)}/*"]
        return [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{THING}",
             "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [f"{arn}:topic/{t}" for t in topics]},
            {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [f"{arn}:topicfilter/{t}" for t in topics]},
            # Progress and board status are retained, so an overview opened later sees them (AWS IoT
            # asks for iot:RetainPublish besides iot:Publish for that).
            {"Effect": "Allow", "Action": "iot:RetainPublish", "Resource": f"{arn}:topic/{own_space(slug)}/*"},
            {"Effect": "Allow", "Action": ["iot:Subscribe", "iot:Receive"],
             "Resource": [f"{arn}:topicfilter/{BROADCAST}", f"{arn}:topic/{BROADCAST}"]},
        ]

    return build
