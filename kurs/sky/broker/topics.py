"""AWS IoT Core's rules for topic names and topic filters, shared by MQTT and the HTTP data plane.

Limits: AWS IoT developer guide, "AWS IoT Core message broker and protocol limits and quotas";
topic syntax: MQTT 3.1.1 section 4.7 and MQTT 5 section 4.7. Messages are Norwegian: the
learner reads them in ``kurs sky logg`` and in HTTP errors.
"""

from __future__ import annotations

# AWS IoT Core limits (AWS IoT developer guide, "AWS IoT Core message broker and protocol limits").
MAX_PAYLOAD = 128 * 1024
MAX_TOPIC_BYTES = 256
MAX_TOPIC_SLASHES = 7
MAX_CLIENT_ID_BYTES = 128
AWS_RESERVED_PREFIX = "$aws/"


def topic_problem(topic: str) -> str | None:
    """Why AWS IoT would refuse a publish to this topic (Norwegian), or None."""
    if not topic:
        return "tomt emne (topic)"
    if "+" in topic or "#" in topic:
        return f"jokertegn (+ eller #) i emnet for en publisering: {topic!r}"
    if len(topic.encode()) > MAX_TOPIC_BYTES:
        return f"emnet er lengre enn {MAX_TOPIC_BYTES} byte"
    # AWS does not count the three slashes of the reserved $aws/things/<name>/ prefix.
    slashes = topic.count("/") - (3 if topic.startswith("$aws/things/") else 0)
    if slashes > MAX_TOPIC_SLASHES:
        return f"emnet har mer enn {MAX_TOPIC_SLASHES} skråstreker: {topic!r}"
    if topic.startswith("$") and not topic.startswith(AWS_RESERVED_PREFIX):
        return f"emner som starter med $ er reservert: {topic!r}"
    return None
