"""A small sans-I/O codec for MQTT 3.1.1 and MQTT 5: bytes in, packets out, and back.

``Decoder.feed`` splits a byte stream into packets. Anything malformed raises
:class:`MalformedPacket` and the decoder is then dead: the connection must be closed and
nothing after the bad packet is parsed (MQTT 3.1.1 section 4.8, MQTT 5 section 4.13).
The size limit is checked from the fixed header, before the body is buffered (a PUBLISH
announcing 200 MB is refused after five bytes).

Only what AWS IoT Core speaks is decoded: no QoS 2 flow (PUBREC/PUBREL/PUBCOMP) and no AUTH;
those are protocol errors here, as on AWS. Spec clauses are cited as [MQTT-x.y.z-n].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15

MQTT311, MQTT5 = 4, 5

# MQTT 5 property identifiers (section 2.2.2.2) and how each is encoded.
PAYLOAD_FORMAT, MESSAGE_EXPIRY, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA = 0x01, 0x02, 0x03, 0x08, 0x09
SUBSCRIPTION_ID, SESSION_EXPIRY, ASSIGNED_CLIENT_ID, SERVER_KEEP_ALIVE = 0x0B, 0x11, 0x12, 0x13
AUTH_METHOD, AUTH_DATA, REQUEST_PROBLEM_INFO, WILL_DELAY, REQUEST_RESPONSE_INFO = 0x15, 0x16, 0x17, 0x18, 0x19
RESPONSE_INFO, SERVER_REFERENCE, REASON_STRING, RECEIVE_MAXIMUM = 0x1A, 0x1C, 0x1F, 0x21
TOPIC_ALIAS_MAXIMUM, TOPIC_ALIAS, MAXIMUM_QOS, RETAIN_AVAILABLE, USER_PROPERTY = 0x22, 0x23, 0x24, 0x25, 0x26
MAXIMUM_PACKET_SIZE, WILDCARD_SUB_AVAILABLE, SUB_ID_AVAILABLE, SHARED_SUB_AVAILABLE = 0x27, 0x28, 0x29, 0x2A

_BYTE, _U16, _U32, _VARINT, _UTF8, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    PAYLOAD_FORMAT: _BYTE, MESSAGE_EXPIRY: _U32, CONTENT_TYPE: _UTF8, RESPONSE_TOPIC: _UTF8,
    CORRELATION_DATA: _BINARY, SUBSCRIPTION_ID: _VARINT, SESSION_EXPIRY: _U32, ASSIGNED_CLIENT_ID: _UTF8,
    SERVER_KEEP_ALIVE: _U16, AUTH_METHOD: _UTF8, AUTH_DATA: _BINARY, REQUEST_PROBLEM_INFO: _BYTE,
    WILL_DELAY: _U32, REQUEST_RESPONSE_INFO: _BYTE, RESPONSE_INFO: _UTF8, SERVER_REFERENCE: _UTF8,
    REASON_STRING: _UTF8, RECEIVE_MAXIMUM: _U16, TOPIC_ALIAS_MAXIMUM: _U16, TOPIC_ALIAS: _U16,
    MAXIMUM_QOS: _BYTE, RETAIN_AVAILABLE: _BYTE, USER_PROPERTY: _PAIR, MAXIMUM_PACKET_SIZE: _U32,
    WILDCARD_SUB_AVAILABLE: _BYTE, SUB_ID_AVAILABLE: _BYTE, SHARED_SUB_AVAILABLE: _BYTE,
}
# Properties a forwarded PUBLISH carries unchanged from publisher to subscriber
# [MQTT-3.3.2-4, -3.3.2-15, -3.3.2-16, -3.3.2-17, -3.3.2-20]; message expiry is adjusted.
FORWARDED_PROPERTIES = (PAYLOAD_FORMAT, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA, USER_PROPERTY)

# Reason codes (MQTT 5 section 2.4) used by the broker.
SUCCESS, GRANTED_QOS_1 = 0x00, 0x01
UNSPECIFIED_ERROR, MALFORMED, PROTOCOL_ERROR, IMPLEMENTATION_SPECIFIC = 0x80, 0x81, 0x82, 0x83
UNSUPPORTED_PROTOCOL_VERSION, CLIENT_ID_NOT_VALID, NOT_AUTHORIZED, SERVER_BUSY = 0x84, 0x85, 0x87, 0x89
SERVER_SHUTTING_DOWN, KEEP_ALIVE_TIMEOUT, SESSION_TAKEN_OVER, TOPIC_FILTER_INVALID = 0x8B, 0x8D, 0x8E, 0x8F
TOPIC_NAME_INVALID, RECEIVE_MAXIMUM_EXCEEDED, TOPIC_ALIAS_INVALID, PACKET_TOO_LARGE = 0x90, 0x93, 0x94, 0x95
QUOTA_EXCEEDED, ADMINISTRATIVE_ACTION, QOS_NOT_SUPPORTED = 0x97, 0x98, 0x9B
CONNECTION_RATE_EXCEEDED, NO_SUBSCRIPTION_EXISTED, SUB_IDS_NOT_SUPPORTED = 0x9F, 0x11, 0xA1
# MQTT 3.1.1 CONNACK return codes (section 3.2.2.3).
V3_UNACCEPTABLE_PROTOCOL, V3_IDENTIFIER_REJECTED, V3_SERVER_UNAVAILABLE, V3_NOT_AUTHORIZED = 1, 2, 3, 5


class MalformedPacket(Exception):
    """The stream broke the protocol: close the connection (the reason code is for MQTT 5)."""

    reason_code = MALFORMED


class ProtocolViolation(MalformedPacket):
    reason_code = PROTOCOL_ERROR


class PacketTooLarge(MalformedPacket):
    reason_code = PACKET_TOO_LARGE


class UnsupportedProtocol(MalformedPacket):
    """A CONNECT with a protocol level we do not speak: answer with a refusing CONNACK."""

    reason_code = UNSUPPORTED_PROTOCOL_VERSION

    def __init__(self, message: str, level: int) -> None:
        super().__init__(message)
        self.level = level


Properties = dict[int, Any]  # USER_PROPERTY maps to a list of (name, value) pairs


@dataclass
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties = field(default_factory=dict)


@dataclass
class Connect:
    protocol_level: int
    client_id: str
    clean_start: bool
    keep_alive: int
    will: Will | None = None
    username: str | None = None
    password: bytes | None = None
    properties: Properties = field(default_factory=dict)


@dataclass
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int = 0
    properties: Properties = field(default_factory=dict)


@dataclass
class Puback:
    packet_id: int
    reason_code: int = SUCCESS


@dataclass
class Subscribe:
    packet_id: int
    filters: list[tuple[str, int]]  # (filter, subscription options byte)
    properties: Properties = field(default_factory=dict)


@dataclass
class Unsubscribe:
    packet_id: int
    filters: list[str]
    properties: Properties = field(default_factory=dict)


@dataclass
class Pingreq:
    pass


@dataclass
class Disconnect:
    reason_code: int = SUCCESS
    properties: Properties = field(default_factory=dict)


Packet = Connect | Publish | Puback | Subscribe | Unsubscribe | Pingreq | Disconnect


# --- reading ---------------------------------------------------------------------------------
class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes | memoryview, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise MalformedPacket("pakken er kortere enn innholdet sier")
        out = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return out

    def byte(self) -> int:
        if self.pos >= self.end:
            raise MalformedPacket("pakken er kortere enn innholdet sier")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u16(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("!I", self.take(4))[0]

    def varint(self) -> int:
        value, shift = 0, 0
        for _ in range(4):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
        raise MalformedPacket("ugyldig lengdefelt (mer enn fire byte)")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def utf8(self) -> str:
        return decode_utf8(self.binary())

    def left(self) -> int:
        return self.end - self.pos


def decode_utf8(raw: bytes) -> str:
    """A UTF-8 string as MQTT allows it: well-formed, no U+0000 [MQTT-1.5.3-1, -1.5.3-2]."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("en tekst i pakken er ikke gyldig UTF-8") from None
    if "\x00" in text:
        raise MalformedPacket("en tekst i pakken inneholder tegnet NUL (U+0000)")
    return text


def _properties(r: _Reader, allowed: frozenset[int]) -> Properties:
    length = r.varint()
    end = r.pos + length
    if end > r.end:
        raise MalformedPacket("egenskapene (properties) er lengre enn pakken")
    props: Properties = {}
    outer_end, r.end = r.end, end
    while r.pos < end:
        pid = r.varint()
        kind = _PROPERTY_TYPES.get(pid)
        if kind is None or pid not in allowed:
            raise MalformedPacket(f"ukjent eller upassende egenskap 0x{pid:02x}")
        if kind == _BYTE:
            value: Any = r.byte()
        elif kind == _U16:
            value = r.u16()
        elif kind == _U32:
            value = r.u32()
        elif kind == _VARINT:
            value = r.varint()
        elif kind == _UTF8:
            value = r.utf8()
        elif kind == _BINARY:
            value = r.binary()
        else:
            props.setdefault(USER_PROPERTY, []).append((r.utf8(), r.utf8()))
            continue
        if pid in props:  # [MQTT-2.2.2-2]: only user properties may repeat (from a client)
            raise ProtocolViolation(f"egenskap 0x{pid:02x} står mer enn én gang")
        props[pid] = value
    r.end = outer_end
    return props


_CONNECT_PROPS = frozenset({SESSION_EXPIRY, RECEIVE_MAXIMUM, MAXIMUM_PACKET_SIZE, TOPIC_ALIAS_MAXIMUM,
                            REQUEST_RESPONSE_INFO, REQUEST_PROBLEM_INFO, USER_PROPERTY, AUTH_METHOD, AUTH_DATA})
_WILL_PROPS = frozenset({WILL_DELAY, PAYLOAD_FORMAT, MESSAGE_EXPIRY, CONTENT_TYPE, RESPONSE_TOPIC,
                         CORRELATION_DATA, USER_PROPERTY})
_PUBLISH_PROPS = frozenset({PAYLOAD_FORMAT, MESSAGE_EXPIRY, TOPIC_ALIAS, RESPONSE_TOPIC, CORRELATION_DATA,
                            USER_PROPERTY, SUBSCRIPTION_ID, CONTENT_TYPE})
_ACK_PROPS = frozenset({REASON_STRING, USER_PROPERTY})
_SUBSCRIBE_PROPS = frozenset({SUBSCRIPTION_ID, USER_PROPERTY})
_UNSUBSCRIBE_PROPS = frozenset({USER_PROPERTY})
_DISCONNECT_PROPS = frozenset({SESSION_EXPIRY, REASON_STRING, USER_PROPERTY, SERVER_REFERENCE})


def _decode_connect(r: _Reader) -> Connect:
    name = r.binary()
    level = r.byte()
    if name != b"MQTT" or level not in (MQTT311, MQTT5):
        # [MQTT-3.1.2-2]: answer 0x01 (3.1.1) / 0x84 (5), then close.
        raise UnsupportedProtocol(f"protokollen {name!r} nivå {level} støttes ikke (bare MQTT 3.1.1 og 5)", level)
    flags = r.byte()
    if flags & 0x01:  # [MQTT-3.1.2-3]
        raise MalformedPacket("reservert bit i CONNECT er satt")
    keep_alive = r.u16()
    props = _properties(r, _CONNECT_PROPS) if level == MQTT5 else {}
    client_id = r.utf8()
    will = None
    will_qos, will_flag = (flags >> 3) & 0x03, bool(flags & 0x04)
    if will_flag:
        will_props = _properties(r, _WILL_PROPS) if level == MQTT5 else {}
        topic = r.utf8()
        payload = r.binary()
        if will_qos == 3:  # [MQTT-3.1.2-14]
            raise MalformedPacket("will-meldingen har QoS 3")
        will = Will(topic, payload, will_qos, bool(flags & 0x20), will_props)
    elif will_qos or flags & 0x20:  # [MQTT-3.1.2-11, -3.1.2-13, -3.1.2-15]
        raise MalformedPacket("will-QoS eller will-retain er satt uten will-flagg")
    username = r.utf8() if flags & 0x80 else None
    if level == MQTT311 and flags & 0x40 and not flags & 0x80:  # [MQTT-3.1.2-22]
        raise MalformedPacket("passord uten brukernavn")
    password = r.binary() if flags & 0x40 else None
    if r.left():
        raise MalformedPacket("overflødige byte i CONNECT")
    return Connect(level, client_id, bool(flags & 0x02), keep_alive, will, username, password, props)


def _decode_publish(first: int, r: _Reader, level: int) -> Publish:
    qos = (first >> 1) & 0x03
    if qos == 3:  # [MQTT-3.3.1-4]
        raise MalformedPacket("PUBLISH med QoS 3")
    dup = bool(first & 0x08)
    if dup and qos == 0:  # [MQTT-3.3.1-2]
        raise MalformedPacket("PUBLISH med DUP satt og QoS 0")
    topic = r.utf8()
    if "+" in topic or "#" in topic:  # [MQTT-3.3.2-2]
        raise MalformedPacket(f"jokertegn (+ eller #) i emnet for en publisering: {topic!r}")
    packet_id = 0
    if qos:
        packet_id = r.u16()
        if packet_id == 0:  # [MQTT-2.3.1-1]
            raise MalformedPacket("pakke-ID 0")
    props = _properties(r, _PUBLISH_PROPS) if level == MQTT5 else {}
    if SUBSCRIPTION_ID in props:  # [MQTT-3.3.4-6]: only the server sends it
        raise ProtocolViolation("klienten sendte en abonnements-ID i PUBLISH")
    payload = r.take(r.left())
    return Publish(topic, payload, qos, bool(first & 0x01), dup, packet_id, props)


def _decode_subscribe(r: _Reader, level: int) -> Subscribe:
    packet_id = r.u16()
    if packet_id == 0:
        raise MalformedPacket("pakke-ID 0")
    props = _properties(r, _SUBSCRIBE_PROPS) if level == MQTT5 else {}
    filters = []
    while r.left():
        topic_filter = r.utf8()
        options = r.byte()
        if level == MQTT311 and options & 0xFC:  # [MQTT-3.8.3-4]
            raise MalformedPacket("reserverte bit i SUBSCRIBE er satt")
        if level == MQTT5 and options & 0xC0 or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise MalformedPacket("ugyldige abonnementsvalg (QoS 3 eller reserverte bit)")  # [MQTT-3.8.3-5]
        filters.append((topic_filter, options))
    if not filters:  # [MQTT-3.8.3-3]
        raise ProtocolViolation("SUBSCRIBE uten emnefilter")
    return Subscribe(packet_id, filters, props)


def _decode_unsubscribe(r: _Reader, level: int) -> Unsubscribe:
    packet_id = r.u16()
    if packet_id == 0:
        raise MalformedPacket("pakke-ID 0")
    props = _properties(r, _UNSUBSCRIBE_PROPS) if level == MQTT5 else {}
    filters = []
    while r.left():
        filters.append(r.utf8())
    if not filters:  # [MQTT-3.10.3-2]
        raise ProtocolViolation("UNSUBSCRIBE uten emnefilter")
    return Unsubscribe(packet_id, filters, props)


# Fixed-header flags each packet type must carry [MQTT-2.2.2-1] (PUBLISH is checked apart).
_REQUIRED_FLAGS = {CONNECT: 0, PUBACK: 0, SUBSCRIBE: 2, UNSUBSCRIBE: 2, PINGREQ: 0, DISCONNECT: 0}
_NAMES = {PUBREC: "PUBREC", PUBREL: "PUBREL", PUBCOMP: "PUBCOMP", AUTH: "AUTH", CONNACK: "CONNACK",
          SUBACK: "SUBACK", UNSUBACK: "UNSUBACK", PINGRESP: "PINGRESP"}


class Decoder:
    """Splits a client's byte stream into packets; dead after the first error.

    ``feed`` returns the packets that came whole before an error; the error itself is then in
    ``error`` (the caller handles those packets, then closes the connection).
    """

    def __init__(self, max_packet_size: int) -> None:
        self.max_packet_size = max_packet_size
        self.protocol_level = 0  # set by the first CONNECT
        self.error: MalformedPacket | None = None
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        if self.error is not None:
            return []
        buf = self._buf
        buf += data
        out: list[Packet] = []
        pos, size = 0, len(buf)
        try:
            while size - pos >= 2:
                first = buf[pos]
                length, shift, i, complete = 0, 0, pos + 1, False
                while i < size:
                    b = buf[i]
                    i += 1
                    length |= (b & 0x7F) << shift
                    if not b & 0x80:
                        complete = True
                        break
                    shift += 7
                    if shift > 21:
                        raise MalformedPacket("ugyldig lengdefelt (mer enn fire byte)")
                if not complete:
                    break  # the length field is not complete yet
                total = i - pos + length
                if total > self.max_packet_size:  # before the body is read
                    raise PacketTooLarge(f"pakken er {total} byte, mer enn grensen på {self.max_packet_size}")
                if size - i < length:
                    break
                out.append(self._decode(first, buf, i, i + length))
                pos = i + length
        except MalformedPacket as exc:
            self.error = exc
            self._buf = bytearray()
            return out
        if pos:
            del buf[:pos]
        return out

    def _decode(self, first: int, buf: bytearray, start: int, end: int) -> Packet:
        kind, flags = first >> 4, first & 0x0F
        r = _Reader(buf, start, end)
        if kind == PUBLISH and self.protocol_level:
            return _decode_publish(first, r, self.protocol_level)
        required = _REQUIRED_FLAGS.get(kind)
        if required is None:
            raise ProtocolViolation(f"pakketypen {_NAMES.get(kind, kind)} er ikke tillatt fra en klient her")
        if flags != required:
            raise MalformedPacket("ugyldige flagg i pakkehodet")
        if kind == CONNECT:
            if self.protocol_level:  # [MQTT-3.1.0-2]
                raise ProtocolViolation("en andre CONNECT på samme tilkobling")
            packet = _decode_connect(r)
            self.protocol_level = packet.protocol_level
            return packet
        if not self.protocol_level or kind == PUBLISH:  # [MQTT-3.1.0-1]
            raise ProtocolViolation("første pakke var ikke CONNECT")
        if kind == PUBACK:
            packet_id = r.u16()
            reason = r.byte() if r.left() else SUCCESS
            if r.left():
                _properties(r, _ACK_PROPS)
            return Puback(packet_id, reason)
        if kind == SUBSCRIBE:
            return _decode_subscribe(r, self.protocol_level)
        if kind == UNSUBSCRIBE:
            return _decode_unsubscribe(r, self.protocol_level)
        if kind == PINGREQ:
            if r.left():
                raise MalformedPacket("PINGREQ med innhold")
            return Pingreq()
        # DISCONNECT
        if self.protocol_level == MQTT5 and r.left():
            reason = r.byte()
            props = _properties(r, _DISCONNECT_PROPS) if r.left() else {}
            return Disconnect(reason, props)
        if r.left():
            raise MalformedPacket("DISCONNECT med innhold")
        return Disconnect()


# --- writing ---------------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def encode_properties(props: Properties) -> bytes:
    body = bytearray()
    for pid, value in props.items():
        kind = _PROPERTY_TYPES[pid]
        if kind == _PAIR:
            for name, val in value:
                body += bytes([pid]) + _str(name) + _str(val)
            continue
        if kind == _VARINT and isinstance(value, list):  # several subscription identifiers
            for v in value:
                body += bytes([pid]) + _varint(v)
            continue
        body += _varint(pid)
        if kind == _BYTE:
            body.append(value)
        elif kind == _U16:
            body += struct.pack("!H", value)
        elif kind == _U32:
            body += struct.pack("!I", value)
        elif kind == _VARINT:
            body += _varint(value)
        elif kind == _UTF8:
            body += _str(value)
        else:
            body += struct.pack("!H", len(value)) + value
    return _varint(len(body)) + bytes(body)


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def encode_connack(level: int, session_present: bool, code: int, props: Properties | None = None) -> bytes:
    body = bytes([1 if session_present else 0, code])
    if level == MQTT5:
        body += encode_properties(props or {})
    return _packet(0x20, body)


def encode_publish(level: int, topic: str, payload: bytes, qos: int, retain: bool, packet_id: int = 0,
                   dup: bool = False, props: Properties | None = None) -> bytes:
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    raw = topic.encode()
    body = struct.pack("!H", len(raw)) + raw
    if qos:
        body += struct.pack("!H", packet_id)
    if level == MQTT5:
        body += encode_properties(props) if props else b"\x00"
    return _packet(first, body + payload)


def encode_puback(level: int, packet_id: int, code: int = SUCCESS) -> bytes:
    if level == MQTT5 and code != SUCCESS:
        return _packet(0x40, struct.pack("!HB", packet_id, code))
    return _packet(0x40, struct.pack("!H", packet_id))


def encode_suback(level: int, packet_id: int, codes: list[int]) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if level == MQTT5 else b"") + bytes(codes)
    return _packet(0x90, body)


def encode_unsuback(level: int, packet_id: int, codes: list[int]) -> bytes:
    if level == MQTT5:
        return _packet(0xB0, struct.pack("!H", packet_id) + b"\x00" + bytes(codes))
    return _packet(0xB0, struct.pack("!H", packet_id))


PINGRESP_BYTES = b"\xd0\x00"


def encode_disconnect(code: int) -> bytes:
    """A server DISCONNECT: MQTT 5 only (3.1.1 has none, the server just closes)."""
    return _packet(0xE0, bytes([code]) + b"\x00")
