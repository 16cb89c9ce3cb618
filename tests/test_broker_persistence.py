"""Persistent sessions, their queued QoS 1 messages and retained messages survive a restart.

AWS IoT developer guide, "Using MQTT persistent sessions": a session (subscriptions and the
QoS 1 messages it missed) lasts its expiry period whatever happens to a broker in between;
README: everything the local cloud accepted is back after ``kurs sky stop``/``start``.
MQTT 3.1.1 section 3.2.2.2: the CONNACK says Session Present.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid

import paho.mqtt.client as paho
import pytest

from tests.test_sky_persistence import _start, _stop, home  # noqa: F401 - fixture
from tests.waiting import eventually

pytestmark = pytest.mark.integration


class Subscriber:
    """A paho 3.1.1 client with a persistent session (clean_session=False), QoS 1."""

    def __init__(self, port: int, client_id: str) -> None:
        self.port, self.client_id = port, client_id
        self.got: list[bytes] = []
        self.session_present: bool | None = None

    def connect(self) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False)
        connected = threading.Event()

        def on_connect(c, u, flags, rc, props):  # noqa: ANN001
            self.session_present = flags.session_present
            connected.set()

        self.client.on_connect = on_connect
        self.client.on_message = lambda c, u, m: self.got.append(m.payload)
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert connected.wait(10)

    def subscribe(self, topic_filter: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic_filter, qos=1)
        assert done.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publish(port: int, topic: str, payloads: list[bytes], retain_last: bool = False) -> None:
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    infos = [pub.publish(topic, p, qos=1, retain=retain_last and i == len(payloads) - 1)
             for i, p in enumerate(payloads)]
    for info in infos:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()


def _retained_seen(port: int, topic: str) -> bytes | None:
    got: list[tuple[bytes, bool]] = []
    arrived = threading.Event()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"ny-{uuid.uuid4().hex[:6]}")
    c.on_message = lambda cl, u, m: (got.append((m.payload, m.retain)), arrived.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe(topic, qos=1)
    arrived.wait(5)
    c.disconnect()
    c.loop_stop()
    return got[0][0] if got and got[0][1] else None


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_persistent_subscriber_gets_what_was_queued_across_a_restart(home, how):  # noqa: F811
    _, started = home
    first = _start(started)
    sub = Subscriber(first.mqtt_port, "varig-abonnent")
    sub.connect()
    sub.subscribe("varig/#")
    sub.close()
    payloads = [f"m{i}".encode() for i in range(50)]
    _publish(first.mqtt_port, "varig/a", payloads, retain_last=True)
    if how == "stop":
        _stop(first)
        second = _start(started)  # same ports, as with the defaults
    else:
        # Killed right after the last PUBACK: what the broker acknowledged is in its journal.
        os.kill(first.pid, signal.SIGKILL)
        from kurs.sky.process import is_cloud_process

        assert eventually(lambda: not is_cloud_process(first.pid), timeout=5)
        second = _start(started, same_ports=False)
    sub = Subscriber(second.mqtt_port, "varig-abonnent")
    sub.connect()
    try:
        assert sub.session_present is True
        assert eventually(lambda: len(set(sub.got)) >= 50, timeout=15), f"fikk {len(set(sub.got))} av 50"
        assert set(sub.got) == set(payloads)
        # The subscription itself came back too: a new message arrives without subscribing again.
        _publish(second.mqtt_port, "varig/b", [b"etterpaa"])
        assert eventually(lambda: b"etterpaa" in sub.got, timeout=10)
    finally:
        sub.close()
    assert _retained_seen(second.mqtt_port, "varig/a") == b"m49"
