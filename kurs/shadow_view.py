"""A device shadow in a notebook: read it, show what matters, wait for a change.

    doc = kurs.shadow_view.read("esp32_F7F2AD")            # the document (dict), None if there is none
    print(kurs.shadow_view.describe(doc, keys=["on"]))     # desired, reported and delta, one line each
    kurs.shadow_view.wait_until("esp32_F7F2AD", kurs.shadow_view.in_sync("on"))

Reads go through iot-data ``GetThingShadow`` (HTTPS) with a client from :mod:`kurs.aws_mode`,
so the same cells work against the local cloud and against AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from kurs.errors import CourseError

Document = dict[str, Any]
SECTIONS = ("desired", "reported", "delta")


def read(thing: str, *, shadow_name: str | None = None, client: Any = None) -> Document | None:
    """The thing's shadow document as a dict, or None when it has no shadow (yet)."""
    if client is None:
        from kurs import aws_mode

        client = aws_mode.client("iot-data")
    args: dict[str, Any] = {"thingName": thing}
    if shadow_name:
        args["shadowName"] = shadow_name
    try:
        answer = client.get_thing_shadow(**args)
    except client.exceptions.ResourceNotFoundException:
        return None
    return json.loads(answer["payload"].read())


def delta(document: Document | None) -> dict[str, Any]:
    """The keys where desired and reported differ (empty when they agree)."""
    return dict(((document or {}).get("state") or {}).get("delta") or {})


def _compact(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def describe(document: Document | None, *, keys: Iterable[str] | None = None, version: bool = False) -> str:
    """desired, reported and delta on one line each (Norwegian), optionally only ``keys``.

    Choosing keys keeps what changes by itself (uptime, free RAM) out of the picture, so the
    same cell prints the same text every time.
    """
    if document is None:
        return "Dingsen har ingen skygge ennå."
    chosen = None if keys is None else list(keys)
    state = document.get("state") or {}
    lines = []
    for section in SECTIONS:
        values = state.get(section) or {}
        if chosen is not None:
            values = {k: v for k, v in values.items() if k in chosen}
        lines.append(f"{section + ':':<10}{_compact(values) if values else '(ingen)'}")
    if version:
        lines.append(f"{'versjon:':<10}{document.get('version')}")
    return "\n".join(lines)


def in_sync(*keys: str) -> Callable[[Document | None], bool]:
    """A condition for :func:`wait_until`: the shadow has no delta (for ``keys``, if given)."""

    def check(document: Document | None) -> bool:
        if document is None:
            return False
        pending = delta(document)
        return not (set(pending) & set(keys) if keys else pending)

    return check


def wait_until(thing: str, condition: Callable[[Document | None], Any], *, timeout: float = 10.0,
               interval: float = 0.2, client: Any = None) -> Document | None:
    """Read the shadow until ``condition(document)`` is true; returns that document.

    Raises a Norwegian :class:`~kurs.errors.CourseError` (showing the last document) on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        document = read(thing, client=client)
        if condition(document):
            return document
        if time.monotonic() >= deadline:
            raise CourseError(
                f"Skyggen til {thing} ble ikke slik vi ventet innen {timeout:g} sekunder. Nå er den:\n"
                + describe(document, version=True),
                "Sjekk at kortet er slått på og koblet til skyen (panelet sier «tilkoblet»), og se i loggen.")
        time.sleep(interval)
