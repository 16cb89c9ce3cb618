"""A learner's name as the room's prefix: «Åse Ødegård» -> ``aseodegard``."""

from __future__ import annotations

import unicodedata

from kurs.errors import CourseError

MAX_SLUG = 12


def slug(name: str) -> str:
    text = str(name).strip().lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in text if c.isascii() and c.isalnum())[:MAX_SLUG]
    if not plain or not plain[0].isalpha():
        raise CourseError(f"«{name}» kan ikke brukes som navn i rommet.",
                          "Bruk fornavnet ditt (bokstaver, gjerne med et tall etter), for eksempel «Ida» eller «Ola2».")
    return plain
