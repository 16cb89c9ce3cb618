"""Hostile bytes against the running local cloud: each closes only its own connection, is
logged as one Norwegian line (no traceback), and normal clients keep working.

MQTT 3.1.1 section 4.8 / MQTT 5 section 4.13 (a malformed packet closes the connection);
[MQTT-3.3.2-2] (no wildcards in a PUBLISH topic); [MQTT-1.5.3-1, -1.5.3-2] (UTF-8, no NUL);
AWS General Reference, "AWS IoT Core endpoints and quotas" (128 KB payload).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from kurs import mqtt
from kurs.errors import CourseError
from tests import mqtt_packets as mp

pytestmark = pytest.mark.integration


def _raw(port: int, data: bytes, wait_s: float = 2.0) -> bytes:
    """Send data on a fresh connection; what the broker answered before closing it."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return got


HIDDEN = mp.publish("skjult/emne", b"smuglet")


@pytest.mark.parametrize("name,stream", [
    ("wildcard topic", mp.connect("h1") + mp.publish("skjult/+", HIDDEN)),
    ("bad UTF-8", mp.connect("h2") + mp.publish(b"skjult/\xff", HIDDEN)),
    ("NUL in topic", mp.connect("h3") + mp.publish(b"skjult/\x00", HIDDEN)),
    ("200 MB announced", mp.connect("h4") + b"\x30" + mp.varint(200 * 1024 * 1024) + HIDDEN),
    ("QoS 3 in SUBSCRIBE", mp.connect("h5") + mp.subscribe([("skjult/#", 3)]) + HIDDEN),
])
def test_hostile_stream_is_closed_and_nothing_after_it_is_delivered(sky, name, stream):
    log = Path(sky.log_file)
    start = log.stat().st_size
    with mqtt.Monitor("skjult/#") as mon:
        answer = _raw(sky.mqtt_port, stream)
        assert answer.startswith(b"\x20\x02\x00\x00"), f"{name}: CONNACK first"
        assert b"smuglet" not in answer
        with pytest.raises(CourseError):
            mon.wait(topic="skjult/emne", timeout=1)
    time.sleep(0.3)
    with log.open("rb") as f:
        f.seek(start)
        added = f.read().decode(errors="replace")
    assert "Traceback" not in added
    assert "ugyldig MQTT-pakke" in added or "pakken er" in added


def test_unsupported_protocol_level_gets_a_refusing_connack_not_a_hang(sky):
    """MQTT 3.1.1 [MQTT-3.1.2-2]: return code 0x01, then close."""
    answer = _raw(sky.mqtt_port, mp.connect("gammel", level=3))
    assert answer == b"\x20\x02\x00\x01"


def test_mqtt5_connect_gets_an_mqtt5_connack(sky):
    answer = _raw(sky.mqtt_port, mp.connect("fem", level=5) + mp.DISCONNECT)
    assert answer[0] == 0x20 and answer[3] == 0x00


def test_a_thousand_half_connects_do_not_lock_out_a_normal_client(sky):
    """The issue's denial of service: half a CONNECT on 1000 connections, then a normal client."""
    socks = []
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", sky.mqtt_port), timeout=5)
            s.sendall(mp.connect("halv")[:6])
            socks.append(s)
        with mqtt.Monitor("kurs/normal") as mon:
            mqtt.publish("kurs/normal", {"ok": True})
            assert mon.wait(topic="kurs/normal").json() == {"ok": True}
    finally:
        for s in socks:
            s.close()
