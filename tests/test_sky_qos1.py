"""QoS 1 delivery from the local cloud's broker: nothing accepted is lost, as in AWS IoT Core.

A slow subscriber must still get every message, without holding up anyone else; the broker
keeps at most 100 unacknowledged messages in flight to one client (AWS IoT's limit) and
queues the rest; an unacknowledged message is sent again with DUP=1 while the client stays.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest

pytestmark = pytest.mark.integration


# --- a bare MQTT 3.1.1 client: it acknowledges only when told to ---------------------------
def _packet(first_byte: int, body: bytes) -> bytes:
    length, n = b"", len(body)
    while True:
        n, digit = divmod(n, 128)
        length += bytes([digit | (0x80 if n else 0)])
        if not n:
            return bytes([first_byte]) + length + body


def _str(s: str) -> bytes:
    return struct.pack("!H", len(s.encode())) + s.encode()


def _connect_packet(client_id: str) -> bytes:
    return _packet(0x10, _str("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _str(client_id))


def _subscribe_packet(topic_filter: str) -> bytes:
    return _packet(0x82, struct.pack("!H", 1) + _str(topic_filter) + b"\x01")


class _Publish:
    def __init__(self, first_byte: int, body: bytes) -> None:
        topic_len = struct.unpack("!H", body[:2])[0]
        self.dup = bool(first_byte & 0x08)
        self.packet_id = struct.unpack("!H", body[2 + topic_len:4 + topic_len])[0]
        self.payload = body[4 + topic_len:]


class _Reader:
    """Splits a byte stream into MQTT packets (first byte, body)."""

    def __init__(self) -> None:
        self.buf = b""

    def packets(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= 2:
            length, mult, i = 0, 1, 1
            while True:
                if i >= len(self.buf):
                    return out
                byte = self.buf[i]
                length += (byte & 0x7F) * mult
                mult *= 128
                i += 1
                if not byte & 0x80:
                    break
            if len(self.buf) < i + length:
                return out
            out.append((self.buf[0], self.buf[i:i + length]))
            self.buf = self.buf[i + length:]
        return out


class RawSubscriber:
    """A blocking MQTT subscriber over a plain socket that never acknowledges on its own."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = _Reader()
        self.pending: list[_Publish] = []
        self.sock.sendall(_connect_packet(f"raa-{uuid.uuid4().hex[:8]}"))
        self.sock.sendall(_subscribe_packet(topic_filter))
        self._wait_for(9)  # SUBACK

    def _wait_for(self, packet_type: int) -> None:
        while True:
            for first, body in self.reader.packets(self.sock.recv(65536)):
                if first >> 4 == 3:
                    self.pending.append(_Publish(first, body))
                elif first >> 4 == packet_type:
                    return

    def receive(self, quiet_s: float) -> list[_Publish]:
        """Every PUBLISH that arrives until nothing has come for quiet_s seconds."""
        self.sock.settimeout(quiet_s)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.pending += [_Publish(f, b) for f, b in self.reader.packets(data) if f >> 4 == 3]
        except TimeoutError:
            pass
        got, self.pending = self.pending, []
        return got

    def ack(self, messages: list[_Publish]) -> None:
        self.sock.sendall(b"".join(_packet(0x40, struct.pack("!H", m.packet_id)) for m in messages))

    def close(self) -> None:
        self.sock.close()


def _paho(port: int, name: str) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _subscribe(client: paho.Client, topic_filter: str) -> None:
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.subscribe(topic_filter, qos=1)
    assert done.wait(10), "SUBACK kom ikke"


def _publish_all(port: int, topic: str, count: int) -> None:
    pub = _paho(port, "sender")
    infos = [pub.publish(topic, str(i).encode(), qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(60)
    pub.disconnect()
    pub.loop_stop()


def _wait_until_stalled(counter, target: int, quiet_s: float = 8.0) -> None:  # noqa: ANN001
    """Wait until counter() reaches target or stops growing for quiet_s seconds."""
    last, since = -1, time.monotonic()
    while counter() < target and time.monotonic() - since < quiet_s:
        if counter() != last:
            last, since = counter(), time.monotonic()
        time.sleep(0.1)


# --- tests -------------------------------------------------------------------------------------
def test_slow_subscriber_gets_every_message_and_a_fast_one_is_not_held_up(sky):
    """600 messages to a paho subscriber that needs 10 ms a message (6 s in all, longer than
    the old broker's 5 s PUBACK wait): every payload arrives there and at a fast subscriber, and
    the cloud log (learners read it) gets no PUBACK time-outs or tracebacks."""
    count, topic = 600, f"kurs/qos1/{uuid.uuid4().hex[:6]}"
    log = Path(sky.log_file)
    log_start = log.stat().st_size
    slow_seen: set[bytes] = set()
    fast_seen: set[bytes] = set()

    def slow_on_message(c, u, m):  # noqa: ANN001
        slow_seen.add(m.payload)
        time.sleep(0.01)

    slow, fast = _paho(sky.mqtt_port, "treg"), _paho(sky.mqtt_port, "rask")
    slow.on_message = slow_on_message
    fast.on_message = lambda c, u, m: fast_seen.add(m.payload)
    _subscribe(slow, topic)
    _subscribe(fast, topic)
    try:
        _publish_all(sky.mqtt_port, topic, count)
        # The fast subscriber has everything long before the slow one is done.
        _wait_until_stalled(lambda: len(fast_seen), count)
        assert len(fast_seen) == count, f"den raske abonnenten fikk {len(fast_seen)} av {count}"
        assert len(slow_seen) < count, "testen er ikke treg nok til å vise noe"
        _wait_until_stalled(lambda: len(slow_seen), count)
        assert len(slow_seen) == count, f"den trege abonnenten fikk {len(slow_seen)} av {count}"
    finally:
        for c in (slow, fast):
            c.disconnect()
            c.loop_stop()
    with log.open("rb") as f:
        f.seek(log_start)
        added = f.read().decode(errors="replace")
    assert "Timeout waiting for PUBACK" not in added
    assert "Traceback" not in added


def test_at_most_100_unacknowledged_messages_in_flight_then_the_rest(sky):
    """AWS IoT sends a client at most 100 unacknowledged QoS 1 messages; the rest wait in the
    broker and follow as PUBACKs free the slots, none lost."""
    count, topic = 250, f"kurs/qos1/{uuid.uuid4().hex[:6]}"
    sub = RawSubscriber(sky.mqtt_port, topic)
    try:
        _publish_all(sky.mqtt_port, topic, count)
        first = sub.receive(quiet_s=1.5)
        assert len(first) == 100
        seen = {m.payload for m in first}
        batch = first
        while batch:
            sub.ack(batch)
            batch = sub.receive(quiet_s=1.5)
            assert len(batch) <= 100
            seen |= {m.payload for m in batch}
        assert seen == {str(i).encode() for i in range(count)}
    finally:
        sub.close()


def test_unacknowledged_message_is_sent_again_with_dup_while_the_client_stays():
    """An in-process broker with a short retry interval: a PUBLISH that gets no PUBACK comes
    again with DUP=1 and the same packet id, and stops coming once acknowledged."""
    from kurs.sky import broker as broker_mod
    from kurs.sky.broker.limits import Limits
    from kurs.sky.process import free_port

    def on_publish(*_a: object) -> None:
        return None

    async def scenario() -> list[tuple[bool, int, bytes]]:
        port = free_port()
        broker = broker_mod.CloudBroker(broker_mod.broker_config("127.0.0.1", port, free_port()),
                                        on_publish=on_publish, limits=Limits(retry_interval_s=0.5))
        await broker.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_connect_packet("dup-test") + _subscribe_packet("kurs/dup"))
            split, seen = _Reader(), []

            async def next_packet(kind: int, timeout: float) -> tuple[int, bytes]:
                while True:
                    for first, body in split.packets(b""):
                        if first >> 4 == kind:
                            return first, body
                    split.buf += await asyncio.wait_for(reader.read(65536), timeout)

            await next_packet(9, 5)  # SUBACK
            broker.send("kurs/dup", b"hei", qos=1)
            for _ in range(2):  # the first send, then one resend: acknowledged neither
                p = _Publish(*await next_packet(3, 5))
                seen.append((p.dup, p.packet_id, p.payload))
            writer.write(_packet(0x40, struct.pack("!H", seen[-1][1])))
            await writer.drain()
            with pytest.raises(TimeoutError):
                await next_packet(3, 1.5)  # acknowledged: not sent again
            writer.close()
            return seen
        finally:
            await broker.shutdown()

    seen = asyncio.run(scenario())
    assert seen[0] == (False, seen[0][1], b"hei")
    assert seen[1] == (True, seen[0][1], b"hei")
