"""Hand-encoded MQTT 3.1.1 and 5 packets over a plain or TLS socket, for the cases a library won't send.

Written from the specifications (MQTT 3.1.1 §2-3, MQTT 5.0 §2-3): fixed header, variable byte
integers, UTF-8 strings, and MQTT 5 properties. ``RawClient`` reads what the broker sends with
deadlines and tells a closed connection from a quiet one.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from dataclasses import dataclass, field

# packet types (MQTT 3.1.1 §2.2.1, MQTT 5.0 §2.1.2)
CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14

# MQTT 5 property identifiers (MQTT 5.0 §2.2.2.2) and their types
PAYLOAD_FORMAT, MESSAGE_EXPIRY, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA = 0x01, 0x02, 0x03, 0x08, 0x09
SUBSCRIPTION_ID, SESSION_EXPIRY, ASSIGNED_CLIENT_ID, SERVER_KEEP_ALIVE = 0x0B, 0x11, 0x12, 0x13
REASON_STRING, RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, TOPIC_ALIAS = 0x1F, 0x21, 0x22, 0x23
MAXIMUM_QOS, RETAIN_AVAILABLE, USER_PROPERTY, MAXIMUM_PACKET_SIZE = 0x24, 0x25, 0x26, 0x27
WILDCARD_SUB_AVAILABLE, SUB_ID_AVAILABLE, SHARED_SUB_AVAILABLE = 0x28, 0x29, 0x2A

_BYTE = {PAYLOAD_FORMAT, MAXIMUM_QOS, RETAIN_AVAILABLE, WILDCARD_SUB_AVAILABLE, SUB_ID_AVAILABLE,
         SHARED_SUB_AVAILABLE, 0x17, 0x19}
_TWO = {SERVER_KEEP_ALIVE, RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, TOPIC_ALIAS}
_FOUR = {MESSAGE_EXPIRY, SESSION_EXPIRY, MAXIMUM_PACKET_SIZE, 0x18}
_VARINT = {SUBSCRIPTION_ID}
_STRING = {CONTENT_TYPE, RESPONSE_TOPIC, ASSIGNED_CLIENT_ID, REASON_STRING, 0x15, 0x1A, 0x1C}
_BINARY = {CORRELATION_DATA, 0x16}


def varint(n: int) -> bytes:
    out = b""
    while True:
        n, digit = divmod(n, 128)
        out += bytes([digit | (0x80 if n else 0)])
        if not n:
            return out


def utf8(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(raw)) + raw


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def props(*items: tuple[int, object]) -> bytes:
    """MQTT 5 properties: (identifier, value) pairs; a user property's value is (name, value)."""
    out = b""
    for ident, value in items:
        out += bytes([ident])
        if ident in _BYTE:
            out += bytes([value])
        elif ident in _TWO:
            out += struct.pack("!H", value)
        elif ident in _FOUR:
            out += struct.pack("!I", value)
        elif ident in _VARINT:
            out += varint(value)
        elif ident in _STRING:
            out += utf8(value)
        elif ident in _BINARY:
            out += struct.pack("!H", len(value)) + value
        elif ident == USER_PROPERTY:
            out += utf8(value[0]) + utf8(value[1])
        else:
            raise ValueError(f"unknown property {ident:#x}")
    return varint(len(out)) + out


def parse_props(data: bytes, i: int) -> tuple[dict[int, object], int]:
    """Properties at data[i:]; user properties as a list under USER_PROPERTY. Returns (props, next index)."""
    length, i = read_varint(data, i)
    end, out = i + length, {}
    while i < end:
        ident = data[i]
        i += 1
        if ident in _BYTE:
            value, i = data[i], i + 1
        elif ident in _TWO:
            value, i = struct.unpack("!H", data[i:i + 2])[0], i + 2
        elif ident in _FOUR:
            value, i = struct.unpack("!I", data[i:i + 4])[0], i + 4
        elif ident in _VARINT:
            value, i = read_varint(data, i)
        elif ident in _STRING | _BINARY:
            n = struct.unpack("!H", data[i:i + 2])[0]
            value, i = data[i + 2:i + 2 + n], i + 2 + n
            if ident in _STRING:
                value = value.decode()
        elif ident == USER_PROPERTY:
            n = struct.unpack("!H", data[i:i + 2])[0]
            name = data[i + 2:i + 2 + n].decode()
            i += 2 + n
            n = struct.unpack("!H", data[i:i + 2])[0]
            val = data[i + 2:i + 2 + n].decode()
            i += 2 + n
            out.setdefault(USER_PROPERTY, []).append((name, val))
            continue
        else:
            raise ValueError(f"unknown property {ident:#x} from the broker")
        out[ident] = value
    return out, end


def read_varint(data: bytes, i: int) -> tuple[int, int]:
    value, mult = 0, 1
    while True:
        byte = data[i]
        value += (byte & 0x7F) * mult
        mult *= 128
        i += 1
        if not byte & 0x80:
            return value, i


# --- packets a client sends --------------------------------------------------------------
def connect(client_id: str, *, version: int = 4, clean: bool = True, keepalive: int = 60,
            properties: bytes = b"", protocol_name: str | None = None) -> bytes:
    name = protocol_name or ("MQIsdp" if version == 3 else "MQTT")
    flags = 0x02 if clean else 0x00
    body = utf8(name) + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        body += properties or b"\x00"
    return packet(0x10, body + utf8(client_id))


def subscribe(packet_id: int, filters: list[tuple[str | bytes, int]], *, version: int = 4) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if version == 5 else b"")
    for topic_filter, options in filters:
        body += utf8(topic_filter) + bytes([options])
    return packet(0x82, body)


def unsubscribe(packet_id: int, filters: list[str], *, version: int = 4) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if version == 5 else b"")
    return packet(0xA2, body + b"".join(utf8(f) for f in filters))


def publish(topic: str | bytes, payload: bytes, *, qos: int = 0, packet_id: int = 1, retain: bool = False,
            dup: bool = False, version: int = 4, properties: bytes = b"") -> bytes:
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = utf8(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    if version == 5:
        body += properties or b"\x00"
    return packet(first, body + payload)


def puback(packet_id: int) -> bytes:
    return packet(0x40, struct.pack("!H", packet_id))


def disconnect(*, version: int = 4) -> bytes:
    return b"\xe0\x00"


# --- packets the broker sends ----------------------------------------------------------------
@dataclass
class Packet:
    type: int
    flags: int
    body: bytes
    version: int = 4
    # filled in by ``decode`` for the packets the tests look at
    topic: str = ""
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int = 0
    session_present: bool = False
    reason: int = 0
    reasons: list[int] = field(default_factory=list)
    properties: dict[int, object] = field(default_factory=dict)


def decode(first: int, body: bytes, version: int) -> Packet:
    p = Packet(first >> 4, first & 0x0F, body, version)
    if p.type == CONNACK:
        p.session_present, p.reason = bool(body[0] & 1), body[1]
        if version == 5 and len(body) > 2:
            p.properties, _ = parse_props(body, 2)
    elif p.type == PUBLISH:
        p.qos, p.retain, p.dup = (first >> 1) & 3, bool(first & 1), bool(first & 8)
        n = struct.unpack("!H", body[:2])[0]
        p.topic, i = body[2:2 + n].decode(errors="replace"), 2 + n
        if p.qos:
            p.packet_id, i = struct.unpack("!H", body[i:i + 2])[0], i + 2
        if version == 5:
            p.properties, i = parse_props(body, i)
        p.payload = body[i:]
    elif p.type in (PUBACK, UNSUBACK, SUBACK):
        p.packet_id = struct.unpack("!H", body[:2])[0]
        i = 2
        if version == 5 and len(body) > 2:
            if p.type == PUBACK:
                p.reason = body[2]
                return p
            p.properties, i = parse_props(body, 2)
        if p.type == SUBACK or (p.type == UNSUBACK and version == 5):
            p.reasons = list(body[i:])
    elif p.type == DISCONNECT:
        p.reason = body[0] if body else 0
    return p


class RawClient:
    """One TCP (or TLS) connection that sends bytes as given and splits what comes back into packets."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None,
                 version: int = 4, timeout: float = 5.0) -> None:
        self.version = version
        self.buf = b""
        self.closed = False
        self.stash: list[Packet] = []  # PUBLISHes read while waiting for another packet type
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            self.sock = tls.wrap_socket(sock, server_hostname="localhost") if tls else sock
        except BaseException:
            sock.close()
            raise

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _split(self) -> Packet | None:
        if len(self.buf) < 2:
            return None
        length, mult, i = 0, 1, 1
        while True:
            if i >= len(self.buf):
                return None
            byte = self.buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
        if len(self.buf) < i + length:
            return None
        first, body = self.buf[0], self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return decode(first, body, self.version)

    def read(self, timeout: float = 5.0) -> Packet | None:
        """The next packet, or None if the connection closed or nothing came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._split()
            if p is not None:
                return p
            if self.closed:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            except (ConnectionError, ssl.SSLError, OSError):
                data = b""
            if not data:
                self.closed = True
            self.buf += data

    def expect(self, packet_type: int, timeout: float = 5.0) -> Packet:
        """The next packet of this type; PUBLISHes passed on the way are kept for ``publishes``."""
        if packet_type == PUBLISH and self.stash:
            return self.stash.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            p = self.read(max(0.0, deadline - time.monotonic()))
            if p is None:
                raise AssertionError(f"no packet of type {packet_type} within {timeout} s"
                                     + (" (the broker closed the connection)" if self.closed else ""))
            if p.type == packet_type:
                return p
            if p.type == PUBLISH:
                self.stash.append(p)

    def collect(self, quiet: float = 1.0, total: float = 10.0) -> list[Packet]:
        """Every packet until nothing came for ``quiet`` seconds (or the connection closed)."""
        out, deadline = [], time.monotonic() + total
        while time.monotonic() < deadline:
            p = self.read(quiet)
            if p is None:
                break
            out.append(p)
        return out

    def publishes(self, count: int, timeout: float = 10.0, settle: float = 0.5) -> list[Packet]:
        """PUBLISH packets: the first ``count`` (waiting up to ``timeout``), plus any within ``settle`` after."""
        out, deadline = list(self.stash), time.monotonic() + timeout
        self.stash.clear()
        while len(out) < count:
            p = self.read(max(0.0, deadline - time.monotonic()))
            if p is None:
                return out
            if p.type == PUBLISH:
                out.append(p)
        return out + [p for p in self.collect(quiet=settle) if p.type == PUBLISH]

    def closed_within(self, timeout: float) -> bool:
        """True once the broker has closed the connection (packets it sent first are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        self.seen: list[Packet] = getattr(self, "seen", [])
        while time.monotonic() < deadline:
            p = self.read(max(0.0, deadline - time.monotonic()))
            if p is not None:
                self.seen.append(p)
            elif self.closed:
                return True
        return self.closed

    def handshake(self, client_id: str, **kw: object) -> Packet:
        """Send CONNECT and return the CONNACK (fails the test if none comes)."""
        self.send(connect(client_id, version=self.version, **kw))
        return self.expect(CONNACK)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
