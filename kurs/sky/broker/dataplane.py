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

# What the broker asks -> the AWS IoT policy action it stands for.
_IOT_ACTIONS = {"connect": "iot:Connect", "publish": "iot:Publish", "subscribe": "iot:Subscribe",
                "receive": "iot:Receive"}


class DataPlane:
    """Owns the shadow service and the rules engine; both are optional until wired."""

    def __init__(self, shadow: Any = None, rules: Any = None, policies: Any = None) -> None:
        self.shadow = shadow
        self.rules = rules
        self.policies = policies  # kurs.sky.broker.policy.PolicyEnforcer, or None to allow everything
        self._receive_denials_logged: set[tuple[str, str]] = set()
        # Run after the instructor's reset, e.g. kurs.sky.persistence deletes the saved snapshot.
        self.reset_hooks: list[Callable[[], None]] = []
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

    # --- authorization (AWS IoT policies) ---------------------------------------------
    def authorize(self, session: Any, principal: Principal | None, topic_or_client_id: str, action: Any) -> bool:
        """May this client connect, publish, subscribe or receive? Called by the broker.

        ``action`` is "connect" (with the client id) or amqtt's Action (with the topic).
        """
        # The plain-TCP listener has no certificate and so no policy: it is for quick
        # experiments in notebooks and tests, and allows everything. Devices use mutual TLS.
        if principal is None or self.policies is None:
            return True
        iot_action = _IOT_ACTIONS.get(str(getattr(action, "value", action)))
        if iot_action is None:
            return False
        client_id = session.client_id or ""
        try:
            decision = self.policies.decide(principal.certificate_arn, principal.certificate_id, client_id,
                                            iot_action, topic_or_client_id)
        except Exception:  # a bug here must not open the broker, nor crash it
            log.exception("Policysjekken feilet; nekter %s for klient %r", iot_action, client_id)
            return False
        if decision.allowed:
            return True
        self._log_denial(principal, client_id, iot_action, topic_or_client_id, decision)
        if iot_action == "iot:Subscribe":
            self._disconnect_soon(client_id, session)
        return False

    def _log_denial(self, principal: Principal, client_id: str, iot_action: str, name: str, decision: Any) -> None:
        from kurs.sky.broker.policy import resource_arn

        if iot_action == "iot:Receive":  # once per client and topic: a subscriber can get many
            key = (client_id, name)
            if key in self._receive_denials_logged:
                return
            if len(self._receive_denials_logged) > 10_000:
                self._receive_denials_logged.clear()
            self._receive_denials_logged.add(key)
        arn = resource_arn(iot_action, name, self.policies.region, self.policies.account)
        why = (f"policyen «{decision.policy}» nekter det uttrykkelig (Deny)" if decision.reason == "explicit-deny"
               else "ingen policy som er knyttet til sertifikatet tillater det")
        consequence = {
            "iot:Connect": "Tilkoblingen lukkes uten svar (som i AWS IoT). Klient-ID-en må være navnet på "
                           "en ting (thing) som sertifikatet er knyttet til, hvis policyen bruker "
                           "${iot:Connection.Thing.ThingName}.",
            "iot:Publish": "Klienten kobles fra (som i AWS IoT).",
            "iot:Subscribe": "Klienten kobles fra (som i AWS IoT).",
            "iot:Receive": "Meldingen leveres ikke til denne klienten.",
        }[iot_action]
        loop_hint = ("" if iot_action == "iot:Receive" else
                     " Obs: en klient som kobler til igjen automatisk og gjør det samme, havner i en løkke "
                     "av til- og frakoblinger.")
        log.warning("Policy: nektet %s på %s for klient %r (sertifikat %s…): %s. %s%s", iot_action, arn,
                    client_id, principal.certificate_id[:10], why, consequence, loop_hint)

    def _disconnect_soon(self, client_id: str, session: Any) -> None:
        """AWS IoT drops a client that subscribes outside its policy (MQTT 3.1.1 has no reason code)."""
        if self.broker is None:
            return
        entry = self.broker._sessions.get(client_id)
        if not entry or entry[0] is not session or entry[1] is None:
            return
        asyncio.get_running_loop().create_task(entry[1].handle_connection_closed())

    # --- called from other threads (moto's HTTP handlers, the rules engine) -------------
    def publish_threadsafe(self, topic: str, payload: bytes, client_id: str = "", *, qos: int = 0,
                           retain: bool = False) -> None:
        """Publish as if a client did (iot-data Publish, rule republish), and wait until routed."""
        assert self.broker is not None and self.loop is not None
        fut = asyncio.run_coroutine_threadsafe(
            self.broker.publish(topic, payload, client_id, qos=qos, retain=retain), self.loop)
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
            self.loop.call_soon_threadsafe(self.broker.clear_retained_messages)
        if self.rules is not None and hasattr(self.rules, "reset"):
            self.rules.reset()
        for hook in self.reset_hooks:
            hook()

    def close(self) -> None:
        self._rules_pool.shutdown(wait=False, cancel_futures=True)
        if self.rules is not None and hasattr(self.rules, "close"):
            self.rules.close()  # drops queued Lambda invocations
