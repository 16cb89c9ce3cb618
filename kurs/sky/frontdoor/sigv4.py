"""Checking an AWS Signature Version 4 by computing it again with botocore.

AWS's rules (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html):
the client signs a canonical request (method, path, query, the headers it names in
``SignedHeaders``, the SHA-256 of the body) with a key derived from its secret, the date, the
region and the service. We rebuild the same canonical request from what arrived and let
botocore's own ``SigV4Auth`` sign it with the secret we know for that access key: equal
signatures mean the sender knows the secret and nothing signed was changed on the way.

Requests more than 15 minutes from our clock are refused as on AWS ("RequestExpired" in
https://docs.aws.amazon.com/iot/latest/apireference/CommonErrors.html), so a captured request
cannot be replayed later.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

MAX_SKEW = datetime.timedelta(minutes=15)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_AUTH = re.compile(r"^AWS4-HMAC-SHA256\s+(?P<params>.+)$", re.S)
# Payload hashes a client may send instead of the body's SHA-256 (S3); the body is then not signed.
_UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-")


class Refused(Exception):  # noqa: N818 - a verdict, not a bug
    """Why a request is refused; ``reason`` names the AWS error it becomes (see replies.py)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason  # missing | incomplete | unknown_key | bad_signature | expired
        self.detail = detail


@dataclass(frozen=True)
class Signed:
    """What a valid signature tells us: whose key, and for which service."""

    access_key_id: str
    service: str
    region: str


@dataclass(frozen=True)
class _Parts:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool
    expires_s: int | None


def verify(method: str, raw_uri: str, headers: Mapping[str, str], body: bytes,
           secret_for: Callable[[str, str | None], str | None], *, now: datetime.datetime | None = None) -> Signed:
    """Check one request; raise :class:`Refused` unless its signature is valid.

    ``raw_uri`` is the path and query exactly as sent; ``headers`` answers case-insensitively;
    ``secret_for(access_key_id, session_token)`` is the secret we hold for that key, or None.
    """
    parts = _parts(raw_uri, headers)
    when = _parse_time(parts.timestamp)
    now = now or datetime.datetime.now(datetime.UTC)
    if parts.presigned:
        if when - MAX_SKEW > now or (parts.expires_s is not None and now > when + datetime.timedelta(
                seconds=parts.expires_s)):
            raise Refused("expired", parts.timestamp)
    elif abs(now - when) > MAX_SKEW:
        raise Refused("expired", parts.timestamp)
    token = headers.get("X-Amz-Security-Token") or dict(parse_qsl(raw_uri.partition("?")[2])).get(
        "X-Amz-Security-Token")
    secret = secret_for(parts.access_key_id, token)
    if secret is None:
        raise Refused("unknown_key", parts.access_key_id)
    expected = _signature(method, raw_uri, headers, body, parts, secret)
    if not hmac.compare_digest(expected, parts.signature):
        raise Refused("bad_signature")
    return Signed(parts.access_key_id, parts.service, parts.region)


def _parts(raw_uri: str, headers: Mapping[str, str]) -> _Parts:
    auth = headers.get("Authorization")
    query = dict(parse_qsl(raw_uri.partition("?")[2], keep_blank_values=True))
    if auth is None and "X-Amz-Signature" not in query:
        raise Refused("missing")
    if auth is not None:
        match = _AUTH.match(auth.strip())
        if match is None:
            raise Refused("incomplete", "bare AWS4-HMAC-SHA256 only")
        fields = {}
        for item in match.group("params").split(","):
            key, _, value = item.strip().partition("=")
            fields[key] = value
        credential, signed, signature = fields.get("Credential"), fields.get("SignedHeaders"), fields.get("Signature")
        timestamp = headers.get("X-Amz-Date") or _from_http_date(headers.get("Date"))
        presigned, expires = False, None
    else:
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise Refused("incomplete", "X-Amz-Algorithm")
        credential, signed, signature = (query.get("X-Amz-Credential"), query.get("X-Amz-SignedHeaders"),
                                         query.get("X-Amz-Signature"))
        timestamp = query.get("X-Amz-Date")
        presigned = True
        try:
            expires = int(query.get("X-Amz-Expires") or 0) or None
        except ValueError:
            raise Refused("incomplete", "X-Amz-Expires") from None
    if not (credential and signed and signature and timestamp):
        raise Refused("incomplete", "Credential, SignedHeaders, Signature and X-Amz-Date are required")
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        raise Refused("incomplete", "Credential")
    names = tuple(name.strip().lower() for name in signed.split(";") if name.strip())
    if "host" not in names:
        raise Refused("incomplete", "SignedHeaders must include host")
    if timestamp[:8] != scope[1]:
        raise Refused("bad_signature", "date")
    return _Parts(scope[0], scope[1], scope[2], scope[3], names, signature.strip(), timestamp, presigned, expires)


def _signature(method: str, raw_uri: str, headers: Mapping[str, str], body: bytes, parts: _Parts,
               secret: str) -> str:
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest, HTTPHeaders
    from botocore.credentials import Credentials

    s3 = parts.service == "s3"
    base = S3SigV4Auth if s3 else SigV4Auth

    class _Again(base):  # type: ignore[misc, valid-type]
        """botocore's signer, told which headers the client signed (and no others)."""

        def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
            chosen = HTTPHeaders()
            for name in parts.signed_headers:
                value = request.headers.get(name)
                if value is not None:
                    chosen[name] = value
            return chosen

        def payload(self, request: AWSRequest) -> str:
            if parts.presigned and s3:
                return "UNSIGNED-PAYLOAD"  # presigned S3 URLs never sign the body
            return hashlib.sha256(body).hexdigest()

    path, _, query = raw_uri.partition("?")
    if parts.presigned:  # the signature is over everything but itself
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    request = AWSRequest(method=method.upper(), url=f"http://{headers.get('Host', '')}{path}"
                         + (f"?{query}" if query else ""), data=body)
    for name in parts.signed_headers:
        value = headers.get(name)
        if value is None:
            raise Refused("bad_signature", f"signed header {name} is missing")
        request.headers[name] = value
    claimed = headers.get("X-Amz-Content-SHA256")
    if claimed is not None and not parts.presigned:
        if claimed.startswith(_UNSIGNED_PAYLOADS):
            pass  # the client chose not to sign the body (S3 over TLS); nothing to compare
        elif not hmac.compare_digest(claimed, hashlib.sha256(body).hexdigest()):
            raise Refused("bad_signature", "body does not match X-Amz-Content-SHA256")
        request.headers["X-Amz-Content-SHA256"] = claimed  # botocore then signs exactly this
    request.context["timestamp"] = parts.timestamp
    signer = _Again(Credentials(parts.access_key_id, secret), parts.service, parts.region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def _parse_time(timestamp: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise Refused("incomplete", "X-Amz-Date") from None


def _from_http_date(value: str | None) -> str | None:
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).astimezone(datetime.UTC).strftime(_TIMESTAMP)
    except (TypeError, ValueError):
        return None
