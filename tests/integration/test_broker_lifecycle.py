"""Lifecycle events as a subscriber sees them (item 10.5).

AWS: https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html, sections
"Connect/Disconnect events" (topics $aws/events/presence/connected|disconnected/<clientId>, fields
clientId, timestamp, eventType, sessionIdentifier, principalIdentifier, ipAddress, versionNumber;
disconnected adds clientInitiatedDisconnect and disconnectReason with values such as
CLIENT_INITIATED_DISCONNECT, DUPLICATE_CLIENTID, CONNECTION_LOST, AUTH_ERROR) and
"Subscribe/Unsubscribe events" ($aws/events/subscriptions/subscribed|unsubscribed/<clientId>, with
clientId, timestamp, eventType, sessionIdentifier, principalIdentifier, topics).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.integration import rawmqtt as mq
from tests.integration.clients import ALLOW_ALL, Paho, arn, uid
from tests.waiting import eventually

CONNECT_FIELDS = {"clientId", "timestamp", "eventType", "sessionIdentifier", "principalIdentifier",
                  "ipAddress", "versionNumber"}

pytestmark = pytest.mark.integration


class Events:
    """Every lifecycle event the broker publishes, as (topic, parsed JSON)."""

    def __init__(self, cloud, closing) -> None:  # noqa: ANN001
        self.client = Paho(cloud.mqtt_port, uid("livssyklus-vakt"))
        closing.append(self.client)
        self.client.wait_connected()
        self.client.subscribe("$aws/events/#", qos=1)
        self.seen: list[tuple[str, dict]] = []

    def _pump(self) -> None:
        while (m := self.client.next_message(0.05)) is not None:
            self.seen.append((m.topic, json.loads(m.payload)))

    def wait(self, topic: str, timeout: float = 10.0, where=lambda e: True, **match: object) -> dict:  # noqa: ANN001
        found: list[dict] = []

        def look() -> bool:
            self._pump()
            found[:] = [e for t, e in self.seen
                        if t == topic and all(e.get(k) == v for k, v in match.items()) and where(e)]
            return bool(found)

        assert eventually(look, timeout), f"no event on {topic} with {match}; saw {[t for t, _ in self.seen]}"
        return found[0]

    def all(self, topic: str, settle: float = 1.0) -> list[dict]:
        time.sleep(settle)
        self._pump()
        return [e for t, e in self.seen if t == topic]


@pytest.fixture
def events(cloud, closing) -> Events:  # noqa: ANN001 - fixture
    return Events(cloud, closing)


def test_connected_and_client_initiated_disconnect_over_tls(cloud, identity, closing, events):
    """Connect/Disconnect events: all documented fields (ipAddress "found in connection messages
    only"); principalIdentifier is the certificate id for X.509 clients; the disconnected event
    carries the same sessionIdentifier and the same versionNumber ("The connect and disconnect
    messages for a client connection have the same version number"), and clientInitiatedDisconnect
    true with disconnectReason CLIENT_INITIATED_DISCONNECT."""
    ident = identity()
    cid = uid("hendelser")
    c = Paho(cloud.mqtts_port, cid, identity=ident)
    closing.append(c)
    c.wait_connected()
    up = events.wait(f"$aws/events/presence/connected/{cid}")
    assert CONNECT_FIELDS <= set(up), f"missing {CONNECT_FIELDS - set(up)}"
    assert up["clientId"] == cid and up["eventType"] == "connected"
    assert up["principalIdentifier"] == ident.cert_id
    assert up["ipAddress"] == "127.0.0.1"
    assert isinstance(up["timestamp"], int) and abs(up["timestamp"] / 1000 - time.time()) < 60
    assert isinstance(up["versionNumber"], int)
    c.disconnect()
    down = events.wait(f"$aws/events/presence/disconnected/{cid}")
    assert (CONNECT_FIELDS - {"ipAddress"}) | {"clientInitiatedDisconnect", "disconnectReason"} <= set(down)
    assert down["eventType"] == "disconnected"
    assert down["sessionIdentifier"] == up["sessionIdentifier"]
    assert down["versionNumber"] == up["versionNumber"]
    assert down["principalIdentifier"] == ident.cert_id
    assert down["clientInitiatedDisconnect"] is True
    assert down["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"


def test_connection_lost_without_disconnect(cloud, closing, events):
    """A client whose socket closes without DISCONNECT: clientInitiatedDisconnect false,
    disconnectReason CONNECTION_LOST."""
    cid = uid("mistet")
    raw = mq.RawClient(cloud.mqtt_port)
    closing.append(raw)
    assert raw.handshake(cid).reason == 0
    up = events.wait(f"$aws/events/presence/connected/{cid}")
    raw.close()
    down = events.wait(f"$aws/events/presence/disconnected/{cid}")
    assert down["sessionIdentifier"] == up["sessionIdentifier"]
    assert down["clientInitiatedDisconnect"] is False
    assert down["disconnectReason"] == "CONNECTION_LOST"


def test_takeover_reports_duplicate_clientid_for_the_old_session(cloud, closing, events):
    """A second connection with the same client id: the OLD session's disconnected event carries the
    old sessionIdentifier and disconnectReason DUPLICATE_CLIENTID; the new session has its own
    sessionIdentifier, and its own later disconnect reports that one (CLIENT_INITIATED_DISCONNECT).
    versionNumber grows from one connection of a client id to the next (life-cycle-events.html:
    "a monotonically increasing long integer value for each client ID connection")."""
    cid = uid("duplikat")
    first = Paho(cloud.mqtt_port, cid)
    closing.append(first)
    first.wait_connected()
    up1 = events.wait(f"$aws/events/presence/connected/{cid}")
    second = Paho(cloud.mqtt_port, cid)
    closing.append(second)
    second.wait_connected()
    assert first.gone.wait(5)
    up2 = events.wait(f"$aws/events/presence/connected/{cid}",
                      where=lambda e: e["sessionIdentifier"] != up1["sessionIdentifier"])
    old_down = events.wait(f"$aws/events/presence/disconnected/{cid}", sessionIdentifier=up1["sessionIdentifier"])
    assert old_down["disconnectReason"] == "DUPLICATE_CLIENTID"
    assert old_down["clientInitiatedDisconnect"] is False
    assert up2["versionNumber"] > up1["versionNumber"]

    second.disconnect()
    new_down = events.wait(f"$aws/events/presence/disconnected/{cid}", sessionIdentifier=up2["sessionIdentifier"])
    assert new_down["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    downs = events.all(f"$aws/events/presence/disconnected/{cid}")
    assert sorted(d["sessionIdentifier"] for d in downs) == sorted([up1["sessionIdentifier"],
                                                                   up2["sessionIdentifier"]]), downs


def test_denied_publish_reports_auth_error(cloud, identity, closing, events):
    """A TLS client disconnected for a publish its policy denies: disconnectReason AUTH_ERROR
    ("The client failed to authenticate or authorization failed")."""
    ident = identity({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": arn(cloud, "topic", "kurs/lov")}]})
    cid = uid("nektet")
    raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(raw)
    assert raw.handshake(cid).reason == 0
    up = events.wait(f"$aws/events/presence/connected/{cid}")
    raw.send(mq.publish("kurs/ikke-lov", b"x", qos=1))
    down = events.wait(f"$aws/events/presence/disconnected/{cid}")
    assert down["sessionIdentifier"] == up["sessionIdentifier"]
    assert down["disconnectReason"] == "AUTH_ERROR"


def test_subscribed_and_unsubscribed_events(cloud, identity, closing, events):
    """Subscribe/Unsubscribe events with the topics of the SUBSCRIBE / UNSUBSCRIBE and the
    session's sessionIdentifier and principal."""
    ident = identity(ALLOW_ALL)
    cid = uid("abonnent")
    raw = mq.RawClient(cloud.mqtts_port, tls=ident.tls())
    closing.append(raw)
    assert raw.handshake(cid).reason == 0
    up = events.wait(f"$aws/events/presence/connected/{cid}")
    raw.send(mq.subscribe(1, [("kurs/a", 1), ("kurs/b/#", 0)]))
    raw.expect(mq.SUBACK)
    sub = events.wait(f"$aws/events/subscriptions/subscribed/{cid}")
    assert sub["eventType"] == "subscribed" and sub["clientId"] == cid
    assert sorted(sub["topics"]) == ["kurs/a", "kurs/b/#"]
    assert sub["sessionIdentifier"] == up["sessionIdentifier"]
    assert sub["principalIdentifier"] == ident.cert_id
    raw.send(mq.unsubscribe(2, ["kurs/a"]))
    raw.expect(mq.UNSUBACK)
    unsub = events.wait(f"$aws/events/subscriptions/unsubscribed/{cid}")
    assert unsub["eventType"] == "unsubscribed" and unsub["topics"] == ["kurs/a"]
    assert unsub["sessionIdentifier"] == up["sessionIdentifier"]


@pytest.mark.parametrize("client_id", ["med+pluss", "med#hash"])
def test_client_ids_with_wildcards_get_no_lifecycle_events(cloud, closing, events, client_id):
    """"Client IDs that contain # or + do not receive lifecycle events" (life-cycle-events.html, clientId).
    Such a client still connects, and a normal one next to it does get its event."""
    odd = mq.RawClient(cloud.mqtt_port)
    closing.append(odd)
    assert odd.handshake(client_id).reason == 0
    normal = uid("vanlig")
    ok = mq.RawClient(cloud.mqtt_port)
    closing.append(ok)
    assert ok.handshake(normal).reason == 0
    events.wait(f"$aws/events/presence/connected/{normal}")
    odd.close()
    ok.send(mq.disconnect())
    events.wait(f"$aws/events/presence/disconnected/{normal}")
    assert not [e for _, e in events.seen if e.get("clientId") == client_id], "lifecycle events for " + client_id
