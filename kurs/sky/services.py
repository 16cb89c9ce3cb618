"""The data plane behind the broker: routes each message to the shadow service and the rules
engine, and lets the HTTP side (moto's iot-data) reach the same services."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

from kurs.sky.broker import CloudBroker, Principal

log = logging.getLogger("kurs.sky.services")


class DataPlane:
    """Owns the shadow service and the rules engine; both are optional until wired."""

    def __init__(self, shadow: Any = None, rules: Any = None) -> None:
        self.shadow = shadow
        self.rules = rules
        self.broker: CloudBroker | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # Rules may call a Lambda (a subprocess): never on the broker's event loop. One worker
        # keeps messages in the order they arrived, as a learner would expect when reading logs.
        self._rules_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="regler")

    def attach(self, broker: CloudBroker, loop: asyncio.AbstractEventLoop) -> None:
        self.broker, self.loop = broker, loop

    async def on_publish(self, topic: str, payload: bytes, client_id: str, principal: Principal | None) -> None:
        """Called by the broker for every accepted publish (from a client or from HTTP)."""
        self._run_rules(topic, payload, client_id, principal)
        if self.shadow is not None and topic.startswith("$aws/things/"):
            for out in self.shadow.handle_mqtt(topic, payload):
                await self.deliver(out.topic, out.payload)

    async def deliver(self, topic: str, payload: bytes) -> None:
        """A message the cloud itself publishes (shadow replies): to subscribers and rules."""
        assert self.broker is not None
        await self.broker.send(topic, payload)
        self._run_rules(topic, payload, "", None)

    def _run_rules(self, topic: str, payload: bytes, client_id: str, principal: Principal | None) -> None:
        if self.rules is None:
            return
        principal_id = principal.certificate_id if principal else ""
        self._rules_pool.submit(self._safe_rules, topic, payload, client_id, principal_id)

    def _safe_rules(self, topic: str, payload: bytes, client_id: str, principal_id: str) -> None:
        try:
            self.rules.on_message(topic, payload, client_id, principal_id)
        except Exception:  # the engine logs its own failures; this is the last line of defence
            log.exception("Regelmotoren feilet på en melding på %r", topic)

    # --- called from other threads (moto's HTTP handlers, the rules engine) -------------
    def publish_threadsafe(self, topic: str, payload: bytes, client_id: str = "") -> None:
        """Publish as if a client did (iot-data Publish, rule republish), and wait until routed."""
        assert self.broker is not None and self.loop is not None
        fut = asyncio.run_coroutine_threadsafe(self.broker.publish(topic, payload, client_id), self.loop)
        fut.result(timeout=10)

    def deliver_threadsafe(self, messages: list[Any]) -> None:
        """Deliver shadow replies produced on the HTTP side, in order."""
        assert self.loop is not None

        async def _all() -> None:
            for out in messages:
                await self.deliver(out.topic, out.payload)

        asyncio.run_coroutine_threadsafe(_all(), self.loop).result(timeout=10)

    def reset(self) -> None:
        """Forget the data plane's state (shadows, retained messages): the instructor's reset."""
        if self.shadow is not None:
            self.shadow.reset()
        if self.broker is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(self.broker.retained_messages.clear)
        if self.rules is not None and hasattr(self.rules, "reset"):
            self.rules.reset()

    def close(self) -> None:
        self._rules_pool.shutdown(wait=False, cancel_futures=True)
