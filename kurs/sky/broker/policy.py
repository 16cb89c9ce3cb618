"""AWS IoT Core policies, checked and evaluated the way AWS IoT does it.

moto stores IoT policies but neither validates nor enforces them. This module does both for
the local cloud, following the AWS IoT developer guide ("AWS IoT Core policies", "policy
variables", "thing policy variables", "example policies") and IAM's evaluation logic:

- every request starts denied; an ``Allow`` statement that matches allows it; an explicit
  ``Deny`` that matches wins over any ``Allow``;
- ``Action`` and ``Resource`` use IAM wildcards: ``*`` (any run of characters, ``/`` too)
  and ``?`` (one character). MQTT's ``+`` and ``#`` are ordinary characters here;
- resources: ``iot:Connect`` on ``client/<client id>``, ``iot:Publish`` and ``iot:Receive``
  on ``topic/<topic>``, ``iot:Subscribe`` on ``topicfilter/<filter>``;
- policy variables (``${iot:ClientId}``, ``${iot:Connection.Thing.ThingName}``, …) are
  replaced before matching. A thing variable resolves only when the client id is the name of
  a thing attached to the certificate; an unresolved variable makes that resource (or
  condition) match nothing, so such an ``Allow`` grants nothing (AWS: "access denied");
- conditions: the IAM string operators, ``Bool`` and ``Null`` (with ``…IfExists``).

Not modelled: policies attached to thing groups, Cognito identities, and AWS's cache delay
(a changed policy takes effect at once here; on AWS it can take minutes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Policy variable escapes: ${*} ${?} ${$} stand for the literal characters.
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_TOKEN = re.compile(r"\$\{([^}]*)\}|[*?]|[^$*?]+|\$")
_ACTION_PATTERN = re.compile(r"^(\*|(iot|greengrass):[A-Za-z0-9*?]+)$", re.IGNORECASE)
_RESOURCE_PATTERN = re.compile(r"^(\*|arn:[^:]*:[^:]*:[^:]*:[^:]*:.+)$")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}

# The resource type in the ARN for each MQTT action (AWS IoT "action resources").
RESOURCE_TYPES = {
    "iot:Connect": "client",
    "iot:Publish": "topic",
    "iot:RetainPublish": "topic",
    "iot:Receive": "topic",
    "iot:Subscribe": "topicfilter",
}

# Every IAM condition operator AWS accepts in a document; the ones evaluated are below.
_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "Bool", "Null",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals",
    "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
    "BinaryEquals",
}


class MalformedPolicy(ValueError):
    """A policy document AWS IoT would refuse (MalformedPolicyException). AWS's own wording."""


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allow", "explicit-deny" or "implicit-deny"
    policy: str | None = None  # the policy whose statement decided (allow or explicit deny)

    def __bool__(self) -> bool:
        return self.allowed


@dataclass
class Context:
    """What AWS IoT knows about the request: the values of the policy variables."""

    client_id: str
    thing_name: str | None = None  # set only when the client id names a thing attached to the certificate
    thing_attributes: Mapping[str, str] = field(default_factory=dict)
    thing_type: str | None = None
    common_name: str | None = None

    def variables(self) -> dict[str, str | None]:
        attached = self.thing_name is not None
        values: dict[str, str | None] = {
            "iot:clientid": self.client_id,
            "iot:connection.thing.isattached": "true" if attached else "false",
            "iot:connection.thing.thingname": self.thing_name,
            "iot:connection.thing.thingtypename": self.thing_type if attached else None,
            "iot:certificate.subject.commonname": self.common_name,
        }
        if attached:
            for key, value in self.thing_attributes.items():
                values[f"iot:connection.thing.attributes[{key}]".lower()] = str(value)
        return values


# --- parsing and validation ------------------------------------------------------------
def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise MalformedPolicy(f"Policy document is Malformed: Invalid {what}.")


def parse(document: str | Mapping[str, Any], name: str = "") -> Policy:
    """Parse and validate a policy document; raises MalformedPolicy like CreatePolicy does."""
    if isinstance(document, str):
        try:
            data = json.loads(document)
        except ValueError:
            raise MalformedPolicy("Policy document is Malformed: Invalid policy syntax.") from None
    else:
        data = document
    if not isinstance(data, dict):
        raise MalformedPolicy("Policy document is Malformed: Invalid policy syntax.")
    if "Version" in data and data["Version"] not in ("2012-10-17", "2008-10-17"):
        raise MalformedPolicy(f"Policy document is Malformed: Invalid version: {data['Version']}")
    raw = data.get("Statement")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise MalformedPolicy("Policy document is Malformed: Policy must contain a Statement.")
    return Policy(name, tuple(_statement(s) for s in raw))


def _statement(raw: Any) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Policy document is Malformed: Invalid policy syntax.")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise MalformedPolicy(f"Policy document is Malformed: Unknown field {sorted(unknown)[0]}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Policy document is Malformed: Invalid effect: {effect}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise MalformedPolicy("Policy document is Malformed: Statement must contain exactly one of Action, NotAction.")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise MalformedPolicy("Policy document is Malformed: Statement must contain exactly one of Resource, NotResource.")
    actions = _as_list(raw.get("Action", raw.get("NotAction")), "action")
    bad = [a for a in actions if not _ACTION_PATTERN.match(a)]
    if bad:
        raise MalformedPolicy(f"Policy document is Malformed: The following actions are invalid : {', '.join(bad)}")
    resources = _as_list(raw.get("Resource", raw.get("NotResource")), "resource")
    bad = [r for r in resources if not _RESOURCE_PATTERN.match(r)]
    if bad:
        raise MalformedPolicy(f"Policy document is Malformed: The following resources are invalid : {', '.join(bad)}")
    return Statement(
        effect=effect,
        actions=tuple(actions) if "Action" in raw else (),
        not_actions=tuple(actions) if "NotAction" in raw else (),
        resources=tuple(resources) if "Resource" in raw else (),
        not_resources=tuple(resources) if "NotResource" in raw else (),
        conditions=_conditions(raw.get("Condition")),
    )


def _conditions(raw: Any) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise MalformedPolicy("Policy document is Malformed: Invalid condition.")
    out = []
    for operator, block in raw.items():
        base = operator.removesuffix("IfExists")
        if base.startswith(("ForAnyValue:", "ForAllValues:")):
            base = base.split(":", 1)[1]
        if base not in _OPERATORS or not isinstance(block, dict):
            raise MalformedPolicy(f"Policy document is Malformed: Invalid condition operator: {operator}")
        for key, values in block.items():
            items = values if isinstance(values, list) else [values]
            if not items or not all(isinstance(v, str | bool | int | float) for v in items):
                raise MalformedPolicy(f"Policy document is Malformed: Invalid condition value for {key}")
            out.append((operator, key, tuple(_condition_text(v) for v in items)))
    return tuple(out)


def _condition_text(value: str | bool | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- matching --------------------------------------------------------------------------
@lru_cache(maxsize=8192)
def _regex(pattern: tuple[tuple[str, str], ...], ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for kind, text in pattern:
        if kind == "star":
            parts.append(".*")
        elif kind == "one":
            parts.append(".")
        else:
            parts.append(re.escape(text))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _tokens(pattern: str, variables: Mapping[str, str | None], wildcards: bool) -> tuple[tuple[str, str], ...] | None:
    """The pattern split into wildcards and literal text; None if a variable does not resolve."""
    out: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(pattern):
        text = m.group(0)
        if m.group(1) is not None:
            name = m.group(1)
            if name in _ESCAPES:
                out.append(("text", _ESCAPES[name]))
                continue
            value = variables.get(name.lower())
            if value is None:
                return None
            out.append(("text", value))  # a variable's value is literal, even if it holds * or ?
        elif wildcards and text == "*":
            out.append(("star", ""))
        elif wildcards and text == "?":
            out.append(("one", ""))
        else:
            out.append(("text", text))
    return tuple(out)


def wildcard_match(pattern: str, value: str, variables: Mapping[str, str | None] | None = None, *,
                   ignore_case: bool = False) -> bool:
    """IAM-style match: ``*`` and ``?`` are wildcards, ``${…}`` policy variables are replaced."""
    tokens = _tokens(pattern, variables or {}, wildcards=True)
    if tokens is None:
        return False
    return _regex(tokens, ignore_case).fullmatch(value) is not None


def _condition_holds(operator: str, key: str, expected: tuple[str, ...],
                     variables: Mapping[str, str | None]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists").split(":")[-1]
    actual = variables.get(key.lower())
    if base == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    negated = "Not" in base
    if actual is None:
        return if_exists or negated
    resolved = []
    for value in expected:
        tokens = _tokens(value, variables, wildcards=False)
        if tokens is not None:
            resolved.append("".join(text for _, text in tokens))
    if base in ("StringEquals", "StringNotEquals"):
        hit = actual in resolved
    elif base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        hit = actual.lower() in (v.lower() for v in resolved)
    elif base in ("StringLike", "StringNotLike"):
        hit = any(wildcard_match(v, actual, variables) for v in expected)
    elif base == "Bool":
        hit = actual.lower() in (v.lower() for v in resolved)
    else:  # an operator we accept in documents but do not evaluate: the statement does not apply
        return False
    return not hit if negated else hit


def _statement_applies(st: Statement, action: str, resource: str, variables: Mapping[str, str | None]) -> bool:
    if st.actions:
        if not any(wildcard_match(a, action, ignore_case=True) for a in st.actions):
            return False
    elif any(wildcard_match(a, action, ignore_case=True) for a in st.not_actions):
        return False
    if st.resources:
        if not any(wildcard_match(r, resource, variables) for r in st.resources):
            return False
    elif any(wildcard_match(r, resource, variables) for r in st.not_resources):
        return False
    return all(_condition_holds(op, key, values, variables) for op, key, values in st.conditions)


def evaluate(policies: Iterable[Policy], action: str, resource: str, context: Context) -> Decision:
    """Explicit Deny wins, then any Allow, else the implicit deny."""
    variables = context.variables()
    allowed_by = None
    for policy in policies:
        for st in policy.statements:
            if not _statement_applies(st, action, resource, variables):
                continue
            if st.effect == "Deny":
                return Decision(False, "explicit-deny", policy.name)
            allowed_by = allowed_by or policy.name
    if allowed_by is not None:
        return Decision(True, "allow", allowed_by)
    return Decision(False, "implicit-deny")


def resource_arn(action: str, name: str, region: str, account: str) -> str:
    """The ARN AWS IoT checks for ``action`` on a client id, topic or topic filter."""
    return f"arn:aws:iot:{region}:{account}:{RESOURCE_TYPES[action]}/{name}"


# --- the local cloud's enforcement, on moto's registry -----------------------------------
class PolicyEnforcer:
    """Decides for a certificate from the policies attached to it in moto's IoT registry.

    Called for every CONNECT, PUBLISH, SUBSCRIBE and every delivery (RECEIVE), so decisions
    are cached per certificate, attached policy versions and thing attachment: a changed or
    newly attached policy takes effect on the next check, and nothing is parsed twice.
    """

    _MAX_CACHED = 50_000

    def __init__(self, backend: Callable[[], Any], region: str, account: str, *,
                 vet: Callable[[str, str], bool] | None = None) -> None:
        self._backend = backend
        # vet(certificate_id, document): may this policy count for this certificate? (A room's
        # learners' policies are checked again here: kurs.room.host.RoomHost.policy_vetted.)
        self.vet = vet
        self.region = region
        self.account = account
        self._parsed: dict[tuple[str, str, str], Policy] = {}
        self._decisions: dict[tuple[Any, ...], Decision] = {}
        self._common_names: dict[str, str | None] = {}

    def decide(self, certificate_arn: str, certificate_id: str, client_id: str, action: str, name: str) -> Decision:
        backend = self._backend()
        attached = [(pname, pol) for (arn, pname), (_, pol) in list(backend.principal_policies.items())
                    if arn == certificate_arn]
        policy_key = tuple((pname, pol.default_version_id, pol.document) for pname, pol in attached)
        thing = None
        if (certificate_arn, client_id) in backend.principal_things:
            thing = backend.principal_things[(certificate_arn, client_id)][1]
        thing_key = (thing.thing_name, tuple(sorted(thing.attributes.items()))) if thing is not None else None
        key = (certificate_arn, policy_key, thing_key, client_id, action, name)
        decision = self._decisions.get(key)
        if decision is None:
            context = Context(
                client_id=client_id,
                thing_name=thing.thing_name if thing is not None else None,
                thing_attributes=dict(thing.attributes) if thing is not None else {},
                thing_type=getattr(getattr(thing, "thing_type", None), "thing_type_name", None),
                common_name=self._common_name(backend, certificate_id),
            )
            policies = [self._policy(pname, pol) for pname, pol in attached
                        if self.vet is None or self.vet(certificate_id, self._document(pol))]
            decision = evaluate([p for p in policies if p is not None], action,
                                resource_arn(action, name, self.region, self.account), context)
            if len(self._decisions) >= self._MAX_CACHED:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    @staticmethod
    def _document(pol: Any) -> str:
        return pol.document if isinstance(pol.document, str) else json.dumps(pol.document)

    def _policy(self, name: str, pol: Any) -> Policy | None:
        document = self._document(pol)
        key = (name, pol.default_version_id, document)
        if key not in self._parsed:
            try:
                self._parsed[key] = parse(document, name)
            except MalformedPolicy:  # stored before validation existed: it grants nothing
                return None
        return self._parsed[key]

    def _common_name(self, backend: Any, certificate_id: str) -> str | None:
        if certificate_id not in self._common_names:
            cert = backend.certificates.get(certificate_id)
            self._common_names[certificate_id] = _subject_common_name(cert.certificate_pem) if cert else None
        return self._common_names[certificate_id]


def _subject_common_name(pem: str) -> str | None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        names = x509.load_pem_x509_certificate(pem.encode()).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    return str(names[0].value) if names else None

