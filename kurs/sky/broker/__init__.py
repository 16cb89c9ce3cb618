"""The local cloud's MQTT broker: amqtt, made to behave like AWS IoT Core's message broker.

amqtt is the real broker. We subclass it to add what AWS IoT does and amqtt does not:
- mutual TLS that only admits certificates registered and ACTIVE in the control plane
  (amqtt's own TLS listener uses CERT_OPTIONAL, so we accept TLS ourselves and hand the
  stream to an "external" listener);
- AWS IoT's limits (payload, topic length and depth, client id, no QoS 2) enforced by
  disconnecting, as AWS does;
- ``$aws/...`` topics allowed (amqtt rejects every topic starting with ``$``);
- a hook on every accepted publish for the shadow service and the rules engine;
- AWS IoT's QoS 1 delivery to subscribers (``QoS1FlowHandler``): at most 100 unacknowledged
  messages in flight a client, the rest queued in the broker, and no giving up on a slow PUBACK.

The overridden methods are private to amqtt, so amqtt is pinned to 0.11.x in pyproject.toml;
tests/test_sky_broker.py exercises every override against the real broker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.mqtt.constants import QOS_1
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import OUTGOING, Session

from kurs.sky.broker.retained import RetainedMessage
from kurs.sky.broker.topics import (  # noqa: F401 - re-exported
    AWS_RESERVED_PREFIX,
    MAX_CLIENT_ID_BYTES,
    MAX_PAYLOAD,
    MAX_TOPIC_BYTES,
    MAX_TOPIC_SLASHES,
    topic_problem,
)

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Principal:
    """Who is behind a TLS connection: the control plane's certificate."""

    certificate_id: str
    certificate_arn: str


class QoS1FlowHandler(BrokerProtocolHandler):
    """amqtt's per-connection protocol handler with AWS IoT's QoS 1 delivery to a subscriber.

    amqtt (handler.py, ``ProtocolHandler._handle_qos1_message_flow``) sends every outgoing QoS 1
    PUBLISH at once, waits a fixed 5 s (``asyncio.wait_for(waiter, timeout=5)``) for its PUBACK,
    then forgets the message and fails the delivery task, which logs a warning and a traceback
    per message: a burst to a slow subscriber buried the cloud log, and the broker no longer
    knew what the client still owed a PUBACK for. AWS IoT Core instead (AWS General Reference,
    "AWS IoT Core endpoints and quotas", message broker limits,
    https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits):
    - "Maximum outbound unacknowledged messages": at most 100 in-flight unacknowledged messages
      per client; further messages are not sent until the client acknowledges some;
    - "Maximum retry interval for delivering QoS 1 messages": it retries delivery of an
      unacknowledged QoS 1 message to a connected client for up to one hour, then drops it.
    AWS does not document the retry interval; we resend with DUP=1 after ``retry_interval_s``.
    A clean session's queue is discarded when the client disconnects, as AWS does.
    """

    max_inflight_out = 100
    retry_interval_s = 60.0
    give_up_after_s = 3600.0

    def _qos1_slots(self) -> asyncio.Semaphore:
        # Created lazily: amqtt constructs the handler, we only re-class it (CloudBroker).
        # asyncio.Semaphore wakes waiters in FIFO order, which keeps messages in order.
        slots = getattr(self, "_kurs_qos1_slots", None)
        if slots is None:
            slots = self._kurs_qos1_slots = asyncio.Semaphore(self.max_inflight_out)
        return slots

    async def _handle_qos1_message_flow(self, app_message: Any) -> None:
        if app_message.direction != OUTGOING or app_message.qos != QOS_1:
            await super()._handle_qos1_message_flow(app_message)
            return
        async with self._qos1_slots():
            session = self.session
            if session is None or getattr(self, "_kurs_stopped", False):
                return  # the client has gone: a clean session's undelivered messages are dropped
            if app_message.publish_packet is None:
                # Number it when it goes in flight (amqtt numbered it when queued): a packet id
                # is then never shared with a message still in flight, however long the queue.
                app_message.packet_id = session.next_packet_id
            packet_id = app_message.packet_id
            session.inflight_out[packet_id] = app_message
            give_up_at = asyncio.get_running_loop().time() + self.give_up_after_s
            try:
                while True:
                    # The waiter is in place before the PUBLISH leaves (amqtt registers it after
                    # sending, so a quick PUBACK could arrive to nobody).
                    waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                    self._puback_waiters[packet_id] = waiter
                    packet = app_message.build_publish_packet(dup=app_message.publish_packet is not None)
                    await self._send_packet(packet)
                    app_message.publish_packet = packet
                    if getattr(self, "_kurs_stopped", False):
                        return  # disconnected while sending: nobody is left to wait for
                    remaining = give_up_at - asyncio.get_running_loop().time()
                    try:
                        app_message.puback_packet = await asyncio.wait_for(
                            waiter, timeout=max(0.0, min(self.retry_interval_s, remaining)))
                        return
                    except TimeoutError:
                        if asyncio.get_running_loop().time() >= give_up_at:
                            log.warning("Ga opp en QoS 1-melding på %r til klient %r: ingen PUBACK på %d minutter"
                                        " (som AWS IoT etter én time)", app_message.topic, session.client_id,
                                        round(self.give_up_after_s / 60))
                            return
                    except asyncio.CancelledError:
                        if getattr(self, "_kurs_stopped", False):
                            return  # amqtt cancels the waiters when the client disconnects
                        raise
            finally:
                self._puback_waiters.pop(packet_id, None)
                session.inflight_out.pop(packet_id, None)

    async def stop(self) -> None:
        self._kurs_stopped = True
        await super().stop()


PublishHook = Callable[[str, bytes, str, "Principal | None"], Awaitable[None]]


class CloudBroker(Broker):
    """amqtt with AWS IoT Core's rules. See the module docstring."""

    def __init__(self, config: dict[str, Any], *, on_publish: PublishHook,
                 authorize: Callable[[Session, Principal | None, str, Action], bool] | None = None) -> None:
        super().__init__(config)
        self._on_publish = on_publish
        self._authorize = authorize
        # (address, port) of an accepted TLS connection -> its certificate. The CONNECT packet
        # is read by amqtt after we hand over the stream, so this is how identity reaches it.
        self._tls_peers: dict[tuple[str, int], Principal] = {}
        self.principals: dict[str, Principal] = {}
        self._takeovers: set[str] = set()  # client ids whose connected session a new CONNECT will replace
        self._presence: dict[str, str] = {}  # client id -> session id, for lifecycle events
        self._presence_version = 0
        self._presence_info: dict[str, dict[str, Any]] = {}
        # Called with {client id: info} whenever a client connects or disconnects.
        self.on_presence: Callable[[dict[str, dict[str, Any]]], None] | None = None
        # amqtt keeps no time for its retained messages; ListRetainedMessages reports one.
        self._retained_times: dict[str, int] = {}

    # --- connections -------------------------------------------------------------------
    async def _initialize_client_session(self, *args: Any, **kwargs: Any) -> tuple[BrokerProtocolHandler, Session]:
        handler, session = await super()._initialize_client_session(*args, **kwargs)
        # amqtt builds the handler itself (BrokerProtocolHandler.init_from_connect) with no
        # hook for a subclass; QoS1FlowHandler adds methods only, so re-classing it is safe.
        handler.__class__ = QoS1FlowHandler
        return handler, session

    async def accept_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         identify: Callable[[bytes], Principal | None]) -> None:
        """Run the MQTT session of a mutual-TLS connection whose certificate is registered and ACTIVE."""
        peer = writer.get_extra_info("peername")[:2]
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj else None
        principal = identify(der) if der else None
        if principal is None:
            log.warning("Avviste TLS-tilkobling fra %s:%s: %s", *peer,
                        "sertifikatet er ikke registrert og aktivt (ACTIVE) i den lokale skyen" if der
                        else "klienten sendte ikke noe sertifikat")
            writer.close()
            return
        self._tls_peers[peer] = principal
        try:
            await self.external_connected(StreamReaderAdapter(reader), StreamWriterAdapter(writer), "tls")
        finally:
            self._tls_peers.pop(peer, None)
            if not writer.is_closing():
                writer.close()

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        client_id = session.client_id or ""
        if len(client_id.encode()) > MAX_CLIENT_ID_BYTES:
            self._takeovers.discard(client_id)
            log.warning("Avviste klient: klient-ID er lengre enn %d byte", MAX_CLIENT_ID_BYTES)
            return False
        principal = self._tls_peers.get((session.remote_address, session.remote_port))
        if principal is not None and self._authorize and not self._authorize(session, principal, client_id,
                                                                               "connect"):
            # Refused: the client already using this id (if any) keeps its connection and identity.
            self._takeovers.discard(client_id)
            log.warning("Avviste klient %r: policyen tillater ikke iot:Connect", client_id)
            return False
        await self._take_over(client_id)
        if principal is not None:
            self.principals[client_id] = principal
        else:
            self.principals.pop(client_id, None)
        log.info("Klient %r koblet til%s", client_id, " med sertifikat" if principal else "")
        session_id = str(uuid.uuid4())
        self._presence[client_id] = session_id
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(self._announce(client_id, "connected", session_id, principal)))
        return True

    async def _handle_disconnect(self, client_session: Session, handler: Any,
                                 disconnect_waiter: asyncio.Future[Any]) -> None:
        from amqtt.mqtt.disconnect import DisconnectPacket

        clean = isinstance(disconnect_waiter.result(), DisconnectPacket)
        await super()._handle_disconnect(client_session, handler, disconnect_waiter)
        client_id = client_session.client_id or ""
        session_id = self._presence.pop(client_id, None)
        if session_id:
            log.info("Klient %r koblet fra%s", client_id, "" if clean else " (uten DISCONNECT)")
            await self._announce(client_id, "disconnected", session_id, self.principals.get(client_id),
                                 clientInitiatedDisconnect=clean,
                                 disconnectReason="CLIENT_INITIATED_DISCONNECT" if clean else "CONNECTION_LOST")

    async def _announce(self, client_id: str, event: str, session_id: str, principal: Principal | None,
                        **extra: Any) -> None:
        """AWS IoT's lifecycle events on $aws/events/presence/<event>/<clientId>."""
        self._presence_version += 1
        if event == "connected":
            self._presence_info[client_id] = {"since": time.time(), "tls": principal is not None}
        else:
            self._presence_info.pop(client_id, None)
        body = {"clientId": client_id, "timestamp": int(time.time() * 1000), "eventType": event,
                "sessionIdentifier": session_id,
                "principalIdentifier": principal.certificate_id if principal else "",
                "versionNumber": self._presence_version, **extra}
        await self.publish(f"$aws/events/presence/{event}/{client_id}", json.dumps(body).encode())
        if self.on_presence is not None:
            self.on_presence(dict(self._presence_info))

    async def _delete_session(self, client_id: str) -> None:
        # A clean-session CONNECT with a client id already connected: amqtt forgets the old
        # session but leaves its connection open. AWS IoT disconnects the old client, but only
        # once the new one is authorized (amqtt calls this before authenticating): a refused
        # CONNECT must not throw the device off. _authenticate finishes the take-over.
        old = self._sessions.get(client_id)
        if old and old[1] is not None and old[0].transitions.is_connected():
            self._takeovers.add(client_id)
            return
        await super()._delete_session(client_id)

    async def _take_over(self, client_id: str) -> None:
        if client_id not in self._takeovers:
            return
        self._takeovers.discard(client_id)
        old = self._sessions.get(client_id)
        if old and old[1] is not None and old[0].transitions.is_connected():
            log.warning("Ny tilkobling med klient-ID %r: den forrige tilkoblingen kobles fra (som i AWS IoT)",
                        client_id)
            await old[1].handle_connection_closed()
        await super()._delete_session(client_id)

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if self._authorize is None:
            return True
        principal = self.principals.get(session.client_id or "")
        return self._authorize(session, principal, topic, action)

    async def add_subscription(self, subscription: tuple[str, int], session: Session) -> int:
        topic_filter, qos = subscription
        # AWS IoT grants at most QoS 1 (amqtt's "max-qos" setting is not reachable in 0.11).
        return await super().add_subscription((topic_filter, min(qos, 1)), session)

    # --- publishing ----------------------------------------------------------------------
    async def _handle_message_delivery(self, client_session: Session, handler: Any,
                                       wait_deliver: asyncio.Future[Any]) -> bool:
        """Deliver one PUBLISH from a client, or disconnect it for breaking AWS IoT's rules."""
        message = wait_deliver.result()
        if message is None:
            return True
        client_id = client_session.client_id or ""
        problem = topic_problem(message.topic or "")
        if problem is None and message.qos == 2:
            problem = "QoS 2 støttes ikke av AWS IoT (bruk QoS 0 eller 1)"
        if problem is None and len(message.data or b"") > MAX_PAYLOAD:
            problem = f"meldingen er større enn {MAX_PAYLOAD // 1024} KB"
        if problem is None and not await self._topic_filtering(client_session, message.topic, Action.PUBLISH):
            problem = f"policyen tillater ikke iot:Publish til {message.topic!r}"
        if problem:
            log.warning("Kobler fra klient %r: %s", client_id, problem)
            # Ends the session through amqtt's own abnormal-disconnect path (will message
            # included), as AWS IoT drops a client that breaks its rules.
            await handler.handle_connection_closed()
            return True
        await self.publish(message.topic, bytes(message.data or b""), client_id, client_session,
                           retain=bool(message.publish_packet and message.publish_packet.retain_flag),
                           qos=message.qos)
        return True

    async def publish(self, topic: str, payload: bytes, client_id: str = "", session: Session | None = None,
                      *, retain: bool = False, qos: int | None = None) -> None:
        """Route one message to subscribers, then to the cloud's services (shadow, rules).

        ``retain`` keeps it for future subscribers (an empty payload deletes the retained
        message), also for publishes without a session (iot-data Publish over HTTP).
        """
        await self._broadcast_message(session, topic, payload)
        if retain:
            await self.retain_message(session, topic, payload, qos or 0)
        try:
            await self._on_publish(topic, payload, client_id, self.principals.get(client_id))
        except Exception:  # a service bug must never take the broker down
            log.exception("Feil i skytjenestene for en melding på %r", topic)

    # --- retained messages (ListRetainedMessages / GetRetainedMessage) --------------------
    async def retain_message(self, source_session: Session | None, topic_name: str | None,
                             data: bytes | bytearray | None, qos: int | None = None) -> None:
        await super().retain_message(source_session, topic_name, data, qos)
        if topic_name is None:
            return
        if topic_name in self._retained_messages:
            self._retained_times[topic_name] = int(time.time() * 1000)
        else:
            self._retained_times.pop(topic_name, None)

    def retained_messages(self) -> list[RetainedMessage]:  # type: ignore[override] - amqtt's is a dict property
        """Every retained message, by topic. Call on the broker's event loop."""
        return [self._as_retained(topic) for topic in sorted(self._retained_messages)]

    def retained_message(self, topic: str) -> RetainedMessage | None:
        """The message retained on exactly this topic, or None. Call on the broker's event loop."""
        return self._as_retained(topic) if topic in self._retained_messages else None

    def clear_retained_messages(self) -> None:
        self._retained_messages.clear()
        self._retained_times.clear()

    def _as_retained(self, topic: str) -> RetainedMessage:
        message = self._retained_messages[topic]
        return RetainedMessage(topic=topic, payload=bytes(message.data or b""), qos=int(message.qos or 0),
                               last_modified_ms=self._retained_times.get(topic, 0))

    async def send(self, topic: str, payload: bytes) -> None:
        """Deliver a message from the cloud itself (shadow replies): subscribers only."""
        await self._broadcast_message(None, topic, payload)


def broker_config(host: str, mqtt_port: int, mqtts_port: int) -> dict[str, Any]:
    """amqtt configuration: a plain TCP listener and an external one fed by ``accept_tls``."""
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": f"{host}:{mqtt_port}", "max_connections": 1000},
            # amqtt skips listeners without "bind"; an external one does not bind it (accept_tls does).
            "tls": {"type": "external", "bind": f"{host}:{mqtts_port}"},
        },
        "plugins": {},
    }
