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

Frames to the device are pure ASCII: ``rpc-uart`` clears its receive buffer on any byte
>= 0x80, so each UTF-8 byte of a non-ASCII character is written as ``\u00XX``, which the
firmware's JSON parser (frozen) stores as that one byte. An SSID «Kontoret-ÆØÅ» thus arrives
as its UTF-8 bytes. :class:`DeviceStreamParser` applies both rules, so the virtual board
fails exactly where a real one would.
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
    """Compact JSON with raw UTF-8 (what the device writes; the host reads it as UTF-8)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def dump_ascii_json(obj: Any) -> bytes:
    r"""Compact JSON, pure ASCII: every UTF-8 byte >= 0x80 (only ever inside strings) as \u00XX."""
    return _HIGH_BYTE.sub(lambda m: b"\\u00%02x" % m.group()[0], dump_json(obj))


def frozen_bytes(value: Any) -> Any:
    r"""Strings as frozen stores them: \u0000-\u00ff are single bytes, read back as UTF-8."""
    if isinstance(value, str):
        if all(ord(ch) < 0x100 for ch in value):
            return value.encode("latin-1").decode("utf-8", "replace")
        return value
    if isinstance(value, list):
        return [frozen_bytes(v) for v in value]
    if isinstance(value, dict):
        return {frozen_bytes(k): frozen_bytes(v) for k, v in value.items()}
    return value


def encode_frame(obj: dict[str, Any], *, old_delimiter: bool = True, crc: bool = True,
                 ascii_only: bool = False) -> bytes:
    """A frame; ``ascii_only`` for frames to a device (see the module docstring)."""
    payload = dump_ascii_json(obj) if ascii_only else dump_json(obj)
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


def decode_frame(content: bytes, *, as_device: bool = False) -> Frame | None:
    """The JSON object in ``content`` (metadata checked and removed), or None if it is not a frame.

    ``as_device``: strings as the firmware's frozen parser stores them (:func:`frozen_bytes`).
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
    return Frame(frozen_bytes(obj) if as_device else obj, had_crc)


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
    ``("empty", None)`` for an empty segment, ``("frame", Frame)``, ``("corrupt", text)``,
    ``("invalid", text)`` and ``("dropped", None)`` when a byte >= 0x80 cleared the buffer. ``old_delimiter_seen`` tells how to answer.
    """

    def __init__(self, max_frame: int = MAX_PENDING) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self.old_delimiter_seen = False

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        events: list[tuple[str, Any]] = []
        # rpc-uart: a byte >= 0x80 clears the receive buffer (what came before it in the
        # same read still counts; the frame it was in is lost).
        pieces = _HIGH_BYTE.split(data)
        for index, piece in enumerate(pieces):
            self._buf += piece
            self._segments(events)
            if index < len(pieces) - 1:
                self._buf.clear()
                events.append(("dropped", None))
        if len(self._buf) > self._max:
            self._buf.clear()
            events.append(("invalid", "Incoming frame is too big, dropping."))
        return events

    def _segments(self, events: list[tuple[str, Any]]) -> None:
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

    @staticmethod
    def _classify(segment: bytes) -> tuple[str, Any]:
        if not segment.strip():
            return ("empty", None)
        if segment == EOF_CHAR:
            return ("handshake", None)
        try:
            frame = decode_frame(segment, as_device=True)
        except CorruptFrame as exc:
            return ("corrupt", str(exc))
        if frame is None:
            return ("invalid", segment[:80].decode("utf-8", "replace"))
        return ("frame", frame)
