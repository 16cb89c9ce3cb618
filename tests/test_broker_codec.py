"""The broker's MQTT codec on its own: bytes in, packets out (OASIS MQTT 3.1.1 and 5.0)."""

from __future__ import annotations

import pytest

from kurs.sky.broker import codec
from tests import mqtt_packets as mp


def _decoder(level: int = 4) -> codec.Decoder:
    d = codec.Decoder(1024)
    assert [type(p) for p in d.feed(mp.connect("c", level=level))] == [codec.Connect]
    return d


def test_a_stream_fed_one_byte_at_a_time_gives_the_same_packets():
    """Section 4.2: a packet may arrive in any number of pieces."""
    stream = mp.connect("c") + mp.publish("a/b", b"x" * 300, qos=1, packet_id=9) + mp.DISCONNECT
    d = codec.Decoder(1024)
    got = [p for i in range(len(stream)) for p in d.feed(stream[i:i + 1])]
    assert [type(p) for p in got] == [codec.Connect, codec.Publish, codec.Disconnect]
    assert (got[1].topic, got[1].payload, got[1].packet_id) == ("a/b", b"x" * 300, 9)


def test_a_remaining_length_of_five_bytes_is_malformed():
    """[MQTT-2.2.3]: at most four bytes."""
    d = _decoder()
    assert d.feed(b"\x30\xff\xff\xff\xff\x01") == [] and isinstance(d.error, codec.MalformedPacket)


def test_size_is_refused_from_the_header_alone():
    d = _decoder()
    assert d.feed(b"\x30\x80\x80\x01") == []  # 16 KB announced, limit 1 KB, no body sent
    assert isinstance(d.error, codec.PacketTooLarge)


def test_after_an_error_nothing_more_is_decoded():
    d = _decoder()
    d.feed(b"\x62\x02\x00\x01")  # PUBREL: QoS 2 flow, not spoken by AWS IoT
    assert isinstance(d.error, codec.ProtocolViolation)
    assert d.feed(mp.publish("a", b"b")) == []


def test_mqtt5_properties_roundtrip_and_user_properties_may_repeat():
    """MQTT 5 section 2.2.2: user properties may appear more than once, others not [MQTT-2.2.2-2]."""
    d = _decoder(5)
    user = b"\x26" + mp.s("a") + mp.s("1") + b"\x26" + mp.s("a") + mp.s("2")
    (p,) = d.feed(mp.publish("t", b"x", qos=1, level=5, properties=b"\x02\x00\x00\x00\x3c" + user))
    assert p.properties == {codec.MESSAGE_EXPIRY: 60, codec.USER_PROPERTY: [("a", "1"), ("a", "2")]}
    again = codec.Decoder(1024)
    again.feed(mp.connect("c", level=5))
    (q,) = again.feed(codec.encode_publish(5, "t", b"x", 1, False, 9, props=p.properties))
    assert q.properties == p.properties and q.packet_id == 9
    dup = _decoder(5)
    dup.feed(mp.publish("t", b"x", level=5, properties=b"\x02\x00\x00\x00\x01\x02\x00\x00\x00\x02"))
    assert isinstance(dup.error, codec.ProtocolViolation)


@pytest.mark.parametrize("first", [0x31 | 0x06, 0x38])  # QoS 3; DUP with QoS 0
def test_publish_flags_that_cannot_be_are_malformed(first):
    """[MQTT-3.3.1-4] QoS 3; [MQTT-3.3.1-2] DUP must be 0 for QoS 0."""
    d = _decoder()
    d.feed(bytes([first]) + mp.varint(4) + mp.s("a") + b"x")
    assert isinstance(d.error, codec.MalformedPacket)


def test_will_qos_without_will_flag_is_malformed():
    """[MQTT-3.1.2-13]."""
    body = mp.s("MQTT") + bytes([4, 0x02 | 0x08]) + b"\x00\x3c" + mp.s("c")
    d = codec.Decoder(1024)
    d.feed(mp.packet(0x10, body))
    assert isinstance(d.error, codec.MalformedPacket)
