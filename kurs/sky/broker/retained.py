"""Retained messages as AWS IoT Core keeps them: one per topic, the last one wins, an empty
payload deletes it (MQTT 3.1.1 section 3.3.1.3, MQTT 5 section 3.3.1.3; AWS IoT developer
guide, "Retained messages"). Shared by the MQTT broker and the HTTP data plane
(ListRetainedMessages, GetRetainedMessage)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RetainedMessage:
    topic: str
    payload: bytes
    qos: int
    last_modified_ms: int
