"""The broker's I/O: an asyncio ``Protocol`` per connection, feeding bytes to the core.

A ``Protocol`` rather than streams: no task per connection and no copies through a
StreamReader. Writes made while handling one chunk of input are joined into one send per
connection, flushed as soon as that chunk is handled (no extra turn of the event loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kurs.sky.broker.core import BrokerCore, ClientConnection
from kurs.sky.broker.identity import Principal

log = logging.getLogger(__name__)

# A client that reads this far behind (QoS 0 floods: QoS 1 is held to 100 in flight) is
# disconnected rather than letting the cloud's memory grow without bound.
MAX_WRITE_BUFFER = 32 * 1024 * 1024

# Connections written to while a chunk of input is being handled; flushed when it is done.
_dirty: list[MqttProtocol] = []
_handling = 0


class MqttProtocol(asyncio.Protocol):
    def __init__(self, core: BrokerCore, *, tls: bool = False,
                 identify: Callable[[bytes], Principal | None] | None = None) -> None:
        self.core = core
        self.tls = tls
        self.identify = identify
        self.transport: asyncio.Transport | None = None
        self.conn: ClientConnection | None = None
        self._out: list[bytes] = []
        self._closing = False

    # --- asyncio -------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername") or ("?", 0)
        principal = None
        if self.tls:
            # The certificate is bound to this connection here, at the handshake, and only here.
            sslobj = transport.get_extra_info("ssl_object")
            der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
            if der and self.identify is not None:
                try:
                    principal = self.identify(der)
                except Exception:
                    log.exception("Kunne ikke slå opp klientsertifikatet")
            if principal is None:
                # No principal on the TLS port means no access: closed before any MQTT is read,
                # as AWS IoT refuses such a certificate during the handshake.
                log.warning("Avviste TLS-tilkobling fra %s:%s: %s", peer[0], peer[1],
                            "sertifikatet er ikke registrert og aktivt (ACTIVE) i den lokale skyen" if der
                            else "klienten sendte ikke noe sertifikat")
                self._closing = True
                transport.close()
                return
        self.conn = self.core.open(self, (str(peer[0]), int(peer[1])), tls=self.tls, principal=principal)

    def data_received(self, data: bytes) -> None:
        global _handling
        if self.conn is None:
            return
        _handling += 1
        try:
            self.core.data_received(self.conn, data)
        except Exception:  # a bug must cost one connection, never the broker
            log.exception("Intern feil i megleren; kobler fra %s", self.conn.label)
            self.core.drop(self.conn, "SERVER_ERROR")
        finally:
            _handling -= 1
            if not _handling:
                _flush_all()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self.conn is not None:
            self.core.connection_lost(self.conn)

    # --- Link, for the core -------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._closing:
            return
        if not _handling:  # a timer or the cloud itself: nothing to join it with
            if self.transport is not None:
                self.transport.write(data)
            return
        if not self._out:
            _dirty.append(self)
        self._out.append(data)

    def _flush(self) -> None:
        transport = self.transport
        if self._out and transport is not None and not transport.is_closing():
            transport.write(b"".join(self._out) if len(self._out) > 1 else self._out[0])
            if transport.get_write_buffer_size() > MAX_WRITE_BUFFER and self.conn is not None:
                log.warning("Kobler fra %s: klienten leser ikke meldingene sine (over %d MB venter)",
                            self.conn.label, MAX_WRITE_BUFFER // (1024 * 1024))
                self._out.clear()
                self.core.drop(self.conn, "THROTTLED")
                transport.abort()
                return
        self._out.clear()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._out:
            # What the core wrote last (a refusing CONNACK, a DISCONNECT) goes out first.
            if self.transport is not None:
                self.transport.write(b"".join(self._out))
            self._out.clear()
        if self.transport is not None:
            self.transport.close()


def _flush_all() -> None:
    while _dirty:
        _dirty.pop()._flush()
