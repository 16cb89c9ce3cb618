"""The broker's core: sessions, routing, authorisation and AWS IoT's rules, with no I/O.

Plain synchronous code driven by the I/O layer (:mod:`kurs.sky.broker.connection`): it is
handed bytes and a clock and writes bytes back through a ``Link``. So every rule here can be
unit-tested in-process with a fake clock (tests/test_broker_core.py).

What it follows, and where it is written down:
- MQTT 3.1.1 (OASIS standard) and MQTT 5 (OASIS standard), clauses cited as [MQTT-x.y.z-n];
- AWS IoT developer guide: "MQTT" (differences from the spec), "Using MQTT persistent
  sessions", "MQTT 5 supported features", "Lifecycle events", "Retained messages",
  "AWS IoT Core policies"; AWS General Reference, "AWS IoT Core endpoints and quotas".
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from kurs.sky.broker import codec
from kurs.sky.broker.codec import MQTT5, MQTT311
from kurs.sky.broker.identity import Principal
from kurs.sky.broker.journal import BrokerJournal
from kurs.sky.broker.lifecycle import Lifecycle
from kurs.sky.broker.limits import MAX_CLIENT_ID_BYTES, Limits
from kurs.sky.broker.retained import RetainedMessage
from kurs.sky.broker.sessions import Outgoing, Session, Subscription
from kurs.sky.broker.snapshot import export_state, message_record, subscription_record
from kurs.sky.broker.subscriptions import SubscriptionTree
from kurs.sky.broker.topics import (
    filter_matches,
    filter_problem,
    reserved_topic_problem,
    shared_problem,
    split_shared,
    topic_problem,
)

log = logging.getLogger(__name__)

# (principal, client id, iot action, resource) -> None if allowed, else why not (Norwegian).
Authorize = Callable[[Principal, str, str, str], "str | None"]
ServiceHook = Callable[[str, bytes, str, "Principal | None"], None]


# disconnectReason (AWS lifecycle events) -> what the learner reads in the log.
_REASONS_NO = {
    "CONNECTION_LOST": "forbindelsen ble brutt uten DISCONNECT",
    "DUPLICATE_CLIENTID": "en ny tilkobling brukte samme klient-ID",
    "AUTH_ERROR": "ikke autorisert",
    "CLIENT_ERROR": "klienten brøt reglene",
    "MQTT_KEEP_ALIVE_TIMEOUT": "keep-alive gikk ut",
    "SERVER_ERROR": "intern feil i megleren",
    "THROTTLED": "for mange tilkoblinger",
    "CLIENT_INITIATED_DISCONNECT_WITH_WILL": "DISCONNECT med will-melding",
}


class Link(Protocol):
    """The I/O layer's side of one connection."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class ClientConnection:
    """One network connection and what the core knows about it."""

    __slots__ = ("link", "peer_ip", "peer_port", "tls", "principal", "opened_at", "last_seen", "decoder",
                 "level", "client_id", "session", "keep_alive", "connected", "closed", "session_id",
                 "version", "aliases", "max_packet_out", "receive_cache", "will", "clean_disconnect")

    def __init__(self, link: Link, peer: tuple[str, int], tls: bool, principal: Principal | None,
                 now: float, max_packet_size: int) -> None:
        self.link = link
        self.peer_ip, self.peer_port = peer[0], peer[1]
        self.tls = tls
        self.principal = principal
        self.opened_at = self.last_seen = now
        self.decoder = codec.Decoder(max_packet_size)
        self.level = 0
        self.client_id = ""
        self.session: Session | None = None
        self.keep_alive = 0
        self.connected = False
        self.closed = False
        self.session_id = ""
        self.version = 0
        self.aliases: dict[int, str] = {}
        self.max_packet_out = 0  # MQTT 5: the client's Maximum Packet Size (0: no limit)
        self.receive_cache: dict[str, bool] = {}
        self.will: codec.Will | None = None
        self.clean_disconnect = False

    @property
    def label(self) -> str:
        return f"klient {self.client_id!r}" if self.client_id else f"tilkobling fra {self.peer_ip}:{self.peer_port}"


class BrokerCore:
    def __init__(self, *, clock: Callable[[], float] = time.time, limits: Limits | None = None,
                 authorize: Authorize | None = None,
                 principal_valid: Callable[[Principal], bool] | None = None,
                 on_message: ServiceHook | None = None) -> None:
        self.clock = clock
        self.limits = limits or Limits()
        self.authorize = authorize
        self.principal_valid = principal_valid
        self.on_message = on_message  # the cloud's services (shadow, rules) for every accepted publish
        self.on_presence: Callable[[dict[str, dict[str, Any]]], None] | None = None
        self.connections: set[ClientConnection] = set()
        self.sessions: dict[str, Session] = {}
        self.tree = SubscriptionTree()
        self.retained: dict[str, RetainedMessage] = {}
        self.retained_expiry: dict[str, float] = {}  # MQTT 5 message expiry of retained messages
        self._delayed_wills: dict[str, tuple[float, ClientConnection]] = {}  # MQTT 5 Will Delay Interval
        self._share_turns: dict[str, int] = {}  # round robin per shared subscription
        self.lifecycle = Lifecycle(self._publish_event, clock)
        self._pending_by_source: dict[str, list[ClientConnection]] = {}
        # Persistence (kurs.sky.broker.journal): every change to persistent state is journaled
        # before the client is answered; tick() checkpoints now and then.
        self.journal: BrokerJournal | None = None
        self.checkpoint_every_s = 5.0
        self.seq = 0  # numbers the messages queued for persistent sessions
        self._last_checkpoint = clock()

    def _record(self, op: str, **fields: Any) -> None:
        if self.journal is not None:
            try:
                self.journal.append({"op": op, **fields})
            except OSError as exc:  # a full disk must not stop the broker
                log.warning("Kunne ikke skrive meglerens journal (%s); lagrede økter kan gå tapt ved omstart", exc)

    # --- connections ----------------------------------------------------------------------
    def open(self, link: Link, peer: tuple[str, int], *, tls: bool = False,
             principal: Principal | None = None) -> ClientConnection:
        """A new connection; it must send CONNECT within ``connect_deadline_s``."""
        conn = ClientConnection(link, peer, tls, principal, self.clock(), self.limits.max_packet_size)
        self.connections.add(conn)
        pending = self._pending_by_source.setdefault(conn.peer_ip, [])
        pending.append(conn)
        if len(pending) > self.limits.pending_connects_per_source:
            # Too many connections from one address that have not sent CONNECT: the oldest goes,
            # so a flood of half-open connections cannot lock normal clients out.
            oldest = pending[0]
            log.warning("For mange ufullstendige tilkoblinger fra %s: lukker den eldste", conn.peer_ip)
            self.drop(oldest, "THROTTLED")
        return conn

    def data_received(self, conn: ClientConnection, data: bytes) -> None:
        if conn.closed:
            return
        conn.last_seen = self.clock()
        decoder = conn.decoder
        for packet in decoder.feed(data):
            if conn.closed:
                return  # nothing after a packet that closed the connection is handled
            self._handle(conn, packet)
        exc = decoder.error
        if exc is None or conn.closed:
            return
        if isinstance(exc, codec.UnsupportedProtocol):
            # [MQTT-3.1.2-2]: CONNACK 0x01 (3.1.1 layout) / 0x84 (5), then close; never a hang.
            log.warning("Avviste %s: %s", conn.label, exc)
            if exc.level == MQTT5:
                conn.link.write(codec.encode_connack(MQTT5, False, codec.UNSUPPORTED_PROTOCOL_VERSION))
            else:
                conn.link.write(codec.encode_connack(MQTT311, False, codec.V3_UNACCEPTABLE_PROTOCOL))
            self.drop(conn, "CLIENT_ERROR")
            return
        log.warning("Kobler fra %s: ugyldig MQTT-pakke (%s)", conn.label, exc)
        self.drop(conn, "CLIENT_ERROR", exc.reason_code)

    def connection_lost(self, conn: ClientConnection) -> None:
        """The I/O layer saw the connection close (the peer went, or we closed it)."""
        if not conn.closed:
            self.drop(conn, "CLIENT_INITIATED_DISCONNECT" if conn.clean_disconnect else "CONNECTION_LOST")

    def drop(self, conn: ClientConnection, reason: str, v5_code: int | None = None) -> None:
        """Close a connection and settle what follows: will message, lifecycle event, session."""
        if conn.closed:
            return
        conn.closed = True
        self.connections.discard(conn)
        self._forget_pending(conn)
        if v5_code is not None and conn.level == MQTT5 and conn.connected:
            conn.link.write(codec.encode_disconnect(v5_code))
        conn.link.close()
        if not conn.connected:
            return
        conn.connected = False
        session = conn.session
        if session is not None and session.connection is conn:
            session.connection = None
            session.disconnected_at = self.clock()
            if not session.persistent:
                self._end_session(session)
            elif session.journaled:
                self._record("gone", cid=session.client_id, at=session.disconnected_at)
        clean = reason == "CLIENT_INITIATED_DISCONNECT"
        log.info("Klient %r koblet fra%s", conn.client_id, "" if clean else f" ({_REASONS_NO.get(reason, reason)})")
        self.lifecycle.disconnected(conn, reason, clean)
        if conn.will is not None and not clean:
            delay = float(conn.will.properties.get(codec.WILL_DELAY, 0)) if conn.level == MQTT5 else 0.0
            if session is not None and session.persistent:
                delay = min(delay, session.expiry_s)  # sent at the latest when the session ends
            else:
                delay = 0.0
            if delay > 0:  # MQTT 5 section 3.1.3.2.2: held back; a reconnect in time cancels it
                self._delayed_wills[conn.client_id] = (self.clock() + delay, conn)
            else:
                self._publish_will(conn)
        self._presence_changed()

    def _forget_pending(self, conn: ClientConnection) -> None:
        pending = self._pending_by_source.get(conn.peer_ip)
        if pending and conn in pending:
            pending.remove(conn)
            if not pending:
                del self._pending_by_source[conn.peer_ip]

    def _end_session(self, session: Session) -> None:
        for topic_filter in session.subscriptions:
            self.tree_remove(session.client_id, topic_filter)
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
        if session.journaled:
            self._record("end", cid=session.client_id)

    # --- packets ---------------------------------------------------------------------------
    def _handle(self, conn: ClientConnection, packet: codec.Packet) -> None:
        kind = type(packet)
        if not conn.connected and kind is not codec.Connect:  # a refused CONNECT is closed at once
            self.drop(conn, "CLIENT_ERROR")
            return
        if kind is codec.Publish:
            self._on_publish(conn, packet)  # type: ignore[arg-type]
        elif kind is codec.Puback:
            self._on_puback(conn, packet)  # type: ignore[arg-type]
        elif kind is codec.Pingreq:
            conn.link.write(codec.PINGRESP_BYTES)
        elif kind is codec.Connect:
            self._on_connect(conn, packet)  # type: ignore[arg-type]
        elif kind is codec.Subscribe:
            self._on_subscribe(conn, packet)  # type: ignore[arg-type]
        elif kind is codec.Unsubscribe:
            self._on_unsubscribe(conn, packet)  # type: ignore[arg-type]
        elif kind is codec.Disconnect:
            if packet.reason_code == 0x04:  # MQTT 5 "Disconnect with Will Message"
                conn.clean_disconnect = False
                self.drop(conn, "CLIENT_INITIATED_DISCONNECT_WITH_WILL")
                return
            conn.clean_disconnect = True
            session = conn.session
            if conn.level == MQTT5 and codec.SESSION_EXPIRY in packet.properties and session is not None:
                session.expiry_s = min(float(packet.properties[codec.SESSION_EXPIRY]),
                                       self.limits.persistent_session_expiry_s)
                self._journal_session(session)
            self.drop(conn, "CLIENT_INITIATED_DISCONNECT")

    def _refuse_connect(self, conn: ClientConnection, v3_code: int | None, v5_code: int, why: str,
                        failure: str | None = None) -> None:
        log.warning("Avviste %s: %s", conn.label, why)
        if conn.level == MQTT5:
            conn.link.write(codec.encode_connack(MQTT5, False, v5_code))
        elif v3_code is not None:
            conn.link.write(codec.encode_connack(MQTT311, False, v3_code))
        if failure:
            self.lifecycle.connect_failed(conn, failure)
        self.drop(conn, "AUTH_ERROR")

    def _on_connect(self, conn: ClientConnection, p: codec.Connect) -> None:
        now = self.clock()
        conn.level = p.protocol_level
        self._forget_pending(conn)
        client_id = p.client_id
        assigned = False
        if not client_id:
            if p.protocol_level == MQTT311 and not p.clean_start:  # [MQTT-3.1.3-8]
                self._refuse_connect(conn, codec.V3_IDENTIFIER_REJECTED, codec.CLIENT_ID_NOT_VALID,
                                     "tom klient-ID krever cleanSession=1")
                return
            client_id, assigned = f"kurs-{uuid.uuid4().hex}", True  # [MQTT-3.1.3-6]
        conn.client_id = client_id
        if len(client_id.encode()) > MAX_CLIENT_ID_BYTES:
            self._refuse_connect(conn, codec.V3_IDENTIFIER_REJECTED, codec.CLIENT_ID_NOT_VALID,
                                 f"klient-ID-en er lengre enn {MAX_CLIENT_ID_BYTES} byte")
            return
        # Identity: a TLS connection's certificate was bound at the handshake; it is checked
        # again here, on every CONNECT, session resumption included. No principal on the TLS
        # port means no access.
        principal = conn.principal
        if conn.tls:
            if principal is None or (self.principal_valid and not self.principal_valid(principal)):
                # MQTT 3.1.1: AWS IoT closes without a CONNACK (paho: "connection lost");
                # MQTT 5: CONNACK 0x87 Not authorized (AWS IoT, "MQTT 5 reason codes").
                self._refuse_connect(conn, None, codec.NOT_AUTHORIZED,
                                     "sertifikatet er ikke registrert og aktivt (ACTIVE) i den lokale skyen",
                                     "AUTHORIZATION_FAILED")
                return
            why = self._denied(conn, "iot:Connect", client_id)
            if why:
                self._refuse_connect(conn, None, codec.NOT_AUTHORIZED,
                                     f"policyen nektet iot:Connect på {why}. Tilkoblingen lukkes uten svar"
                                     " (som i AWS IoT)", "AUTHORIZATION_FAILED")
                return
        will = p.will
        if will is not None:
            problem = topic_problem(will.topic)
            if will.qos == 2:
                problem = "will-meldingen har QoS 2, som AWS IoT ikke støtter"
            if problem:
                self._refuse_connect(conn, None, codec.QOS_NOT_SUPPORTED if will.qos == 2
                                     else codec.TOPIC_NAME_INVALID, problem)
                return
            if len(will.payload) > self.limits.max_payload:
                self._refuse_connect(conn, None, codec.PACKET_TOO_LARGE, "will-meldingen er for stor")
                return
            # AWS IoT, "Lifecycle events": a will topic the policy does not allow publishing to
            # fails the CONNECT (connect_failed, AUTHORIZATION_FAILED).
            why = self._denied(conn, "iot:Publish", will.topic)
            if why:
                self._refuse_connect(conn, None, codec.NOT_AUTHORIZED,
                                     f"policyen tillater ikke iot:Publish til will-emnet {will.topic!r}: {why}",
                                     "AUTHORIZATION_FAILED")
                return
        conn.will = will
        props = p.properties
        if p.protocol_level == MQTT5:
            conn.max_packet_out = props.get(codec.MAXIMUM_PACKET_SIZE, 0)
            receive_max = props.get(codec.RECEIVE_MAXIMUM, 65535)
            if receive_max == 0 or conn.max_packet_out == 0 and codec.MAXIMUM_PACKET_SIZE in props:
                self._refuse_connect(conn, None, codec.PROTOCOL_ERROR, "ugyldig Receive Maximum/Maximum Packet Size")
                return  # MQTT 5 sections 3.1.2.11.3-4: neither may be 0 (a Protocol Error)
            expiry = min(float(props.get(codec.SESSION_EXPIRY, 0)), self.limits.persistent_session_expiry_s)
        else:
            receive_max = 65535
            expiry = 0.0 if p.clean_start else self.limits.persistent_session_expiry_s
        conn.receive_cache.clear()
        # Keep-alive: AWS clamps it to 30–1200 s; 0 means AWS's maximum.
        keep_alive = p.keep_alive or self.limits.keep_alive_max_s
        keep_alive = max(self.limits.keep_alive_min_s, min(self.limits.keep_alive_max_s, keep_alive))
        conn.keep_alive = keep_alive

        # A second connection with this client id: AWS drops the old one (DUPLICATE_CLIENTID),
        # only now that the new one is authorised.
        old = self.sessions.get(client_id)
        if old is not None and old.connection is not None:
            log.warning("Ny tilkobling med klient-ID %r: den forrige tilkoblingen kobles fra (som i AWS IoT)",
                        client_id)
            self.drop(old.connection, "DUPLICATE_CLIENTID", codec.SESSION_TAKEN_OVER)
        old = self.sessions.get(client_id)
        if old is not None and (p.clean_start or old.expired(now)):
            self._end_session(old)
            old = None
        session_present = old is not None
        delayed = self._delayed_wills.pop(client_id, None)
        if delayed is not None and not session_present:
            self._publish_will(delayed[1])  # its session ended: the held Will goes now [MQTT-3.1.3-9]
        session = old or Session(client_id, expiry)
        session.expiry_s = expiry
        session.connection = conn
        session.disconnected_at = None
        session.receive_max = min(receive_max, self.limits.inflight_out)
        self.sessions[client_id] = session
        conn.session = session
        conn.connected = True

        connack_props: codec.Properties = {}
        if p.protocol_level == MQTT5:
            connack_props = {codec.RECEIVE_MAXIMUM: self.limits.inflight_out, codec.MAXIMUM_QOS: 1,
                             codec.RETAIN_AVAILABLE: 1, codec.MAXIMUM_PACKET_SIZE: self.limits.max_packet_size,
                             codec.TOPIC_ALIAS_MAXIMUM: self.limits.topic_alias_maximum,
                             codec.WILDCARD_SUB_AVAILABLE: 1, codec.SUB_ID_AVAILABLE: 0,
                             codec.SHARED_SUB_AVAILABLE: 1}
            if assigned:
                connack_props[codec.ASSIGNED_CLIENT_ID] = client_id
            if float(props.get(codec.SESSION_EXPIRY, 0)) != expiry:
                connack_props[codec.SESSION_EXPIRY] = int(expiry)
            if p.keep_alive != keep_alive:
                connack_props[codec.SERVER_KEEP_ALIVE] = keep_alive
        conn.link.write(codec.encode_connack(p.protocol_level, session_present, 0, connack_props))
        log.info("Klient %r koblet til%s%s", client_id, " med sertifikat" if principal else "",
                 " (fortsetter lagret økt)" if session_present else "")
        self.lifecycle.connected(conn)
        self._presence_changed()
        if session_present:
            # [MQTT-4.4.0-1]: unacknowledged messages are sent again, with DUP=1, then the queue.
            for out in list(session.inflight.values()):
                self._write_publish(conn, out, dup=True)
                out.sent_at = now
            self._drain(session)
        self._journal_session(session)

    def _journal_session(self, session: Session) -> None:
        if session.persistent or session.journaled:
            if not session.journaled:  # from now on its subscriptions and queue are journaled too
                session.journaled = True
                self._record("session", cid=session.client_id, expiry=session.expiry_s)
                for topic_filter, sub in session.subscriptions.items():
                    self._record("sub", cid=session.client_id, f=topic_filter, o=subscription_record(sub))
                return
            self._record("session", cid=session.client_id, expiry=session.expiry_s)

    # --- authorisation -----------------------------------------------------------------------
    def _denied(self, conn: ClientConnection, action: str, resource: str) -> str | None:
        """Why the policy denies this (Norwegian), or None. Plain TCP (no certificate, loopback
        only) allows everything; TLS asks the policy."""
        if not conn.tls or self.authorize is None:
            return None
        if conn.principal is None:
            return "tilkoblingen har ikke noe gyldig sertifikat"
        try:
            return self.authorize(conn.principal, conn.client_id, action, resource)
        except Exception:  # a bug in the policy check must not open the broker, nor crash it
            log.exception("Policysjekken feilet; nekter %s for %s", action, conn.label)
            return "policysjekken feilet"

    def _may_receive(self, conn: ClientConnection, topic: str) -> bool:
        if not conn.tls:
            return True
        cached = conn.receive_cache.get(topic)
        if cached is None:
            if len(conn.receive_cache) > 1000:
                conn.receive_cache.clear()
            why = self._denied(conn, "iot:Receive", topic)
            if why:
                log.warning("Policy: nektet iot:Receive på %r for %s: %s. Meldingen leveres ikke til denne"
                            " klienten.", topic, conn.label, why)
            cached = conn.receive_cache[topic] = why is None
        return cached

    # --- publish ------------------------------------------------------------------------------
    def _on_publish(self, conn: ClientConnection, p: codec.Publish) -> None:
        level = conn.level
        if p.qos == 2:
            # AWS IoT does not support QoS 2: it drops the connection (MQTT 5: 0x9B).
            log.warning("Kobler fra %s: QoS 2 støttes ikke av AWS IoT (bruk QoS 0 eller 1)", conn.label)
            self.drop(conn, "CLIENT_ERROR", codec.QOS_NOT_SUPPORTED)
            return
        topic = p.topic
        props = p.properties
        if level == MQTT5 and codec.TOPIC_ALIAS in props:
            alias = props.pop(codec.TOPIC_ALIAS)
            if alias == 0 or alias > self.limits.topic_alias_maximum:  # [MQTT-3.3.2-9]
                log.warning("Kobler fra %s: ugyldig emnealias %d", conn.label, alias)
                self.drop(conn, "CLIENT_ERROR", codec.TOPIC_ALIAS_INVALID)
                return
            if topic:
                conn.aliases[alias] = topic
            else:
                topic = conn.aliases.get(alias, "")
                if not topic:
                    log.warning("Kobler fra %s: ukjent emnealias %d", conn.label, alias)
                    self.drop(conn, "CLIENT_ERROR", codec.PROTOCOL_ERROR)
                    return
        problem = topic_problem(topic) or reserved_topic_problem(topic)
        if problem:
            log.warning("Kobler fra %s: %s", conn.label, problem)
            self.drop(conn, "CLIENT_ERROR", codec.TOPIC_NAME_INVALID)
            return
        if len(p.payload) > self.limits.max_payload:
            log.warning("Kobler fra %s: meldingen er større enn %d KB", conn.label, self.limits.max_payload // 1024)
            self.drop(conn, "CLIENT_ERROR", codec.PACKET_TOO_LARGE)
            return
        action = "iot:Publish"
        why = self._denied(conn, action, topic)
        if why is None and p.retain:  # AWS: a retained message needs iot:RetainPublish as well
            action = "iot:RetainPublish"
            why = self._denied(conn, action, topic)
        if why:
            if level == MQTT5:
                # AWS IoT, MQTT 5: PUBACK with 0x87 Not authorized; the connection stays.
                log.warning("Policy: nektet %s til %r for %s: %s. Meldingen ble ikke levert.", action, topic,
                            conn.label, why)
                if p.qos == 1:
                    conn.link.write(codec.encode_puback(MQTT5, p.packet_id, codec.NOT_AUTHORIZED))
                return
            # MQTT 3.1.1 has no way to say no: AWS sends no PUBACK and closes the connection.
            log.warning("Policy: nektet %s til %r for %s: %s. Klienten kobles fra (som i AWS IoT); en klient som"
                        " kobler til igjen automatisk og gjør det samme, havner i en løkke.", action, topic,
                        conn.label, why)
            self.drop(conn, "AUTH_ERROR")
            return
        self.route(topic, p.payload, p.qos, p.retain, conn.client_id, props if level == MQTT5 else None)
        if p.qos == 1:  # acknowledged only now that it is accepted and routed
            conn.link.write(codec.encode_puback(level, p.packet_id))
        if self.on_message is not None:
            self._services(topic, p.payload, conn.client_id, conn.principal)

    def _services(self, topic: str, payload: bytes, client_id: str, principal: Principal | None) -> None:
        try:
            self.on_message(topic, payload, client_id, principal)  # type: ignore[misc]
        except Exception:  # a service bug must never take the broker down
            log.exception("Feil i skytjenestene for en melding på %r", topic)

    def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False, client_id: str = "",
                services: bool = True) -> None:
        """A message from the cloud itself or from HTTP (iot-data Publish, rule republish)."""
        self.route(topic, payload, min(qos, 1), retain, client_id, None)
        if services and self.on_message is not None:
            self._services(topic, payload, client_id, None)

    def route(self, topic: str, payload: bytes, qos: int, retain: bool, client_id: str,
              props: codec.Properties | None) -> None:
        """Deliver to every matching subscriber at min(publish QoS, subscription QoS)."""
        now = self.clock()
        expires_at = None
        fwd_props = None
        if props:
            fwd_props = {k: v for k, v in props.items() if k in codec.FORWARDED_PROPERTIES}
            if codec.MESSAGE_EXPIRY in props:
                expires_at = now + props[codec.MESSAGE_EXPIRY]
        if retain:
            self._retain(topic, payload, qos, now, expires_at)
        matches = self.tree.match(topic)
        if not matches:
            return
        best: dict[str, Subscription] = {}
        shared: dict[str, list[tuple[str, Subscription]]] | None = None
        for cid, sub in matches:  # overlapping filters: one copy at the highest QoS [MQTT-3.3.5-1]
            if sub.share:
                if shared is None:
                    shared = {}
                shared.setdefault(sub.share, []).append((cid.split("\x00", 1)[0], sub))
                continue
            have = best.get(cid)
            if have is None or sub.qos > have.qos:
                best[cid] = sub
        targets = best.items()
        if shared:  # one member of each share gets it [MQTT-4.8.2-4]
            targets = list(targets) + [self._share_member(share, members) for share, members in shared.items()]
        encoded: dict[tuple[int, int, bool], bytes] = {}
        for cid, sub in targets:
            if sub.no_local and cid == client_id:
                continue
            session = self.sessions.get(cid)
            if session is None:
                continue
            conn = session.connection
            if conn is not None and conn.tls and not self._may_receive(conn, topic):
                continue
            out_qos = qos if qos < sub.qos else sub.qos
            out_retain = retain and sub.retain_as_published
            if out_qos == 0:
                if conn is None:
                    continue  # QoS 0 is not kept for an offline session
                key = (conn.level, 0, out_retain)
                data = encoded.get(key)
                if data is None:
                    data = encoded[key] = codec.encode_publish(conn.level, topic, payload, 0, out_retain,
                                                               props=self._props_out(fwd_props, expires_at, now))
                if conn.max_packet_out and len(data) > conn.max_packet_out:
                    continue  # [MQTT-3.1.2-25]
                conn.link.write(data)
                continue
            self._enqueue(session, Outgoing(topic, payload, 1, out_retain, fwd_props, expires_at))

    def _share_member(self, share: str, members: list[tuple[str, Subscription]]) -> tuple[str, Subscription]:
        """Round robin over the share's members, connected ones first."""
        members.sort(key=lambda m: m[0])
        online = [m for m in members if (s := self.sessions.get(m[0])) is not None and s.connection is not None]
        pool = online or members
        turn = self._share_turns.get(share, 0)
        self._share_turns[share] = turn + 1
        return pool[turn % len(pool)]

    def tree_add(self, client_id: str, topic_filter: str, sub: Subscription) -> None:
        """Index a session's subscription; a shared one under its inner filter, one key per member."""
        name, inner = split_shared(topic_filter)
        if name is None:
            self.tree.add(topic_filter, client_id, sub)
            return
        sub.share = topic_filter
        self.tree.add(inner, f"{client_id}\x00{topic_filter}", sub)

    def tree_remove(self, client_id: str, topic_filter: str) -> None:
        name, inner = split_shared(topic_filter)
        if name is None:
            self.tree.remove(topic_filter, client_id)
        else:
            self.tree.remove(inner, f"{client_id}\x00{topic_filter}")

    @staticmethod
    def _props_out(props: codec.Properties | None, expires_at: float | None, now: float) -> codec.Properties | None:
        if expires_at is None:
            return props
        out = dict(props or {})
        out[codec.MESSAGE_EXPIRY] = max(0, int(expires_at - now))  # [MQTT-3.3.2-6]
        return out

    def _enqueue(self, session: Session, out: Outgoing) -> None:
        if session.journaled:  # written down before the publisher gets its PUBACK
            self.seq += 1
            out.seq = self.seq
            self._record("queue", cid=session.client_id, m=message_record(out))
        conn = session.connection
        if conn is None:
            if len(session.pending) >= self.limits.queued_per_offline_session:
                log.warning("Køen for den frakoblede klienten %r er full; eldste melding kastes", session.client_id)
                self._done(session, session.pending.popleft())
            session.pending.append(out)
            return
        if not session.pending and len(session.inflight) < session.receive_max:
            self._send_qos1(session, conn, out)
        else:
            session.pending.append(out)

    def _done(self, session: Session, out: Outgoing) -> None:
        """A queued message is delivered (PUBACK) or given up."""
        if session.journaled and out.seq:
            self._record("done", cid=session.client_id, seq=out.seq)

    def _send_qos1(self, session: Session, conn: ClientConnection, out: Outgoing) -> None:
        now = self.clock()
        out.packet_id = session.next_packet_id()
        out.first_sent_at = out.sent_at = now
        session.inflight[out.packet_id] = out
        if not self._write_publish(conn, out, dup=False):
            del session.inflight[out.packet_id]  # too large for this client: dropped [MQTT-3.1.2-25]

    def _write_publish(self, conn: ClientConnection, out: Outgoing, dup: bool) -> bool:
        props = self._props_out(out.props, out.expires_at, self.clock())
        data = codec.encode_publish(conn.level, out.topic, out.payload, out.qos, out.retain, out.packet_id, dup,
                                    props)
        if conn.max_packet_out and len(data) > conn.max_packet_out:
            return False
        conn.link.write(data)
        return True

    def _drain(self, session: Session) -> None:
        conn = session.connection
        if conn is None:
            return
        now = self.clock()
        limit = session.receive_max
        while session.pending and len(session.inflight) < limit:
            out = session.pending.popleft()
            if out.expires_at is not None and out.expires_at <= now:
                self._done(session, out)
                continue  # MQTT 5 message expiry: not delivered once expired [MQTT-3.3.2-5]
            if conn.tls and not self._may_receive(conn, out.topic):
                self._done(session, out)  # queued while offline: iot:Receive is checked on delivery
                continue
            self._send_qos1(session, conn, out)

    def _on_puback(self, conn: ClientConnection, p: codec.Puback) -> None:
        session = conn.session
        if session is None:
            return
        out = session.inflight.pop(p.packet_id, None)
        if out is not None:
            self._done(session, out)
            self._drain(session)

    # --- retained messages ------------------------------------------------------------------
    def _retain(self, topic: str, payload: bytes, qos: int, now: float, expires_at: float | None = None) -> None:
        self.retained_expiry.pop(topic, None)
        if payload:
            self.retained[topic] = RetainedMessage(topic, bytes(payload), qos, int(now * 1000))
            if expires_at is not None:  # MQTT 5 message expiry applies to a retained message too
                self.retained_expiry[topic] = expires_at
        else:  # an empty retained message deletes it [MQTT-3.3.1-10]
            self.retained.pop(topic, None)
        self._record("retain", topic=topic, payload=base64.b64encode(payload).decode() if payload else "",
                     qos=qos, ms=int(now * 1000), exp=expires_at)

    # Both may be called from other threads (moto's HTTP handlers): each reads the dict in one
    # step under the GIL, never iterating it in Python code.
    def retained_messages(self) -> list[RetainedMessage]:
        now, expiry = self.clock(), self.retained_expiry
        return sorted((m for m in list(self.retained.values()) if expiry.get(m.topic, now + 1) > now),
                      key=lambda m: m.topic)

    def retained_message(self, topic: str) -> RetainedMessage | None:
        if self.retained_expiry.get(topic, self.clock() + 1) <= self.clock():
            return None
        return self.retained.get(topic)

    def reset(self) -> None:
        """The instructor's reset: retained messages and stored sessions of offline clients go."""
        self.retained.clear()
        self.retained_expiry.clear()
        for session in list(self.sessions.values()):
            if session.connection is None:
                self._end_session(session)
        self.checkpoint()

    # --- subscribe ------------------------------------------------------------------------------
    def _on_subscribe(self, conn: ClientConnection, p: codec.Subscribe) -> None:
        session = conn.session
        assert session is not None
        level = conn.level
        if level == MQTT5 and codec.SUBSCRIPTION_ID in p.properties:
            # CONNACK said Subscription Identifiers Available 0 (AWS IoT has none): MQTT 5
            # section 3.2.2.3.12, a Protocol Error answered with DISCONNECT 0xA1.
            log.warning("Kobler fra %s: abonnements-ID-er støttes ikke av AWS IoT", conn.label)
            self.drop(conn, "CLIENT_ERROR", codec.SUB_IDS_NOT_SUPPORTED)
            return
        failure = codec.UNSPECIFIED_ERROR
        codes: list[int] = []
        granted: list[tuple[str, Subscription, bool]] = []
        denied = False
        for i, (topic_filter, options) in enumerate(p.filters):
            problem = shared_problem(topic_filter) if topic_filter.startswith("$share/") else filter_problem(
                topic_filter)
            if problem:
                log.warning("Avviste abonnement for %s: %s", conn.label, problem)
                codes.append(codec.TOPIC_FILTER_INVALID if level == MQTT5 else failure)
                continue
            is_new = topic_filter not in session.subscriptions
            if i >= self.limits.filters_per_subscribe or (
                    is_new and len(session.subscriptions) + sum(g[2] for g in granted)
                    >= self.limits.subscriptions_per_connection):
                log.warning("Avviste abonnement %r for %s: AWS IoT tillater høyst %d emnefiltre per SUBSCRIBE"
                            " og %d abonnementer per tilkobling", topic_filter, conn.label,
                            self.limits.filters_per_subscribe, self.limits.subscriptions_per_connection)
                codes.append(codec.QUOTA_EXCEEDED if level == MQTT5 else failure)
                continue
            why = self._denied(conn, "iot:Subscribe", topic_filter)
            if why:
                log.warning("Policy: nektet iot:Subscribe på %r for %s: %s.%s", topic_filter, conn.label, why,
                            "" if level == MQTT5 else " Klienten kobles fra (som i AWS IoT).")
                codes.append(codec.NOT_AUTHORIZED if level == MQTT5 else failure)
                denied = True
                continue
            qos = min(options & 0x03, 1)  # AWS IoT grants at most QoS 1
            sub = Subscription(qos, bool(options & 0x04) and level == MQTT5, bool(options & 0x08) and level == MQTT5,
                               (options >> 4) & 0x03 if level == MQTT5 else 0)
            granted.append((topic_filter, sub, is_new))
            codes.append(qos)
        for topic_filter, sub, _ in granted:
            session.subscriptions[topic_filter] = sub
            self.tree_add(session.client_id, topic_filter, sub)
        conn.link.write(codec.encode_suback(level, p.packet_id, codes))
        if granted:
            self.lifecycle.subscribed(conn, [f for f, _, _ in granted])
            if session.journaled:
                for topic_filter, sub, _ in granted:
                    self._record("sub", cid=session.client_id, f=topic_filter, o=subscription_record(sub))
        if denied and level == MQTT311:
            # MQTT 3.1.1: AWS IoT closes the connection when the policy denies a subscription.
            # The SUBACK (0x80 for the denied filter) goes first, so the client learns why
            # instead of waiting for an answer.
            self.drop(conn, "AUTH_ERROR")
            return
        for topic_filter, sub, is_new in granted:  # retained messages after the SUBACK [MQTT-3.3.1-6]
            if sub.share or sub.retain_handling == 2 or (sub.retain_handling == 1 and not is_new):
                continue  # none for a shared subscription (MQTT 5 section 4.8.2)
            if "+" in topic_filter or "#" in topic_filter:
                # AWS IoT differs from [MQTT-3.3.1-6]: "Subscription to topic filters that contain a
                # wildcard character can't receive retained messages." (developerguide/mqtt.html#mqtt-retain)
                continue
            self._replay_retained(conn, session, topic_filter, sub)

    def _replay_retained(self, conn: ClientConnection, session: Session, topic_filter: str,
                         sub: Subscription) -> None:
        now = self.clock()
        for msg in list(self.retained.values()):
            if not filter_matches(topic_filter, msg.topic) or not self._may_receive(conn, msg.topic):
                continue
            expires_at = self.retained_expiry.get(msg.topic)
            if expires_at is not None and expires_at <= now:  # [MQTT-3.3.2-5]: expired, gone
                self.retained.pop(msg.topic, None)
                self.retained_expiry.pop(msg.topic, None)
                continue
            qos = min(msg.qos, sub.qos)
            if qos == 0:
                conn.link.write(codec.encode_publish(conn.level, msg.topic, msg.payload, 0, True,
                                                     props=self._props_out(None, expires_at, now)))
            else:  # RETAIN=1 only here, on a replay for a new subscription [MQTT-3.3.1-8]
                self._enqueue(session, Outgoing(msg.topic, msg.payload, 1, True, None, expires_at))

    def _on_unsubscribe(self, conn: ClientConnection, p: codec.Unsubscribe) -> None:
        session = conn.session
        assert session is not None
        codes, removed = [], []
        for topic_filter in p.filters:
            if session.subscriptions.pop(topic_filter, None) is not None:
                self.tree_remove(session.client_id, topic_filter)
                codes.append(codec.SUCCESS)
                removed.append(topic_filter)
            else:
                codes.append(codec.NO_SUBSCRIPTION_EXISTED)
        conn.link.write(codec.encode_unsuback(conn.level, p.packet_id, codes))
        if removed:
            self.lifecycle.unsubscribed(conn, removed)
            if session.journaled:
                for topic_filter in removed:
                    self._record("unsub", cid=session.client_id, f=topic_filter)

    # --- will, events -------------------------------------------------------------------------
    def _publish_will(self, conn: ClientConnection) -> None:
        will = conn.will
        assert will is not None
        why = self._denied(conn, "iot:Publish", will.topic)
        if why:
            log.warning("Policy: will-meldingen til %r fra %s ble ikke sendt: %s", will.topic, conn.label, why)
            return
        self.route(will.topic, will.payload, will.qos, will.retain, conn.client_id,
                   will.properties if conn.level == MQTT5 else None)
        if self.on_message is not None:
            self._services(will.topic, will.payload, conn.client_id, conn.principal)

    def _publish_event(self, topic: str, body: dict[str, Any]) -> None:
        self.publish(topic, json.dumps(body).encode(), qos=1)

    def _presence_changed(self) -> None:
        if self.on_presence is not None:
            try:
                self.on_presence(self.lifecycle.presence())
            except Exception:
                log.exception("Kunne ikke skrive oversikten over tilkoblede klienter")

    # --- time -------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Deadlines: CONNECT, keep-alive, QoS 1 resends, session expiry. Call about once a second."""
        now = self.clock()
        lim = self.limits
        for conn in list(self.connections):
            if not conn.connected:
                if now - conn.opened_at >= lim.connect_deadline_s:
                    log.warning("Lukker %s: ingen CONNECT innen %g sekunder", conn.label, lim.connect_deadline_s)
                    self.drop(conn, "CLIENT_ERROR")
                continue
            if now - conn.last_seen >= conn.keep_alive * 1.5:  # [MQTT-3.1.2-24]
                log.warning("Kobler fra %s: hørte ingenting på %g sekunder (keep-alive)", conn.label,
                            conn.keep_alive * 1.5)
                self.drop(conn, "MQTT_KEEP_ALIVE_TIMEOUT", codec.KEEP_ALIVE_TIMEOUT)
                continue
            session = conn.session
            if session is None or not session.inflight:
                continue
            for pid, out in list(session.inflight.items()):
                if now - out.first_sent_at >= lim.give_up_after_s:
                    log.warning("Ga opp en QoS 1-melding på %r til %s: ingen PUBACK på %d minutter"
                                " (som AWS IoT etter én time)", out.topic, conn.label, round(lim.give_up_after_s / 60))
                    self._done(session, session.inflight.pop(pid))
                elif now - out.sent_at >= lim.retry_interval_s:
                    out.sent_at = now
                    self._write_publish(conn, out, dup=True)
            self._drain(session)
        for cid, (due, gone) in list(self._delayed_wills.items()):
            if due <= now:
                del self._delayed_wills[cid]
                self._publish_will(gone)
        for session in list(self.sessions.values()):
            if session.connection is None and session.expired(now):
                log.info("Den lagrede økten til %r er utløpt", session.client_id)
                self._end_session(session)
        journal = self.journal
        if journal is not None and journal.records_since_checkpoint and (
                now - self._last_checkpoint >= self.checkpoint_every_s or journal.records_since_checkpoint > 5000):
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write the whole persistent state and start the journal again."""
        self._last_checkpoint = self.clock()
        if self.journal is None:
            return
        try:
            self.journal.checkpoint(export_state(self))
        except OSError as exc:
            log.warning("Kunne ikke lagre meglerens tilstand (%s); prøver igjen", exc)

    def revalidate(self) -> None:
        """Drop TLS connections whose certificate is no longer registered and ACTIVE, or whose
        policy no longer allows iot:Connect (AWS: deactivating or revoking a certificate, or
        detaching its policy, disconnects its devices)."""
        for conn in list(self.connections):
            if not conn.tls or not conn.connected or conn.principal is None:
                continue
            conn.receive_cache.clear()  # policies may have changed
            if self.principal_valid and not self.principal_valid(conn.principal):
                why = "sertifikatet er ikke lenger registrert og aktivt (ACTIVE)"
            elif self._denied(conn, "iot:Connect", conn.client_id):
                why = "policyen tillater ikke lenger iot:Connect"
            else:
                continue
            log.warning("Kobler fra %s: %s (som i AWS IoT)", conn.label, why)
            self.drop(conn, "AUTH_ERROR", codec.NOT_AUTHORIZED)

    def shutdown(self) -> None:
        for conn in list(self.connections):
            conn.clean_disconnect = False
            if conn.level == MQTT5 and conn.connected:
                conn.link.write(codec.encode_disconnect(codec.SERVER_SHUTTING_DOWN))
            conn.closed = True
            conn.link.close()
        self.connections.clear()
        now = self.clock()
        for session in list(self.sessions.values()):  # persistent sessions survive the restart
            if session.connection is not None:
                session.connection = None
                session.disconnected_at = now
                if not session.persistent:
                    self._end_session(session)
        self.checkpoint()
        if self.journal is not None:
            self.journal.close()
