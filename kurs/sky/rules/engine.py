"""The rules engine: every message is checked against every enabled topic rule.

Rules are read through ``list_rules()`` on each message (boto3 ``get_topic_rule()['rule']``
dicts), so a rule created, replaced, disabled or deleted takes effect at once; parsed SQL
is cached by its text and version. A failing action is logged in Norwegian and the rule's
``errorAction`` gets AWS's error message; nothing a rule or a message does stops the engine.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from kurs.sky.rules.actions import ActionError, ActionRunner, Message
from kurs.sky.rules.context import MessageContext
from kurs.sky.rules.external import ExternalFunctionError, ExternalServices
from kurs.sky.rules.sql import AWS_DEFAULT_VERSION, SqlParseError, Statement, parse

BASIC_INGEST_PREFIX = "$aws/rules/"
_CACHE_SIZE = 256
# A rule that fires faster than this is taken for a loop (rule A republishes to B's topic and B to
# A's, or a Lambda publishes what triggered it): such a loop would otherwise keep the cloud busy for
# ever, and in a classroom room everyone shares that cloud. Far above what a course rule meets.
RULE_RATE_PER_S = 100.0
RULE_BURST = 200
_LOOP_NOTICE_S = 10.0


class _RuleBudget:
    """A token bucket per rule: RULE_BURST at once, then RULE_RATE_PER_S."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[float, float]] = {}  # rule -> (tokens, when)
        self._noticed: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, rule: str) -> tuple[bool, bool]:
        """(may run, should say so): the second is true once per _LOOP_NOTICE_S while refused."""
        now = self._clock()
        with self._lock:
            tokens, when = self._tokens.get(rule, (float(RULE_BURST), now))
            tokens = min(float(RULE_BURST), tokens + (now - when) * RULE_RATE_PER_S)
            if tokens >= 1.0:
                self._tokens[rule] = (tokens - 1.0, now)
                return True, False
            self._tokens[rule] = (tokens, now)
            say = now - self._noticed.get(rule, -_LOOP_NOTICE_S) >= _LOOP_NOTICE_S
            if say:
                self._noticed[rule] = now
            return False, say


class RulesEngine:
    """Evaluates topic rules for each message and runs their actions.

    ``list_rules`` returns the current rules; ``actions`` carries them out; ``log`` gets one
    Norwegian line per event a learner may want to see. ``clock_ms`` is the time source for
    ``timestamp()`` (epoch milliseconds).
    """

    def __init__(
        self,
        list_rules: Callable[[], Iterable[dict[str, Any]]],
        actions: ActionRunner,
        log: Callable[[str], None],
        *,
        clock_ms: Callable[[], int] | None = None,
        external: ExternalServices | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._list_rules = list_rules
        self._external = external  # for get_thing_shadow() and aws_lambda()
        self._actions = actions
        self._log = log
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._statements: OrderedDict[tuple[str, str], Statement | SqlParseError] = OrderedDict()
        self._reported: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()  # the cache may be shared if the caller uses several threads
        self._budget = _RuleBudget(monotonic or time.monotonic)

    # --- public --------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes, clientid: str, principal: str) -> None:
        """Evaluate every enabled rule for one message and run the actions of those it triggers.

        ``clientid``/``principal`` are "" when unknown (a message from the cloud itself or
        from HTTP). Never raises.
        """
        try:
            self._on_message(topic, payload, clientid, principal)
        except Exception as exc:  # last line of defence: one bad message must not stop the engine
            self._say(
                f"Regelmotoren klarte ikke å behandle en melding på «{topic}»: {type(exc).__name__}: {exc}"
            )

    # --- internals -----------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        try:
            self._log(line)
        except Exception:
            pass

    def _on_message(self, topic: str, payload: bytes, clientid: str, principal: str) -> None:
        target_rule, rule_topic = None, topic
        if topic.startswith(BASIC_INGEST_PREFIX):
            # Basic Ingest: $aws/rules/<ruleName>/<topic> goes to that rule only, skipping FROM,
            # and topic() sees the part after the rule name.
            rest = topic[len(BASIC_INGEST_PREFIX) :]
            target_rule, _, rule_topic = rest.partition("/")
        ctx = MessageContext(
            topic=rule_topic,
            clientid=clientid or None,
            principal=principal or None,
            timestamp_ms=int(self._clock_ms()),
            trace_id=str(uuid.uuid4()),
        )
        try:
            rules = list(self._list_rules())
        except Exception as exc:
            self._say(f"Regelmotoren fikk ikke lest reglene: {type(exc).__name__}: {exc}")
            return
        for rule in rules:
            if not isinstance(rule, dict):
                continue
            name = str(rule.get("ruleName", "?"))
            if target_rule is not None and name != target_rule:
                continue
            if rule.get("ruleDisabled"):
                continue
            try:
                self._run_rule(rule, name, payload, ctx, check_topic=target_rule is None)
            except Exception as exc:  # keep going with the other rules
                self._say(f"Regel «{name}»: uventet feil: {type(exc).__name__}: {exc}")

    def _statement(self, rule: dict[str, Any], name: str) -> Statement | None:
        sql = str(rule.get("sql") or "")
        # AWS uses 2015-10-08 when a rule is created without awsIotSqlVersion.
        version = str(rule.get("awsIotSqlVersion") or AWS_DEFAULT_VERSION)
        key = (sql, version)
        with self._lock:
            cached = self._statements.get(key)
            if cached is None:
                try:
                    cached = parse(sql, version)
                except SqlParseError as exc:
                    cached = exc
                self._statements[key] = cached
                if len(self._statements) > _CACHE_SIZE:
                    self._statements.popitem(last=False)
            else:
                self._statements.move_to_end(key)
            first_report = isinstance(cached, SqlParseError) and (name, sql, version) not in self._reported
            if first_report:
                self._reported.add((name, sql, version))
        if isinstance(cached, SqlParseError):
            if first_report:  # say it once, not on every message
                self._say(f"Regel «{name}» blir hoppet over fordi SQL-en har en feil: {cached}")
            return None
        return cached

    def _run_rule(
        self, rule: dict[str, Any], name: str, payload: bytes, ctx: MessageContext, *, check_topic: bool
    ) -> None:
        statement = self._statement(rule, name)
        if statement is None:
            return
        if check_topic and not statement.matches_topic(ctx.topic):
            return
        try:
            output, variables = statement.run(payload, ctx, check_topic=False, external=self._external)
        except ExternalFunctionError as exc:
            # As on AWS: a failed external function stops the rule and is logged; errorAction
            # covers rule actions only (developer guide, "Error handling (error action)").
            self._say(f"Regel «{name}» ble ikke utført fordi SQL-funksjonen {exc.function}() feilet: {exc} "
                      "(som i AWS IoT går slike feil til loggen, ikke til errorAction).")
            return
        if output is None:
            return  # WHERE was not true
        allowed, say = self._budget.take(name)
        if not allowed:
            if say:
                self._say(f"Regel «{name}» ble utløst mer enn {RULE_RATE_PER_S:.0f} ganger i sekundet og hoppes over "
                          "til det roer seg. Det ser ut som en løkke: sender regelen (eller en Lambda den kaller) til "
                          "et emne som en regel leser? Endre emnet, eller slå av regelen med disable_topic_rule.")
            return
        self._say(f"Regel «{name}» ble utløst av en melding på «{ctx.topic}».")
        message = Message(payload=payload, ctx=ctx, rule_name=name, version=statement.version,
                          variables=variables)
        failures: list[ActionError] = []
        for action in rule.get("actions") or []:
            try:
                done = self._actions.run(action, output, message)
                self._say(f"Regel «{name}»: {done}.")
            except ActionError as exc:
                failures.append(exc)
                self._say(f"Regel «{name}»: handlingen {exc.failed_action} feilet: {exc.error_message}")
        if failures:
            self._run_error_action(rule, name, message, failures)

    def _run_error_action(
        self, rule: dict[str, Any], name: str, message: Message, failures: list[ActionError]
    ) -> None:
        error_action = rule.get("errorAction")
        if not error_action:
            self._say(f"Regel «{name}» har ingen errorAction, så feilen over blir bare logget.")
            return
        # One error message per rule and message, listing every failed action (as AWS does).
        document = {
            "ruleName": name,
            "topic": message.ctx.topic,
            "cloudwatchTraceId": message.ctx.trace_id or str(uuid.uuid4()),
            "clientId": message.ctx.clientid or "",
            "base64OriginalPayload": base64.b64encode(message.payload).decode("ascii"),
            "failures": [f.as_failure() for f in failures],
        }
        try:
            done = self._actions.run(error_action, document, message)
            self._say(f"Regel «{name}»: errorAction {done}.")
        except ActionError as exc:
            self._say(f"Regel «{name}»: også errorAction feilet ({exc.failed_action}): {exc.error_message}")
