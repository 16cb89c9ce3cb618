"""A client's side of MQTT 3.1.1 and 5 for tests: build the packets a client sends, split and
read what the broker sends back. Written from the OASIS specifications, independent of the
broker's own codec, so a mistake there is not mirrored here."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def props(raw: bytes = b"") -> bytes:
    return varint(len(raw)) + raw


def connect(client_id: str, *, level: int = 4, clean: bool = True, keep_alive: int = 60,
            properties: bytes = b"", will: tuple[str, bytes, int] | None = None) -> bytes:
    flags = (0x02 if clean else 0)
    body = s("MQTT") + bytes([level])
    tail = b""
    if will is not None:
        flags |= 0x04 | (will[2] << 3)
        tail = (props() if level == 5 else b"") + s(will[0]) + s(will[1])
    body += bytes([flags]) + struct.pack("!H", keep_alive)
    if level == 5:
        body += props(properties)
    return packet(0x10, body + s(client_id) + tail)


def publish(topic: str | bytes, payload: bytes, *, qos: int = 0, packet_id: int = 1, retain: bool = False,
            level: int = 4, properties: bytes = b"") -> bytes:
    body = s(topic) + (struct.pack("!H", packet_id) if qos else b"") + (props(properties) if level == 5 else b"")
    return packet(0x30 | (qos << 1) | (1 if retain else 0), body + payload)


def subscribe(filters: list[tuple[str, int]], *, packet_id: int = 1, level: int = 4) -> bytes:
    body = struct.pack("!H", packet_id) + (props() if level == 5 else b"")
    for f, opts in filters:
        body += s(f) + bytes([opts])
    return packet(0x82, body)


def unsubscribe(filters: list[str], *, packet_id: int = 1, level: int = 4) -> bytes:
    return packet(0xA2, struct.pack("!H", packet_id) + (props() if level == 5 else b"") + b"".join(map(s, filters)))


def puback(packet_id: int) -> bytes:
    return packet(0x40, struct.pack("!H", packet_id))


DISCONNECT = b"\xe0\x00"


@dataclass
class Received:
    kind: int
    flags: int
    body: bytes
    fields: dict = field(default_factory=dict)


def split(data: bytes, level: int = 4) -> list[Received]:
    """Every complete packet in data, with the fields a test looks at."""
    out, i = [], 0
    while i < len(data):
        first = data[i]
        length, shift, j = 0, 0, i + 1
        while True:
            b = data[j]
            length |= (b & 0x7F) << shift
            j += 1
            if not b & 0x80:
                break
            shift += 7
        body = data[j:j + length]
        out.append(_read(first, body, level))
        i = j + length
    return out


def _skip_props(body: bytes, at: int) -> int:
    length, shift = 0, 0
    while True:
        b = body[at]
        length |= (b & 0x7F) << shift
        at += 1
        if not b & 0x80:
            return at + length
        shift += 7


def _read(first: int, body: bytes, level: int) -> Received:
    kind, flags = first >> 4, first & 0x0F
    r = Received(kind, flags, body)
    if kind == 2:  # CONNACK
        r.fields = {"session_present": bool(body[0] & 1), "code": body[1]}
    elif kind == 3:  # PUBLISH
        qos = (flags >> 1) & 3
        tlen = struct.unpack("!H", body[:2])[0]
        at = 2 + tlen
        pid = 0
        if qos:
            pid = struct.unpack("!H", body[at:at + 2])[0]
            at += 2
        if level == 5:
            at = _skip_props(body, at)
        r.fields = {"topic": body[2:2 + tlen].decode(), "qos": qos, "retain": bool(flags & 1),
                    "dup": bool(flags & 8), "packet_id": pid, "payload": body[at:]}
    elif kind == 4:  # PUBACK
        r.fields = {"packet_id": struct.unpack("!H", body[:2])[0], "code": body[2] if len(body) > 2 else 0}
    elif kind == 9:  # SUBACK
        at = _skip_props(body, 2) if level == 5 else 2
        r.fields = {"packet_id": struct.unpack("!H", body[:2])[0], "codes": list(body[at:])}
    elif kind == 14:  # DISCONNECT (MQTT 5)
        r.fields = {"code": body[0] if body else 0}
    return r
