"""Which AWS API requests a learner in a room may make: only on resources named with their prefix.

The room's front door (kurs.sky.frontdoor) has already checked the SigV4 signature, so it knows
which learner sent a request; this module decides, from the request alone, whether it touches
only that learner's resources. The operation is found from botocore's own service models (the
same ones boto3 signs with), so every parameter that names a thing, policy, rule, function,
table, role, certificate or topic is checked, wherever the protocol puts it (path, header, query,
JSON or form body).

A learner ``ida`` owns names that, after the course's own prefix (``kurs-``/``kurs_``), start with
``ida-`` or ``ida_``: ``ida-esp32_ABC123``, ``kurs-ida-esp32_ABC123``, ``kurs_ida_lagre``. Topics are
theirs when the first segment that is not a course topic word (names.RESERVED) is theirs
(``devices/ida-knapp/events``, ``kurs/rom/ida/fremdrift``), and ``kurs/par/…`` is the room's shared pair space. We do not rely on moto's IAM policy enforcement:
moto checks actions, but not every resource of every service the course uses.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from kurs.room.names import RESERVED

PAIR_SPACE = "kurs/par/"
IOT_SERVICE_PRINCIPAL = "iot.amazonaws.com"
BROADCAST = "kurs/rom/alle/beskjed"  # kurs.room.device_policy.BROADCAST
THING_VARIABLE = "${iot:Connection.Thing.ThingName}"
_COURSE_PREFIXES = ("/aws/lambda/kurs-", "kurs-", "kurs_")
# Operations that name nothing of anyone's and create nothing shared.
_HARMLESS = {"DescribeEndpoint", "GetCallerIdentity", "GetUser", "CreateCertificateFromCsr",
             "CreateKeysAndCertificate", "ListFunctions", "ListTables", "DescribeLogGroups"}
# The IAM a learner needs for notebook 06 (a role for their Lambda), and nothing about users or keys.
_IAM_ALLOWED = {"CreateRole", "GetRole", "DeleteRole", "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy",
                "AttachRolePolicy", "DetachRolePolicy", "ListRolePolicies", "ListAttachedRolePolicies",
                "UpdateAssumeRolePolicy", "TagRole", "ListRoles", "GetUser", "PassRole"}
_SIGNING_TO_MODEL = {"iotdata": "iot-data", "execute-api": None}


@dataclass(frozen=True)
class Request:
    service: str  # the signing name from the SigV4 scope (iot, iotdata, lambda, dynamodb, …)
    method: str
    path: str  # raw, as sent
    query: str
    headers: Callable[[str], str | None]
    body: bytes


@dataclass(frozen=True)
class Named:
    kind: str  # thing | policy | rule | function | table | role | log | certificate | topic | arn
    value: str


def slug_owns(prefix: str, name: str) -> bool:
    """Is ``name`` (a thing, policy, rule, function, table, role or log group name) the learner's?"""
    for course in _COURSE_PREFIXES:
        if name.startswith(course):
            name = name[len(course):]
            break
    return name.startswith((f"{prefix}-", f"{prefix}_"))


def topic_allowed(prefix: str, topic: str) -> bool:
    """A topic (or filter, or policy resource) the learner may use: their own, or the pair space."""
    if topic.startswith(PAIR_SPACE) and len(topic) > len(PAIR_SPACE):
        return True
    # The owner is the first segment that is not one of the course's topic words: a later segment
    # is below someone else's (devices/ola-knapp/events/ida reaches subscribers to devices/ola-knapp/#).
    # A wildcard before the learner's own segment would reach others too.
    for segment in topic.split("/"):
        if segment == prefix or segment.startswith(f"{prefix}-") or segment == THING_VARIABLE:
            return True
        if segment.removeprefix("$").lower() not in RESERVED or (segment.startswith("$") and segment != "$aws"):
            return False
    return False


def policy_problem(prefix: str, document_text: str) -> str | None:
    """Why an IoT policy document reaches beyond the learner's resources, or None."""
    try:
        document = json.loads(document_text)
        statements = document.get("Statement", [])
    except (ValueError, AttributeError):
        return "policydokumentet er ikke gyldig JSON"
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue  # a Deny only takes away
        if "NotResource" in statement:  # every resource but those listed: others' too
            return "policyen bruker «NotResource», som i rommet ville gi tilgang til andres ressurser; bruk «Resource»"
        resources = statement.get("Resource", [])
        actions = statement.get("Action", [])
        # NotAction allows every action but those listed, so it is never read-only.
        read_only = "NotAction" not in statement and bool(actions) and \
            set([actions] if isinstance(actions, str) else actions) <= {"iot:Subscribe", "iot:Receive"}
        for resource in [resources] if isinstance(resources, str) else resources:
            kind, _, rest = str(resource).split(":", 5)[-1].partition("/")
            if kind in ("topic", "topicfilter"):
                # Everyone may listen to the instructor's broadcast; nobody else may send on it.
                ok = topic_allowed(prefix, rest) or (read_only and rest == BROADCAST)
            elif kind in ("client", "thing"):
                ok = rest == THING_VARIABLE or (slug_owns(prefix, rest) and "*" not in rest.split("-", 1)[0])
            else:
                ok = False
            if not ok:
                return f"policyen gir tilgang til «{resource}», som ikke er ditt"
    return None


def rule_problem(prefix: str, body: dict[str, Any]) -> str | None:
    """Why a topic rule would read or write beyond the learner's topics, functions or tables."""
    # REST-JSON sends the payload structure's members as the body, and moto reads them there; a
    # nested topicRulePayload is checked too, but never instead.
    nested = body.get("topicRulePayload")
    if isinstance(nested, dict):
        problem = rule_problem(prefix, nested)
        if problem or not any(key in body for key in ("sql", "actions", "errorAction")):
            return problem
    payload = body
    sql = str(payload.get("sql") or "")
    # The rules engine's own parser finds the statement's FROM: a "FROM '…'" inside a string or a
    # nested SELECT is not the topic the rule reads.
    from kurs.sky.rules.sql import DEFAULT_VERSION, SqlParseError, parse, topic_matches

    try:
        topic_filter = parse(sql, str(payload.get("awsIotSqlVersion") or DEFAULT_VERSION)).topic_filter
    except SqlParseError:
        return "regelens SQL kan ikke leses; skriv den som SELECT … FROM 'emnet ditt'"
    if not topic_allowed(prefix, topic_filter):
        return "regelen må lese fra et emne som er ditt (eller kurs/par/…)"
    # SQL functions that reach other resources: a shadow, a function. Only a literal, own name is
    # checkable here (topic(2) could be anyone's thing), so anything else is refused in a room.
    for function, kind, marker in (("get_thing_shadow", "skyggen", None), ("aws_lambda", "funksjonen", ":function:")):
        for call in re.finditer(rf"\b{function}\s*\(\s*([^,)]*)", sql, re.I):
            argument = call.group(1).strip()
            literal = re.fullmatch(r"'([^']*)'", argument)
            name = _last(literal.group(1), marker) if literal and marker else (literal.group(1) if literal else "")
            if not literal or not slug_owns(prefix, name):
                return f"regelen bruker {function}() på {kind} {argument or '?'}, som ikke er din (skriv navnet rett inn)"
    error_action = payload.get("errorAction")  # runs when an action fails: checked like the others
    for action in [*(payload.get("actions") or []), *([error_action] if error_action else [])]:
        for kind, settings in (action or {}).items():
            settings = settings or {}
            if isinstance(settings.get("putItem"), dict):  # dynamoDBv2 names its table inside putItem
                settings = {**settings, "tableName": settings["putItem"].get("tableName")}
            if any("${" in str(settings.get(key)) for key in ("functionArn", "tableName")):
                return "regelen må skrive navnet på Lambda-funksjonen eller tabellen rett inn, uten ${…}"
            if "topic" in settings and not topic_allowed(prefix, str(settings["topic"])):
                return f"regelen vil sende til «{settings['topic']}», som ikke er ditt"
            # Republishing to a topic the rule itself reads would trigger it again, for ever.
            if "topic" in settings and topic_matches(topic_filter, re.sub(r"\$\{[^}]*\}", "x", str(settings["topic"]))):
                return (f"regelen leser selv fra «{settings['topic']}» og ville gått i løkke; "
                        "send til et annet emne enn det FROM leser")
            if "functionArn" in settings and not slug_owns(prefix, _last(str(settings["functionArn"]), ":function:")):
                return "regelen vil kalle en Lambda-funksjon som ikke er din"
            if "tableName" in settings and not slug_owns(prefix, str(settings["tableName"])):
                return "regelen vil skrive til en tabell som ikke er din"
            if kind not in ("republish", "lambda", "dynamoDB", "dynamoDBv2"):
                return f"handlingen «{kind}» er ikke med i rommet"
    return None


def arn_name(value: str) -> str:
    """The resource's own name in an ARN: a function, a table (of a stream), a log group, a role, …"""
    if not value.startswith("arn:"):
        return value
    for marker in (":function:", ":log-group:"):
        if marker in value:
            return _last(value, marker)
    if ":table/" in value:
        return value.split(":table/", 1)[1].split("/")[0]
    return value.rsplit("/", 1)[-1]


def _last(value: str, marker: str) -> str:
    return value.split(marker, 1)[1].split(":")[0] if marker in value else value


# -- finding the operation and its names ------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@functools.lru_cache(maxsize=16)
def _routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    model = _model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(uri))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        routes.append((http["method"], re.compile(f"^{pattern}/?$"), name))
    # The most literal route first: /things/{thingName}/principals before /things/{thingName}.
    routes.sort(key=lambda r: -len(re.sub(r"\(\?P<\w+>[^)]*\)", "", r[1].pattern)))
    return routes


def operation(req: Request) -> tuple[str | None, dict[str, Any]]:
    """(operation name, its input parameters as sent) for a request, or (None, {})."""
    service = _SIGNING_TO_MODEL.get(req.service, req.service)
    if service is None:
        return None, {}
    try:
        model = _model(service)
    except Exception:  # noqa: BLE001 - a service botocore does not know
        return None, {}
    if model.protocol in ("json",):
        target = req.headers("X-Amz-Target") or ""
        name = target.rsplit(".", 1)[-1]
        return (name or None), _json(req.body)
    if model.protocol == "query":
        params = dict(parse_qsl(req.body.decode("utf-8", "replace"))) | dict(parse_qsl(req.query))
        return params.get("Action"), params
    path = req.path.split("?", 1)[0]
    for method, pattern, name in _routes(service):
        if method != req.method:
            continue
        found = pattern.match(path)
        if found is None:
            continue
        params: dict[str, Any] = {k: unquote(v) for k, v in found.groupdict().items()}
        op = model.operation_model(name)
        for member, shape in (op.input_shape.members.items() if op.input_shape else []):
            where = shape.serialization.get("location")
            if where == "header":
                value = req.headers(shape.serialization.get("name", member))
                if value is not None:
                    params[member] = value
            elif where == "querystring":
                query = dict(parse_qsl(req.query))
                if shape.serialization.get("name", member) in query:
                    params[member] = query[shape.serialization.get("name", member)]
        body = _json(req.body)
        for key, value in body.items():
            params.setdefault(key, value)
        return name, params
    return None, {}


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


_KINDS = {"thingname": "thing", "policyname": "policy", "rulename": "rule", "functionname": "function",
          "tablename": "table", "rolename": "role", "loggroupname": "log", "certificateid": "certificate",
          "topic": "topic", "target": "arn", "principal": "arn", "role": "arn", "username": "user",
          # What a subscription filter or an event source mapping connects the learner's resource to.
          "destinationarn": "arn", "eventsourcearn": "arn", "loggroupidentifier": "arn"}


def names(params: dict[str, Any]) -> list[Named]:
    return [Named(_KINDS[key.lower()], str(value)) for key, value in params.items()
            if key.lower() in _KINDS and isinstance(value, str)]


def decide(prefix: str, req: Request, owns_certificate: Callable[[str], bool]) -> tuple[str | None, str | None]:
    """(operation, refusal reason in Norwegian or None when allowed)."""
    service = req.service
    if req.headers("Authorization") is None:
        # Signed in the query string: moto then ignores the credential scope and guesses the
        # service from the path (S3 for /things/…), so it would not run what was checked here.
        return None, "rommet tar ikke imot forhåndssignerte forespørsler (signatur i URL-en); bruk boto3 som vanlig"
    if (req.headers("Content-Encoding") or "identity").strip().lower() != "identity":
        # moto unpacks a gzip body before reading it; the check here would read the packed bytes.
        return None, "rommet tar ikke imot komprimerte forespørsler (Content-Encoding); send dem ukomprimert"
    if _moto_service(str(req.headers("Authorization"))) != service:
        # moto reads the service from the first field of the header; a signature with the fields
        # in another order is valid, but moto would guess the service (S3) instead.
        return None, "signaturen må ha Credential først i Authorization-headeren; bruk boto3 som vanlig"
    if service == "sts":
        return "GetCallerIdentity", None
    if service == "moto-api":
        return None, "bare instruktøren kan tømme rommet"
    op, params = operation(req)
    if op is None:
        return None, "rommet kjenner ikke denne forespørselen"
    if service == "iam" and op not in _IAM_ALLOWED:
        return op, "i rommet kan du bare lage og bruke roller (IAM-brukere og nøkler styrer instruktøren)"
    reason = _smuggled(req, op, params)
    if reason:
        return op, reason
    found = names(params) + [Named(_KINDS[key], value) for key in _KINDS if (value := req.headers(key)) is not None]
    if op == "AddPermission":
        # Principal here is who may invoke the function: AWS IoT for a rule's lambda action (notebook
        # 06), not a resource of anyone's. Any other principal stays refused.
        found = [n for n in found if not (n.kind == "arn" and n.value == IOT_SERVICE_PRINCIPAL)]
    if not found and not (op in _HARMLESS or op.startswith(("List", "Describe"))):
        return op, "operasjonen nevner ingen ressurs som er din"
    for named in found:
        reason = _check(prefix, named, owns_certificate)
        if reason:
            return op, reason
    if op in ("CreatePolicy", "CreatePolicyVersion") and "policyDocument" in params:
        reason = policy_problem(prefix, str(params["policyDocument"]))
        if reason:
            return op, reason
    if op in ("CreateTopicRule", "ReplaceTopicRule"):
        reason = rule_problem(prefix, params)
        if reason:
            return op, reason
    return op, None


def _moto_service(authorization: str) -> str | None:
    """The service moto routes a request to, read from its Authorization header as moto does."""
    try:
        _, _, _, service, _ = authorization.split(",")[0].split()[1].split("/")
    except (IndexError, ValueError):
        return None
    return service


def _smuggled(req: Request, op: str, params: dict[str, Any]) -> str | None:
    """Why a request carries a parameter somewhere else than where botocore puts it, or None.

    moto does not read a parameter where the model says it is: its ``_get_param`` takes the query
    string first, then (with no query string) the body parsed as a form, then the JSON body, and only
    last the path. A second ``thingName`` in any of those would name the thing moto acts on while
    the path names the learner's own, so such a request is refused: boto3 never sends one."""
    model = _model(_SIGNING_TO_MODEL.get(req.service, req.service))
    query = parse_qsl(req.query, keep_blank_values=True)
    text = req.body.decode("utf-8", "replace")
    if model.protocol == "query":  # moto merges the form body and the query string
        keys = [k for k, _ in [*parse_qsl(text, keep_blank_values=True), *query]]
        return _REPEATED if len(keys) != len(set(keys)) else None
    op_model = model.operation_model(op)
    members = op_model.input_shape.members if op_model.input_shape else {}
    placed = {s.serialization.get("name", m) for m, s in members.items() if s.serialization.get("location")}
    placed_members = {m for m, s in members.items() if s.serialization.get("location")}
    static = {k for k, _ in parse_qsl(op_model.http.get("requestUri", "").partition("?")[2], keep_blank_values=True)}
    allowed = {members[m].serialization.get("name", m) for m in members
               if members[m].serialization.get("location") == "querystring"} | static
    keys = [k for k, _ in query]
    if len(keys) != len(set(keys)) or not set(keys) <= allowed:
        return _REPEATED
    # "Action": moto takes the operation from it before X-Amz-Target or the path.
    readable = set(members) | placed | {"policyDocument", "sql", "topicRulePayload", "Action"}
    if any(k in readable or k.lower() in _KINDS for k, _ in parse_qsl(text)):
        return _REPEATED
    if req.headers("Action") is not None:  # with no query string and no body, moto reads the headers
        return _REPEATED
    if "multipart/form-data" in (req.headers("Content-Type") or ""):
        return _REPEATED
    if any(key in placed_members and params.get(key) != value for key, value in _json(req.body).items()):
        return _REPEATED
    return None


_REPEATED = ("forespørselen har et parameter et annet sted enn der AWS-SDK-en legger det; "
             "bruk boto3 eller AWS CLI som vanlig")


def _check(prefix: str, named: Named, owns_certificate: Callable[[str], bool]) -> str | None:
    value = named.value
    if named.kind == "topic":
        return None if topic_allowed(prefix, value) else f"emnet «{value}» er ikke ditt"
    if named.kind == "certificate":
        return None if owns_certificate(value) else "sertifikatet er ikke ditt"
    if named.kind == "arn":
        if ":cert/" in value:
            return None if owns_certificate(value.rsplit("/", 1)[-1]) else "sertifikatet er ikke ditt"
        return None if slug_owns(prefix, arn_name(value)) else f"«{value}» er ikke ditt"
    if named.kind == "user":  # only the learner's own IAM user (kurs.room.roster.USER_PREFIX)
        return None if value == f"rom-{prefix}" else f"IAM-brukeren «{value}» er ikke din"
    if named.kind == "function":
        value = _last(value, ":function:")
    label = {"thing": "tingen", "policy": "policyen", "rule": "regelen", "function": "funksjonen",
             "table": "tabellen", "role": "rollen", "log": "logggruppen"}[named.kind]
    return None if slug_owns(prefix, value) else f"{label} «{value}» er ikke din"
