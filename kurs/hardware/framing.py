r'''Mongoose OS RPC framing on a UART, both directions (as ``mos`` and the ``rpc-uart`` library do).

A frame is one JSON object between delimiters, optionally followed by metadata: the first
field is the CRC-32 (IEEE, as ``zlib.crc32``) of the JSON bytes as 8 lower-case hex digits.
The old delimiter is three double quotes, the new one (since 2018) a newline; ``mos`` sends
``\n"""{json}crc"""\n`` and the device answers in the same style it was spoken to (triple
quotes if it saw them, CRC if the request carried one). Compact JSON never contains a raw
newline or three quotes in a row, so neither delimiter can occur inside a frame.

Before a request ``mos`` sends the handshake ``"""\x04"""\n\n``; the device answers the lone
``\x04`` frame with ``"""\x04"""``. XON/XOFF bytes (0x11/0x13), which cannot occur in JSON,
are software flow control from the device. The device's console log shares the UART: every
byte that is not part of a frame is a log line.
'''

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

DELIM_OLD = b'"""'
DELIM_NEW = b"\n"
EOF_CHAR = b"\x04"
HANDSHAKE = DELIM_OLD + EOF_CHAR + DELIM_OLD + DELIM_NEW + DELIM_NEW
HANDSHAKE_REPLY = DELIM_OLD + EOF_CHAR + DELIM_OLD
XON = 0x11
XOFF = 0x13
MAX_PENDING = 64 * 1024  # a console line longer than this is passed on in pieces


def crc_hex(payload: bytes) -> bytes:
    return b"%08x" % (zlib.crc32(payload) & 0xFFFFFFFF)


def dump_json(obj: Any) -> bytes:
    # Raw UTF-8 (not \u escapes): the device's JSON parser handles UTF-8 bytes, and an SSID
    # like «Kontoret-ÆØÅ» must arrive intact.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_frame(obj: dict[str, Any], *, old_delimiter: bool = True, crc: bool = True) -> bytes:
    payload = dump_json(obj)
    body = payload + (crc_hex(payload) if crc else b"")
    if old_delimiter:
        body = DELIM_OLD + body + DELIM_OLD
    return DELIM_NEW + body + DELIM_NEW


class CorruptFrame(ValueError):
    """The frame's CRC does not match its JSON."""


@dataclass(frozen=True)
class Frame:
    obj: dict[str, Any]
    had_crc: bool


def decode_frame(content: bytes) -> Frame | None:
    """The JSON object in ``content`` (metadata checked and removed), or None if it is not a frame.

    Raises CorruptFrame when a CRC is present and wrong.
    """
    content = content.strip()
    if not content.startswith(b"{"):
        return None
    end = content.rfind(b"}")
    if end < 0:
        return None
    payload, meta = content[: end + 1], content[end + 1 :]
    had_crc = False
    if meta:
        first = meta.split(b",", 1)[0].strip()
        if not re.fullmatch(rb"[0-9a-fA-F]{1,8}", first):
            return None
        if len(first) >= 8:
            had_crc = True
            if int(first, 16) != zlib.crc32(payload) & 0xFFFFFFFF:
                raise CorruptFrame(payload[:80].decode("utf-8", "replace"))
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    return Frame(obj, had_crc)


def strip_flow_control(data: bytes) -> tuple[bytes, bool | None]:
    """``data`` without XON/XOFF, and the last flow-control state seen (True: may send)."""
    state: bool | None = None
    if XON in data or XOFF in data:
        for byte in data:
            if byte == XON:
                state = True
            elif byte == XOFF:
                state = False
        data = data.replace(bytes([XON]), b"").replace(bytes([XOFF]), b"")
    return data, state


_TRIPLE_QUOTED = re.compile(rb'"""([^\n]*?)"""')


class HostStreamParser:
    """Host side: split what the device sends into frames, handshake replies and log lines.

    ``feed`` returns events: ``("ack", None)``, ``("frame", dict)``, ``("corrupt", text)`` and
    ``("console", line)``. A line that looks like JSON but is not a valid frame (say, the
    firmware printing its state) is a console line.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._line = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        self._buf += data
        events: list[tuple[str, Any]] = []
        while True:
            newline = self._buf.find(DELIM_NEW)
            match = _TRIPLE_QUOTED.search(self._buf)
            if match is not None and (newline < 0 or match.start() < newline):
                self._line += self._buf[: match.start()]
                self._segment(bytes(match.group(1)), events)
                del self._buf[: match.end()]
                continue
            if newline >= 0:
                self._line += self._buf[:newline]
                del self._buf[: newline + 1]
                self._end_line(events)
                continue
            too_long = len(self._buf) + len(self._line) > MAX_PENDING
            if too_long and (DELIM_OLD not in self._buf or len(self._buf) > 4 * MAX_PENDING):
                self._line += self._buf
                self._buf.clear()
                self._end_line(events)
            return events

    def _segment(self, content: bytes, events: list[tuple[str, Any]]) -> None:
        if content == EOF_CHAR:
            events.append(("ack", None))
            return
        try:
            frame = decode_frame(content)
        except CorruptFrame as exc:
            events.append(("corrupt", str(exc)))
            return
        if frame is not None:
            events.append(("frame", frame.obj))
        else:  # triple quotes inside a log line
            self._line += DELIM_OLD + content + DELIM_OLD

    def _end_line(self, events: list[tuple[str, Any]]) -> None:
        raw = bytes(self._line).rstrip(b"\r")
        self._line.clear()
        if not raw.strip():
            return  # blank lines, and the device's empty-frame replies
        if raw.lstrip().startswith(b"{"):
            try:
                frame = decode_frame(raw)
            except CorruptFrame as exc:
                events.append(("corrupt", str(exc)))
                return
            if frame is not None and _is_response(frame.obj):
                events.append(("frame", frame.obj))
                return
        events.append(("console", raw.decode("utf-8", "replace")))


def _is_response(obj: dict[str, Any]) -> bool:
    return "id" in obj and ("result" in obj or "error" in obj)


class DeviceStreamParser:
    """Device side, as ``rpc-uart`` reads the UART: segments between either delimiter.

    ``feed`` returns events: ``("handshake", None)`` for the lone ``\\x04`` frame,
    ``("empty", None)`` for an empty segment, ``("frame", Frame)``, ``("corrupt", text)`` and
    ``("invalid", text)``. ``old_delimiter_seen`` tells how to answer.
    """

    def __init__(self, max_frame: int = MAX_PENDING) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self.old_delimiter_seen = False

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        self._buf += data
        events: list[tuple[str, Any]] = []
        while True:
            old = self._buf.find(DELIM_OLD)
            new = self._buf.find(DELIM_NEW)
            if old < 0 and new < 0:
                break
            if old >= 0 and (new < 0 or old < new):
                self.old_delimiter_seen = True
                cut, size = old, len(DELIM_OLD)
            else:
                cut, size = new, len(DELIM_NEW)
            segment = bytes(self._buf[:cut])
            del self._buf[: cut + size]
            events.append(self._classify(segment))
        if len(self._buf) > self._max:
            self._buf.clear()
            events.append(("invalid", "Incoming frame is too big, dropping."))
        return events

    @staticmethod
    def _classify(segment: bytes) -> tuple[str, Any]:
        if not segment.strip():
            return ("empty", None)
        if segment == EOF_CHAR:
            return ("handshake", None)
        try:
            frame = decode_frame(segment)
        except CorruptFrame as exc:
            return ("corrupt", str(exc))
        if frame is None:
            return ("invalid", segment[:80].decode("utf-8", "replace"))
        return ("frame", frame)
