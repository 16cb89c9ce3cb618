"""The local cloud's MQTT broker: AWS IoT Core's message broker, our own.

amqtt (the broker until now) acknowledged before checking, had no MQTT 5 and no CONNECT
deadline, and parsed on after a malformed packet; docs/broker.md says why we replaced it and
what was measured. The broker is a few small modules:

- ``codec``: MQTT 3.1.1 and 5 packets, bytes in and out (sans-I/O);
- ``core``: sessions, routing, authorisation and AWS IoT's rules, synchronous, with a clock;
- ``subscriptions``: the topic filter tree; ``sessions``; ``retained``; ``lifecycle`` (AWS's
  lifecycle events); ``limits`` (AWS's quotas); ``identity`` (the certificate of a connection);
  ``topics`` (AWS's topic rules, shared with the HTTP data plane); ``journal`` and ``snapshot``
  (persistent sessions and retained messages survive a restart, a kill -9 included);
- ``connection``: the asyncio protocol per connection; this module: the listeners and timers;
- ``policy``: IoT policy evaluation; ``dataplane``: routes messages to the cloud's services.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kurs.sky.broker.connection import MqttProtocol
from kurs.sky.broker.core import Authorize, BrokerCore
from kurs.sky.broker.identity import Principal
from kurs.sky.broker.limits import Limits
from kurs.sky.broker.retained import RetainedMessage
from kurs.sky.broker.topics import (  # noqa: F401 - re-exported
    AWS_RESERVED_PREFIX,
    MAX_CLIENT_ID_BYTES,
    MAX_PAYLOAD,
    MAX_TOPIC_BYTES,
    MAX_TOPIC_SLASHES,
    topic_problem,
)

__all__ = ["CloudBroker", "Principal", "RetainedMessage", "broker_config"]

log = logging.getLogger(__name__)

TICK_S = 0.5
REVALIDATE_S = 2.0  # "within seconds" after a certificate is deactivated or a policy detached


def broker_config(host: str, mqtt_port: int, mqtts_port: int | None = None) -> dict[str, Any]:
    """Where the broker listens: plain TCP, and mutual TLS when a TLS context is given."""
    return {"host": host, "mqtt_port": mqtt_port, "mqtts_port": mqtts_port}


class ListenerBindError(OSError):
    """A listener's port could not be bound; ``key`` names it as in the broker config."""

    def __init__(self, key: str, cause: OSError) -> None:
        super().__init__(cause.errno, str(cause))
        self.key = key


async def _bind(key: str, creating: Any) -> Any:
    try:
        return await creating
    except OSError as exc:
        raise ListenerBindError(key, exc) from exc


class CloudBroker:
    """The listeners and timers around :class:`BrokerCore`; every method runs on its event loop."""

    def __init__(self, config: dict[str, Any], *, on_publish: Callable[..., Any] | None = None,
                 authorize: Authorize | None = None, principal_valid: Callable[[Principal], bool] | None = None,
                 identify: Callable[[bytes], Principal | None] | None = None,
                 tls_context: ssl.SSLContext | None = None, tls_host: str | None = None,
                 limits: Limits | None = None, clock: Callable[[], float] = time.time,
                 state_dir: Path | None = None) -> None:
        self.config = config
        self.identify = identify
        self.tls_context = tls_context
        self.tls_host = tls_host or config["host"]
        self.core = BrokerCore(clock=clock, limits=limits or Limits.from_env(), authorize=authorize, principal_valid=principal_valid,
                               on_message=self._service_hook(on_publish))
        if state_dir is not None:
            self._restore(Path(state_dir))
        self._servers: list[asyncio.base_events.Server] = []
        self._timer: asyncio.Task[None] | None = None

    def _restore(self, folder: Path) -> None:
        """Persistent sessions, their queued messages and retained messages from the last run."""
        from kurs.sky.broker.journal import BrokerJournal
        from kurs.sky.broker.snapshot import import_state

        journal = BrokerJournal(folder)
        snapshot, records = journal.load()
        try:
            sessions, retained = import_state(self.core, snapshot, records)
        except Exception:  # a damaged file must not keep the cloud from starting
            log.exception("Meglerens lagrede tilstand kunne ikke gjenopprettes; den starter tom")
            self.core.sessions.clear()
            self.core.retained.clear()
            sessions = retained = 0
        if sessions or retained:
            log.info("Megleren hentet fram %d lagrede økter og %d lagrede meldinger (retained).", sessions, retained)
        self.core.journal = journal
        self.core.checkpoint()

    @staticmethod
    def _service_hook(on_publish: Callable[..., Any] | None) -> Callable[..., None] | None:
        if on_publish is None or not inspect.iscoroutinefunction(on_publish):
            return on_publish
        # An async hook (older callers): run it as a task, never blocking the routing.
        def hook(*args: Any) -> None:
            asyncio.get_running_loop().create_task(on_publish(*args))
        return hook

    @property
    def on_presence(self) -> Callable[[dict[str, dict[str, Any]]], None] | None:
        return self.core.on_presence

    @on_presence.setter
    def on_presence(self, fn: Callable[[dict[str, dict[str, Any]]], None] | None) -> None:
        self.core.on_presence = fn

    async def start(self) -> None:
        """Bind the listeners; a port that cannot be bound raises :class:`ListenerBindError`."""
        loop = asyncio.get_running_loop()
        host = self.config["host"]
        self._servers.append(await _bind("mqtt_port", loop.create_server(
            lambda: MqttProtocol(self.core), host, self.config["mqtt_port"], backlog=1024)))
        if self.tls_context is not None and self.config.get("mqtts_port"):
            # A failed handshake (unknown certificate, none at all) is refused inside asyncio's
            # TLS layer; the client sees the TLS alert, as with AWS IoT.
            self._servers.append(await _bind("mqtts_port", loop.create_server(
                lambda: MqttProtocol(self.core, tls=True, identify=self.identify), self.tls_host,
                self.config["mqtts_port"], ssl=self.tls_context, ssl_handshake_timeout=10, backlog=1024)))
        self._timer = loop.create_task(self._timers())

    async def _timers(self) -> None:
        last_check = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.core.tick()
                now = time.monotonic()
                if now - last_check >= REVALIDATE_S:
                    last_check = now
                    self.core.revalidate()
            except Exception:
                log.exception("Feil i meglerens tidsstyring")

    async def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for server in self._servers:
            server.close()
        self.core.shutdown()
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except TimeoutError:
                pass
        self._servers.clear()

    # --- the cloud's own messages ---------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, client_id: str = "", *, qos: int = 0, retain: bool = False) -> None:
        """Publish as a client would (iot-data Publish, rule republish): subscribers, then services."""
        self.core.publish(topic, payload, qos=qos, retain=retain, client_id=client_id)

    def send(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """A message from the cloud itself (shadow replies): subscribers only."""
        self.core.publish(topic, payload, qos=qos, services=False)

    def retained_messages(self) -> list[RetainedMessage]:
        return self.core.retained_messages()

    def retained_message(self, topic: str) -> RetainedMessage | None:
        return self.core.retained_message(topic)
