"""The notebook's own MQTT identity in aws mode: the thing ``kurs-notatbok``.

AWS IoT lets in only clients with a registered, active certificate. So in aws mode
kurs.mqtt (``Monitor``, ``publish``, ``MqttConsole``) connects as this thing, provisioned
like a device the first time it is needed, with a policy of its own that allows only what a
learner's notebook does:

- connect with the client id ``kurs-notatbok`` or ``kurs-notatbok-<anything>``: a notebook
  has several connections at once (a Monitor and a publish), and AWS IoT throws out the older
  of two connections with the same client id. The names are literal, not
  ``${iot:Connection.Thing.ThingName}``: thing variables resolve only when the client id is
  exactly the thing name;
- publish, subscribe and receive on the course's topics (``state``, ``devices/…``,
  ``kurs/…``) and on the device shadows (``$aws/things/<thing>/shadow/…``);
- subscribe and receive, but not publish, the lifecycle events ``$aws/events/presence/…``
  (AWS IoT itself publishes those).

Cleanup finds it like any device: a thing marked ``created_by=kurs``, the policy ``kurs-notatbok``,
and its credential folder.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

from kurs import config, naming
from kurs.errors import CourseError

THING = naming.NOTEBOOK_THING

# (topic in the policy, what it is for) — publish, subscribe and receive.
TOPICS = [
    ("state", "kursets felles emne for knappen og lyset"),
    ("devices/*", "dingsenes egne meldinger, for eksempel devices/<ting>/events"),
    ("kurs/*", "notatbøkenes egne emner, for eksempel kurs/ekko/…"),
    ("$aws/things/*/shadow/*", "skyggene (device shadow) til dingsene"),
]
# Subscribe and receive only.
WATCH_TOPICS = [
    ("$aws/events/presence/*", "livssyklushendelsene (hvem som kobler til og fra)"),
]

_lock = threading.Lock()
_provisioned: dict[tuple[str, ...], Any] = {}


def statements(arn: str) -> list[dict[str, Any]]:
    """The notebook policy's statements (``arn`` is ``arn:aws:iot:<region>:<account>``)."""
    topics = [topic for topic, _ in TOPICS]
    watched = topics + [topic for topic, _ in WATCH_TOPICS]
    return [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": [f"{arn}:client/{THING}", f"{arn}:client/{THING}-*"]},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": [f"{arn}:topic/{t}" for t in topics]},
        {"Effect": "Allow", "Action": "iot:Receive", "Resource": [f"{arn}:topic/{t}" for t in watched]},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [f"{arn}:topicfilter/{t}" for t in watched]},
    ]


def new_client_id() -> str:
    """A fresh client id the notebook policy allows."""
    return f"{THING}-{uuid.uuid4().hex[:8]}"


def check_client_id(client_id: str) -> str:
    """The client id, or a Norwegian error if the notebook policy would refuse it."""
    if client_id == THING or client_id.startswith(THING + "-"):
        return client_id
    from kurs.aws_mode import aws_error

    raise aws_error(f"I aws-modus kobler notatboka til som «{THING}», og policyen tillater ikke "
                    f"klient-ID-en «{client_id}».",
                    f"Bruk en klient-ID som begynner med «{THING}-», eller la kurs velge en (client_id=None). "
                    "Skal du koble til som en dings, oppgi dingsens sertifikat og nøkkel (cert_file=, key_file=), "
                    "eller bruk provision(...).connect().")


def identity(settings: config.Settings | None = None) -> Any:
    """The notebook's ``Provisioned`` identity in aws mode: provisioned once, then reused.

    The account confirmation is checked on every call (kurs.aws_mode); nothing is sent to
    AWS before it matches.
    """
    from kurs import aws_mode
    from kurs.provisioning.setup import provision

    settings = settings or config.load()
    if settings.mode != "aws":
        raise CourseError("Notatbokas egen identitet trengs bare i aws-modus.", "Sett KURS_MODUS=aws først.")
    who = aws_mode.require_confirmation(settings)
    key = (who.account, who.region, str(settings.aws_mqtt_port), who.endpoint_url or "",
           os.environ.get("AWS_PROFILE", ""), os.environ.get("AWS_ACCESS_KEY_ID", ""))
    with _lock:
        cached = _provisioned.get(key)
    if cached is not None and cached.key_file.is_file() and cached.cert_file.is_file():
        return cached
    # Not cached, or its files were removed (kurs rydd): provisioning reuses what still exists.
    result = provision(THING, settings=settings, verbose=False, policy_statements=statements)
    with _lock:
        _provisioned[key] = result
    return result


def explain() -> str:
    """What the notebook's policy allows, in Norwegian."""
    lines = [f"I aws-modus kobler notatboka til AWS IoT som tingen «{THING}». Policyen gir den lov til dette, "
             "og ikke noe mer:",
             f"  • koble til med klient-ID «{THING}» eller «{THING}-…»"]
    lines += [f"  • sende, abonnere på og motta «{topic}»: {why}" for topic, why in TOPICS]
    lines += [f"  • abonnere på og motta «{topic}»: {why}" for topic, why in WATCH_TOPICS]
    return "\n".join(lines)


def reset() -> None:
    """Forget the identities provisioned in this process (tests)."""
    with _lock:
        _provisioned.clear()
