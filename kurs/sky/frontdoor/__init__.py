"""The local cloud's front door: a WSGI middleware in front of moto's whole app.

Every HTTP request to the AWS API port passes three checks before moto sees it:

1. ``Host`` must be this cloud's own address (``127.0.0.1:<port>`` or ``localhost:<port>``):
   a web page that re-points its own host name at 127.0.0.1 (DNS rebinding) sends its own name;
2. no foreign ``Origin`` (nor ``Sec-Fetch-Site: cross-site``): boto3 and the ``aws`` CLI never
   send one, a browser always does on a cross-origin POST, even a "simple" ``text/plain`` one;
3. a valid AWS Signature Version 4 made with this cloud's credentials (:mod:`kurs.sky.credentials`)
   or an active IAM access key created in it, as AWS accepts any active key of the account.
   ``/moto-api/*`` (reset, dashboard) is behind the same check: ``kurs sky reset`` signs its request.

Why a middleware and not a moto patch: it sees the raw request (path and query exactly as
signed, every header, the body) before moto's dispatcher, flask-cors (which answers any origin)
or any backend runs, and it depends on none of moto's internals beyond the app it wraps.
Refusals are AWS's own errors (see replies.py) and a Norwegian line in the cloud log.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kurs.sky.frontdoor import replies
from kurs.sky.frontdoor.sigv4 import Refused, verify

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]
SecretLookup = Callable[[str, str | None], str | None]
LOG_EVERY_S = 5.0
MAX_BODY = 256 * 1024 * 1024  # above Lambda's largest zip upload; refused before it is read


class FrontDoor:
    """``FrontDoor(moto_app, port, secret_for)`` is itself a WSGI app."""

    def __init__(self, app: WsgiApp, port: int, secret_for: SecretLookup, *, room: Any = None) -> None:
        self._app = app
        self._hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        # A room (kurs.room.host.RoomHost) also serves the learners on its own address, over HTTPS.
        self._room = room
        if room is not None:
            self._hosts.add(f"{room.room.address}:{port}")
        self._origins = {f"http://{host}" for host in self._hosts} | {f"https://{host}" for host in self._hosts}
        self._secret_for = secret_for
        self._logged: dict[str, tuple[float, int]] = {}  # reason -> (last logged, suppressed since)
        self._log_lock = threading.Lock()

    def _log(self, reason: str, message: str, *args: object) -> None:
        """Each kind of refusal at most every few seconds: a page hammering the port must not flood the log."""
        now = time.monotonic()
        with self._log_lock:
            last, suppressed = self._logged.get(reason, (-LOG_EVERY_S, 0))
            if now - last < LOG_EVERY_S:
                self._logged[reason] = (last, suppressed + 1)
                return
            self._logged[reason] = (now, 0)
        if suppressed:
            message += f" (og {suppressed} lignende siden sist)"
        log.warning(message, *args)

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST") or "").lower()
        if host not in self._hosts:
            self._log("host", "Avviste en forespørsel til AWS-API-et med vertsnavnet «%s» (ikke skyens egen adresse; "
                        "kan være en nettside som prøver DNS-rebinding).", host[:100])
            return _send(start_response, replies.foreign(
                "Den lokale skyen svarer bare på sin egen adresse (127.0.0.1 eller localhost med riktig port)."))
        origin = environ.get("HTTP_ORIGIN")
        fetch_site = str(environ.get("HTTP_SEC_FETCH_SITE") or "")
        if (origin is not None and origin.lower() not in self._origins) or fetch_site in ("cross-site", "same-site"):
            self._log("origin", "Avviste en forespørsel fra en nettside (%s) til AWS-API-et: nettlesere slipper ikke inn.",
                        str(origin or fetch_site)[:100])
            return _send(start_response, replies.foreign(
                "Den lokale skyen tar ikke imot forespørsler fra nettsider i nettleseren."))
        if self._room is not None and self._room.handles(environ.get("PATH_INFO")):
            return self._room.serve(environ, start_response)  # joining: the class code is the credential
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _send(start_response, replies.refusal("incomplete", "json"))
        headers = _Headers(environ)
        if headers.get("Authorization") is None and "X-Amz-Signature=" not in str(environ.get("QUERY_STRING")):
            return self._refuse(environ, start_response, Refused("missing"), None)
        body = _read_body(environ, length)
        raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/")
        secret_for = self._secret_for if self._room is None else self._with_learners
        try:
            signed = verify(environ.get("REQUEST_METHOD", "GET"), raw_uri, headers, body, secret_for)
        except Refused as refused:
            return self._refuse(environ, start_response, refused, _scope_service(headers, raw_uri))
        if self._room is not None:
            # A learner's key reaches only the learner's own resources (kurs.room.access).
            reply = self._room.guard(signed.access_key_id, signed.service, environ, body, self._app, start_response)
            if reply is not None:
                return reply
        return self._app(environ, start_response)

    def _with_learners(self, access_key_id: str, session_token: str | None) -> str | None:
        return self._room.secret_for(access_key_id) or self._secret_for(access_key_id, session_token)

    def _refuse(self, environ: dict, start_response: Callable[..., Any], refused: Refused,
                service: str | None) -> Iterable[bytes]:
        what = {"missing": "uten signatur", "incomplete": "med en ufullstendig signatur",
                "unknown_key": "signert med en nøkkel skyen ikke kjenner",
                "bad_signature": "med feil signatur (feil hemmelig nøkkel, eller endret underveis)",
                "expired": "med et tidsstempel mer enn 15 minutter unna"}[refused.reason]
        self._log(refused.reason, "Avviste en forespørsel til AWS-API-et %s: %s %s", what, environ.get("REQUEST_METHOD"),
                    str(environ.get("PATH_INFO"))[:120])
        return _send(start_response, replies.refusal(refused.reason, replies.protocol(environ, service),
                                                     refused.detail))


class _Headers:
    """Request headers by name, case-insensitively, straight from the WSGI environ."""

    def __init__(self, environ: dict) -> None:
        self._environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = self._environ.get(key)
        return default if value is None else str(value)


def _read_body(environ: dict, length: int) -> bytes:
    stream = environ["wsgi.input"]
    if length:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        body = stream.read(MAX_BODY + 1)
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
    return body


def _scope_service(headers: _Headers, raw_uri: str) -> str | None:
    credential = headers.get("Authorization") or raw_uri
    marker = "Credential=" if "Credential=" in credential else "X-Amz-Credential="
    scope = credential.partition(marker)[2].replace("%2F", "/").split(",")[0].split("&")[0].split("/")
    return scope[3] if len(scope) >= 4 else None


def _send(start_response: Callable[..., Any], reply: tuple[str, list[tuple[str, str]], bytes]) -> Iterable[bytes]:
    status, headers, body = reply
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def secret_lookup(own_key: str, own_secret: str, account_id: str) -> SecretLookup:
    """The secret for an access key: this cloud's own, or an active IAM user key made in it."""

    def secret_for(access_key_id: str, session_token: str | None) -> str | None:
        if access_key_id == own_key:
            return own_secret
        try:
            from moto.iam.models import iam_backends

            for key in iam_backends[account_id]["aws"].get_all_access_keys_for_all_users():
                if key.access_key_id == access_key_id and key.status == "Active":
                    return str(key.secret_access_key)
        except Exception:  # noqa: BLE001 - moto's IAM not loaded or changed: only our own key then
            log.debug("IAM-nøklene kunne ikke slås opp", exc_info=True)
        return None

    return secret_for
