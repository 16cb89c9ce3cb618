"""The room inside the instructor's cloud process: the join endpoint and the per-learner checks
the front door makes after a signature has said who sent a request.

``/kurs-rom/ca`` hands out the room's CA certificate (public; the learner pins it with the class
code's fingerprint fragment, see code.py). ``/kurs-rom/bli-med`` exchanges the class code and a
name for the learner's own IAM user access key. Every other request from a learner's key goes
through :func:`kurs.room.access.decide`; refusals are AWS's ``AccessDeniedException`` and one
Norwegian line in the cloud log naming the learner, so the instructor sees who tried what.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kurs.room import access, roster
from kurs.room.code import same
from kurs.room.names import slug as make_slug

log = logging.getLogger("kurs.rom")

JOIN_PATH = "/kurs-rom/bli-med"
CA_PATH = "/kurs-rom/ca"
MAX_FAILED_JOINS = 20  # wrong codes per minute before the join endpoint pauses (guessing a code)
_CERT_OPS = ("CreateCertificateFromCsr", "CreateKeysAndCertificate")
# List operations whose answers are cut down to the learner's own: (list key, name key or None).
_LISTS = {"ListThings": ("things", "thingName"), "ListPolicies": ("policies", "policyName"),
          "ListCertificates": ("certificates", "certificateId"), "ListTopicRules": ("rules", "ruleName"),
          "ListFunctions": ("Functions", "FunctionName"), "ListTables": ("TableNames", None),
          "ListRoles": ("Roles", "RoleName"), "ListRetainedMessages": ("retainedTopics", "topic"),
          "DescribeLogGroups": ("logGroups", "logGroupName"),
          "ListEventSourceMappings": ("EventSourceMappings", "FunctionArn")}


class RoomHost:
    def __init__(self, room: roster.Room, ca_pem: bytes, account_id: str) -> None:
        self.room = room
        self._ca_pem = ca_pem
        self._account_id = account_id
        self._lock = threading.Lock()
        self._failures: list[float] = []
        self._vetoed: set[tuple[str, str]] = set()
        self.details: dict[str, Any] = {}  # mqtts_port, region, account_id: what a joining learner needs
        for learner in room.learners.values():  # a restarted room takes its learners back
            self._ensure_user(learner.user_name)

    # -- for the Lambda service ----------------------------------------------------------------------
    def function_credentials(self, function_name: str) -> tuple[str, str] | None:
        """The key a function runs with: its owner's (by name), so it passes the owner's checks.

        None for the instructor's own functions (they run with the cloud's key)."""
        for learner in list(self.room.learners.values()):
            if access.slug_owns(learner.slug, function_name):
                return learner.access_key_id, learner.secret_access_key
        return None

    # -- for the broker ------------------------------------------------------------------------------
    def policy_vetted(self, certificate_id: str, document: str) -> bool:
        """May this IoT policy count for this certificate? A learner's only if the room would let them
        create it now: one stored before a check existed, or past one, grants nothing."""
        slug = self.room.certificates.get(certificate_id)
        if slug is None:
            return True
        problem = access.policy_problem(slug, document)
        if problem is not None and (certificate_id, document) not in self._vetoed:
            self._vetoed.add((certificate_id, document))
            log.warning("Rommet ser bort fra en policy på sertifikatet til %s: %s.", slug, problem)
        return problem is None

    # -- for the front door -------------------------------------------------------------------------
    def handles(self, path: str) -> bool:
        return path in (JOIN_PATH, CA_PATH)

    def secret_for(self, access_key_id: str) -> str | None:
        learner = self.room.learner_by_key(access_key_id)
        return learner.secret_access_key if learner else None

    def guard(self, access_key_id: str, service: str, environ: dict, body: bytes, app: Callable[..., Any],
              start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        """None: not a learner's request (the instructor's own key). Else the reply."""
        learner = self.room.learner_by_key(access_key_id)
        if learner is None:
            return None
        headers = _header_reader(environ)
        request = access.Request(service, environ.get("REQUEST_METHOD", "GET"),
                                 str(environ.get("RAW_URI") or environ.get("PATH_INFO") or "/"),
                                 str(environ.get("QUERY_STRING") or ""), headers, body)
        op, reason = access.decide(learner.slug, request, lambda cert: self.room.certificates.get(cert) == learner.slug)
        if reason is not None:
            log.warning("Rommet nektet %s (%s): %s %s – %s.", learner.name, learner.slug, service, op or "?", reason)
            return _send(start_response, _denied(op, reason))
        if op in _CERT_OPS:
            return self._remember_certificate(learner, app, environ, start_response)
        if op in _LISTS and service != "iam":  # IAM answers in XML; its roles are only names anyway
            return self._own_only(learner, _LISTS[op], app, environ, start_response)
        return app(environ, start_response)

    def _own_only(self, learner: roster.Learner, keys: tuple[str, str | None], app: Callable[..., Any],
                  environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        """A list answer with only the learner's own resources: others' names are not theirs to see."""
        held: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            held["status"], held["headers"] = status, headers
            return lambda data: None

        body = b"".join(app(environ, capture))
        listed, name_key = keys
        try:
            data = json.loads(body)
            items = data.get(listed)
            if str(held.get("status", "")).startswith("200") and isinstance(items, list):
                data[listed] = [x for x in items if self._owned_item(learner, x, name_key)]
                body = json.dumps(data).encode()
        except (ValueError, AttributeError):
            pass
        headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != "content-length"]
        start_response(held.get("status", "500 Internal Server Error"), [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _owned_item(self, learner: roster.Learner, item: Any, name_key: str | None) -> bool:
        name = item.get(name_key) if name_key and isinstance(item, dict) else item
        if name_key == "certificateId":
            return self.room.certificates.get(str(name)) == learner.slug
        if name_key == "topic":
            return access.topic_allowed(learner.slug, str(name))
        return access.slug_owns(learner.slug, access.arn_name(str(name)))

    def _remember_certificate(self, learner: roster.Learner, app: Callable[..., Any], environ: dict,
                              start_response: Callable[..., Any]) -> Iterable[bytes]:
        """A learner's new certificate is theirs: remember its id from moto's answer."""
        held: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            held["status"] = status
            return start_response(status, headers, exc_info)

        body = b"".join(app(environ, capture))
        if str(held.get("status", "")).startswith("200"):
            try:
                cert_id = json.loads(body)["certificateId"]
            except (ValueError, KeyError, TypeError):
                cert_id = None
            if cert_id:
                with self._lock:
                    self.room.certificates[cert_id] = learner.slug
                    roster.save(self.room)
        return [body]

    # -- joining --------------------------------------------------------------------------------
    def serve(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == CA_PATH:
            start_response("200 OK", [("Content-Type", "application/x-pem-file"),
                                      ("Content-Length", str(len(self._ca_pem)))])
            return [self._ca_pem]
        if environ.get("REQUEST_METHOD") != "POST":
            return _json(start_response, 405, {"melding": "Bruk POST."})
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 4096)
            data = json.loads(environ["wsgi.input"].read(length) or b"{}")
            answer = self.join(str(data.get("kode", "")), str(data.get("navn", "")),
                               str(data.get("tidligere", "")), environ.get("REMOTE_ADDR", "?"))
        except JoinRefused as refused:
            return _json(start_response, refused.status, {"melding": str(refused)})
        except (ValueError, AttributeError):
            return _json(start_response, 400, {"melding": "Forespørselen var ikke gyldig JSON."})
        return _json(start_response, 200, answer)

    def join(self, code: str, name: str, previous_secret_hash: str, remote: str) -> dict[str, Any]:
        from kurs.errors import CourseError

        with self._lock:
            now = time.monotonic()
            self._failures = [t for t in self._failures if now - t < 60]
            if len(self._failures) >= MAX_FAILED_JOINS:
                raise JoinRefused(429, "For mange feil klassekoder det siste minuttet. Vent et minutt og prøv igjen.")
            if not same(code, self.room.code):
                self._failures.append(now)
                log.warning("Noen på %s prøvde å bli med i rommet med feil eller utløpt kode.", remote)
                raise JoinRefused(403, "Klassekoden stemmer ikke (eller rommet er avsluttet og har fått ny kode). "
                                       "Sjekk koden instruktøren viser.")
            try:
                slug = make_slug(name)
            except CourseError as exc:
                raise JoinRefused(400, str(exc)) from None
            learner = self.room.learners.get(slug)
            if learner is not None:
                # The same laptop coming back proves it with (a hash of) the secret it got last time.
                if not hmac.compare_digest(previous_secret_hash, _hash(learner.secret_access_key)):
                    raise JoinRefused(409, f"Navnet «{slug}» er allerede tatt i rommet. Bruk et annet navn, "
                                           "for eksempel med et tall etter.")
                action = "kom tilbake til"
            else:
                self._ensure_user(roster.USER_PREFIX + slug)
                key_id, secret = self._new_key(roster.USER_PREFIX + slug)
                learner = roster.Learner(name=name.strip()[:40], slug=slug, access_key_id=key_id,
                                         secret_access_key=secret)
                self.room.learners[slug] = learner
                roster.save(self.room)
                action = "ble med i"
        log.info("%s (%s) %s rommet fra %s.", learner.name, slug, action, remote)
        return {"navn": learner.name, "prefiks": slug, "aws_access_key_id": learner.access_key_id,
                "aws_secret_access_key": learner.secret_access_key, "rom": self.details}

    def _ensure_user(self, user_name: str) -> None:
        from moto.iam.models import iam_backends

        iam = iam_backends[self._account_id]["aws"]
        if user_name not in iam.users:
            iam.create_user(region_name="global", user_name=user_name, path="/kurs-rom/", tags=[])

    def _new_key(self, user_name: str) -> tuple[str, str]:
        from moto.iam.models import iam_backends

        key = iam_backends[self._account_id]["aws"].create_access_key(user_name)
        return key.access_key_id, key.secret_access_key


class JoinRefused(Exception):  # noqa: N818 - a verdict
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def secret_hash(secret: str) -> str:
    """What a returning learner sends instead of the secret itself."""
    return _hash(secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(("kurs-rom:" + secret).encode()).hexdigest()


def _header_reader(environ: dict) -> Callable[[str], str | None]:
    def get(name: str) -> str | None:
        key = name.upper().replace("-", "_")
        value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key)
        return None if value is None else str(value)

    return get


def _denied(op: str | None, reason: str) -> tuple[str, list[tuple[str, str]], bytes]:
    message = (f"User is not authorized to perform: {op or 'this action'} (kurs-rom: {reason}. I rommet kan du "
               "bare bruke ressurser med ditt eget prefiks, og emnene under kurs/par/.)")
    body = json.dumps({"__type": "AccessDeniedException", "message": message,
                       "Message": message}, ensure_ascii=False).encode()
    return "403 Forbidden", [("Content-Type", "application/json; charset=utf-8"),
                             ("x-amzn-ErrorType", "AccessDeniedException")], body


def _json(start_response: Callable[..., Any], status: int, data: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(data, ensure_ascii=False).encode()
    phrase = {200: "OK", 400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 409: "Conflict",
              429: "Too Many Requests"}[status]
    start_response(f"{status} {phrase}", [("Content-Type", "application/json; charset=utf-8"),
                                          ("Content-Length", str(len(body)))])
    return [body]


def _send(start_response: Callable[..., Any], reply: tuple[str, list[tuple[str, str]], bytes]) -> Iterable[bytes]:
    status, headers, body = reply
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
