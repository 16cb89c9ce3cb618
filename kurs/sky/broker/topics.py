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


# Reserved topics AWS IoT publishes itself; clients may only subscribe to them (AWS IoT developer
# guide, "Reserved topics": event topics, and the shadow and jobs response topics).
_SERVICE_ONLY_LAST_LEVELS = frozenset({"accepted", "rejected", "delta", "documents", "notify", "notify-next"})


def reserved_topic_problem(topic: str) -> str | None:
    """Why a client may not publish to this reserved topic (Norwegian), or None. Requests such as
    ``…/shadow/update`` and Basic Ingest (``$aws/rules/…``) are allowed; what AWS IoT sends itself
    (lifecycle events, ``…/accepted``, ``…/rejected``, ``…/delta``, ``…/documents``, job
    notifications) is not, so no client can forge a shadow delta or a presence event."""
    if not topic.startswith(AWS_RESERVED_PREFIX):
        return None
    if topic.startswith("$aws/events/") or topic.rsplit("/", 1)[-1] in _SERVICE_ONLY_LAST_LEVELS:
        return (f"{topic!r} er et reservert emne som bare AWS IoT selv publiserer på; klienter kan bare "
                "abonnere på det")
    return None


def filter_problem(topic_filter: str) -> str | None:
    """Why AWS IoT would refuse this topic filter in a SUBSCRIBE (Norwegian), or None.

    Syntax: MQTT 3.1.1 and 5 section 4.7.1 (``#`` alone and last, ``+`` a whole level);
    non-empty [MQTT-4.7.3-1]; AWS's limits on length and depth apply to filters too.
    """
    if not topic_filter:
        return "tomt emnefilter"
    if len(topic_filter.encode()) > MAX_TOPIC_BYTES:
        return f"emnefilteret er lengre enn {MAX_TOPIC_BYTES} byte"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return f"# må stå alene og sist i emnefilteret: {topic_filter!r}"
        if "+" in level and level != "+":
            return f"+ må fylle et helt nivå i emnefilteret: {topic_filter!r}"
    slashes = topic_filter.count("/") - (3 if topic_filter.startswith("$aws/things/") else 0)
    if slashes > MAX_TOPIC_SLASHES:
        return f"emnefilteret har mer enn {MAX_TOPIC_SLASHES} skråstreker: {topic_filter!r}"
    return None


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """(share name, inner filter) of ``$share/<name>/<filter>`` (MQTT 5 section 4.8.2; AWS IoT
    supports shared subscriptions for MQTT 3.1.1 and 5), or (None, the filter)."""
    if not topic_filter.startswith("$share/"):
        return None, topic_filter
    _, name, inner = (topic_filter.split("/", 2) + ["", ""])[:3]
    return name, inner


def shared_problem(topic_filter: str) -> str | None:
    """Why a ``$share/…`` filter is invalid (Norwegian), or None [MQTT-4.8.2-1, -4.8.2-2]."""
    name, inner = split_shared(topic_filter)
    if name is None:
        return None
    if not name or "+" in name or "#" in name or not inner:
        return f"ugyldig delt abonnement (skal være $share/<navn>/<emnefilter>): {topic_filter!r}"
    return filter_problem(inner)


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Does the filter match the topic? Wildcards at the first level never match a topic
    starting with ``$`` [MQTT-4.7.2-1]."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f_levels, t_levels = topic_filter.split("/"), topic.split("/")
    for i, f in enumerate(f_levels):
        if f == "#":
            return True
        if i >= len(t_levels) or (f != "+" and f != t_levels[i]):
            return False
    return len(f_levels) == len(t_levels)
