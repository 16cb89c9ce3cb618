"""A learner's name as the room's prefix: «Åse Ødegård» -> ``aseodegard``."""

from __future__ import annotations

import unicodedata

from kurs.errors import CourseError

MAX_SLUG = 12
# Words that are segments of the topics the course and AWS IoT use. A learner's topics are those with their
# prefix as the first segment that is not one of these words (kurs.room.access.topic_allowed); a learner
# called «Things» would own $aws/things/<anyone>/shadow/update, and «Devices» everyone's devices/<thing>/events.
RESERVED = frozenset({
    "kurs", "rom", "par", "alle", "beskjed", "fremdrift", "kort", "notatbok", "state", "hei", "verden", "hilsen",
    "ekko", "devices", "events", "aws", "things", "thing", "shadow", "name", "update", "get", "delete",
    "accepted", "rejected", "delta", "documents", "presence", "connected", "disconnected", "subscriptions",
    "subscribed", "unsubscribed", "rules", "jobs", "tunnels", "defender", "provisioning", "certificates",
    "fleet", "lambda", "sdk", "streams", "domain", "thinggroup", "thinggroups",
})


def slug(name: str) -> str:
    text = str(name).strip().lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in text if c.isascii() and c.isalnum())[:MAX_SLUG]
    if not plain or not plain[0].isalpha():
        raise CourseError(f"«{name}» kan ikke brukes som navn i rommet.",
                          "Bruk fornavnet ditt (bokstaver, gjerne med et tall etter), for eksempel «Ida» eller «Ola2».")
    if plain in RESERVED:
        raise CourseError(f"«{name}» kan ikke brukes som navn i rommet: kurset bruker ordet «{plain}» i emnene sine.",
                          f"Velg et annet navn, for eksempel fornavnet ditt eller «{plain}2».")
    return plain
