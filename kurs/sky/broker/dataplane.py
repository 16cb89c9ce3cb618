"""The data plane behind the broker: routes each message to the shadow service and the rules
engine, and lets the HTTP side (moto's iot-data) reach the same services."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

from kurs.sky.broker import CloudBroker, Principal

log = logging.getLogger(__name__)

class DataPlane:
    """Owns the shadow service and the rules engine; both are optional until wired."""

    def __init__(self, shadow: Any = None, rules: Any = None, policies: Any = None) -> None:
        self.shadow = shadow
        self.rules = rules
        self.policies = policies  # kurs.sky.broker.policy.PolicyEnforcer, or None to allow everything
        # Run after the instructor's reset, e.g. kurs.sky.persistence deletes the saved snapshot.
        self.reset_hooks: list[Callable[[], None]] = []
        # Are there any topic rules at all? Set by the wiring; when there are none, a message
        # costs no hand-over to the rules thread (which would compete with the broker for the GIL).
        self.has_rules: Callable[[], bool] = lambda: True
        self.broker: CloudBroker | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # Rules may call a Lambda (a subprocess): never on the broker's event loop. One worker
        # keeps messages in the order they arrived, as a learner would expect when reading logs.
        self._rules_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="regler")

    def attach(self, broker: CloudBroker, loop: asyncio.AbstractEventLoop) -> None:
        self.broker, self.loop = broker, loop

    def on_publish(self, topic: str, payload: bytes, client_id: str, principal: Principal | None) -> None:
        """Called by the broker for every accepted publish (from a client or from HTTP)."""
        self._run_rules(topic, payload, client_id, principal)
        if self.shadow is not None and topic.startswith("$aws/things/"):
            for out in self.shadow.handle_mqtt(topic, payload):
                self.deliver(out.topic, out.payload)

    def deliver(self, topic: str, payload: bytes) -> None:
        """A message the cloud itself publishes (shadow replies): to subscribers and rules."""
        assert self.broker is not None
        # QoS 1 as published: each subscriber gets it at its subscription's QoS.
        self.broker.send(topic, payload, qos=1)
        self._run_rules(topic, payload, "", None)

    def _run_rules(self, topic: str, payload: bytes, client_id: str, principal: Principal | None) -> None:
        if self.rules is None or not self.has_rules():
            return
        principal_id = principal.certificate_id if principal else ""
        self._rules_pool.submit(self._safe_rules, topic, payload, client_id, principal_id)

    def _safe_rules(self, topic: str, payload: bytes, client_id: str, principal_id: str) -> None:
        try:
            self.rules.on_message(topic, payload, client_id, principal_id)
        except Exception:  # the engine logs its own failures; this is the last line of defence
            log.exception("Regelmotoren feilet på en melding på %r", topic)

    # --- authorization (AWS IoT policies) ---------------------------------------------
    def authorize(self, principal: Principal, client_id: str, iot_action: str, name: str) -> str | None:
        """None if the certificate's policies allow this, else why not (Norwegian). Called by the
        broker for TLS connections only: plain TCP is loopback-only and has no certificate."""
        if self.policies is None:
            return None
        try:
            decision = self.policies.decide(principal.certificate_arn, principal.certificate_id, client_id,
                                            iot_action, name)
        except Exception:  # a bug here must not open the broker, nor crash it
            log.exception("Policysjekken feilet; nekter %s for klient %r", iot_action, client_id)
            return "policysjekken feilet"
        if decision.allowed:
            return None
        from kurs.sky.broker.policy import resource_arn

        arn = resource_arn(iot_action, name, self.policies.region, self.policies.account)
        why = (f"policyen «{decision.policy}» nekter det uttrykkelig (Deny)" if decision.reason == "explicit-deny"
               else "ingen policy som er knyttet til sertifikatet tillater det")
        hint = ("; klient-ID-en må være navnet på en ting (thing) som sertifikatet er knyttet til, hvis policyen"
                " bruker ${iot:Connection.Thing.ThingName}" if iot_action == "iot:Connect" else "")
        return f"{arn} (sertifikat {principal.certificate_id[:10]}…): {why}{hint}"

    # --- called from other threads (moto's HTTP handlers, the rules engine) -------------
    def publish_threadsafe(self, topic: str, payload: bytes, client_id: str = "", *, qos: int = 0,
                           retain: bool = False) -> None:
        """Publish as if a client did (iot-data Publish, rule republish), and wait until routed."""
        assert self.broker is not None and self.loop is not None
        broker = self.broker

        async def _publish() -> None:
            broker.publish(topic, payload, client_id, qos=qos, retain=retain)

        asyncio.run_coroutine_threadsafe(_publish(), self.loop).result(timeout=10)

    def deliver_threadsafe(self, messages: list[Any]) -> None:
        """Deliver shadow replies produced on the HTTP side, in order."""
        assert self.loop is not None

        async def _all() -> None:
            for out in messages:
                self.deliver(out.topic, out.payload)

        asyncio.run_coroutine_threadsafe(_all(), self.loop).result(timeout=10)

    def reset(self) -> None:
        """Forget the data plane's state (shadows, retained messages, stored sessions): the
        instructor's reset."""
        if self.shadow is not None:
            self.shadow.reset()
        if self.broker is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(self.broker.core.reset)
        if self.rules is not None and hasattr(self.rules, "reset"):
            self.rules.reset()
        for hook in self.reset_hooks:
            hook()

    def close(self) -> None:
        self._rules_pool.shutdown(wait=False, cancel_futures=True)
        if self.rules is not None and hasattr(self.rules, "close"):
            self.rules.close()  # drops queued Lambda invocations
