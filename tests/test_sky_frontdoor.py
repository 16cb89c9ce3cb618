"""The local cloud's front door (kurs.sky.frontdoor): what a hostile web page, a DNS-rebinding
page or another local user can try against the AWS API port, and that none of it changes anything.

AWS behaviour mirrored here: every API request carries a Signature Version 4 made with an active
key of the account (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html); an
unknown key is UnrecognizedClientException (JSON services) / InvalidClientTokenId (query services),
a wrong secret InvalidSignatureException / SignatureDoesNotMatch, no signature
MissingAuthenticationToken, a timestamp more than 15 minutes off is refused
(https://docs.aws.amazon.com/iot/latest/apireference/CommonErrors.html,
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html).
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from kurs.sky import credentials
from kurs.sky.frontdoor.sigv4 import Refused, verify

pytestmark = pytest.mark.integration


def _thing_names(iot) -> list[str]:  # noqa: ANN001
    return [t["thingName"] for t in iot.list_things()["things"]]


@pytest.fixture
def marker(iot):  # noqa: ANN001 - fixture
    """A thing that must survive every attempt below."""
    iot.create_thing(thingName="fordor_vakt")
    yield "fordor_vakt"
    iot.delete_thing(thingName="fordor_vakt")


def _raw(sky, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict, bytes]:  # noqa: ANN001
    conn = http.client.HTTPConnection(sky.host, sky.http_port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _signed_headers(sky, method: str, path: str, body: bytes = b"", *, host: str | None = None,  # noqa: ANN001
                    key: Credentials | None = None, service: str = "moto-api") -> dict[str, str]:
    own = credentials.load()
    request = AWSRequest(method=method, url=f"http://{host or f'{sky.host}:{sky.http_port}'}{path}", data=body)
    SigV4Auth(key or Credentials(own.access_key_id, own.secret_access_key), service, sky.region).add_auth(request)
    return {"Host": host or f"{sky.host}:{sky.http_port}", **dict(request.headers.items())}


# --- browsers ---------------------------------------------------------------------------------

def test_a_cross_origin_simple_post_cannot_reset_the_cloud(sky, iot, marker):
    # What a web page can send without a CORS preflight: POST, text/plain, its own Origin.
    status, headers, body = _raw(sky, "POST", "/moto-api/reset", {
        "Origin": "http://ondsinnet.example", "Content-Type": "text/plain"}, b"x")
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers, "moto's flask-cors must never answer a page"
    assert marker in _thing_names(iot)
    # `kurs sky logg` tells the learner (each kind at most every few seconds, so a page cannot flood it).
    assert "Avviste en forespørsel fra en nettside (http://ondsinnet.example)" in Path(sky.log_file).read_text()


def test_a_foreign_origin_is_refused_even_with_a_valid_signature(sky, iot, marker):
    headers = _signed_headers(sky, "POST", "/moto-api/reset")
    status, _, body = _raw(sky, "POST", "/moto-api/reset", {**headers, "Origin": "http://localhost:8888"})
    assert status == 403 and "nettsider" in json.loads(body)["message"]
    status, _, _ = _raw(sky, "POST", "/moto-api/reset", {**headers, "Sec-Fetch-Site": "cross-site"})
    assert status == 403
    assert marker in _thing_names(iot)


def test_a_dns_rebinding_host_header_is_refused(sky, iot, marker):
    # The page's own name resolved to 127.0.0.1: the browser sends that name as Host.
    host = f"ondsinnet.example:{sky.http_port}"
    status, _, body = _raw(sky, "POST", "/moto-api/reset", {"Host": host, "Content-Type": "text/plain"})
    assert status == 403 and "egen adresse" in json.loads(body)["message"]
    signed = _signed_headers(sky, "POST", "/moto-api/reset", host=host)  # even signed for that host
    assert _raw(sky, "POST", "/moto-api/reset", signed)[0] == 403
    assert marker in _thing_names(iot)


def test_moto_api_needs_the_clouds_credentials(sky, iot, marker):
    status, headers, body = _raw(sky, "POST", "/moto-api/reset", {})
    assert status == 403 and headers.get("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert _raw(sky, "GET", "/moto-api/", {})[0] == 403  # the dashboard too
    assert marker in _thing_names(iot)


# --- other credentials ----------------------------------------------------------------------------

def _client(sky, service: str, key_id: str, secret: str):  # noqa: ANN001, ANN202
    return boto3.session.Session().client(service, endpoint_url=sky.endpoint_url, region_name=sky.region,
                                          aws_access_key_id=key_id, aws_secret_access_key=secret)


@pytest.mark.parametrize("service,call,unknown,bad", [
    ("iot", lambda c: c.delete_thing(thingName="fordor_vakt"), "UnrecognizedClientException",
     "InvalidSignatureException"),
    ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId", "SignatureDoesNotMatch"),
    ("iot-data", lambda c: c.delete_thing_shadow(thingName="fordor_vakt"), "UnrecognizedClientException",
     "InvalidSignatureException"),
], ids=["iot (rest-json)", "sts (query)", "iot-data"])
def test_requests_signed_with_other_credentials_change_nothing(sky, iot, marker, service, call, unknown, bad):
    own = credentials.load()
    with pytest.raises(ClientError) as err:
        call(_client(sky, service, "AKIAANNENBRUKER00000", "hemmelig-men-feil"))
    assert err.value.response["Error"]["Code"] == unknown
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as err:
        call(_client(sky, service, own.access_key_id, own.secret_access_key + "x"))
    assert err.value.response["Error"]["Code"] == bad
    assert marker in _thing_names(iot)


def test_a_body_changed_after_signing_is_refused(sky, iot, marker):
    client = _client(sky, "iot", *credentials_tuple())

    def tamper(request, **kwargs) -> None:  # noqa: ANN001, ANN003 - botocore's event signature
        request.body = request.body.replace(b"fordor_vakt_ny", b"fordor_vakt_ND")

    client.meta.events.register("before-send.iot.CreateThing", tamper)
    with pytest.raises(ClientError) as err:
        client.create_thing(thingName="fordor_vakt_ny", attributePayload={"attributes": {"a": "fordor_vakt_ny"}})
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "fordor_vakt_ND" not in _thing_names(iot)


def credentials_tuple() -> tuple[str, str]:
    own = credentials.load()
    return own.access_key_id, own.secret_access_key


def test_an_active_iam_user_key_of_the_account_is_accepted_like_on_aws(sky, iot):
    iam = boto3.client("iam")
    iam.create_user(UserName="fordor-bruker")
    try:
        key = iam.create_access_key(UserName="fordor-bruker")["AccessKey"]
        as_user = _client(sky, "sts", key["AccessKeyId"], key["SecretAccessKey"])
        assert as_user.get_caller_identity()["Arn"].endswith(":user/fordor-bruker")
        iam.update_access_key(UserName="fordor-bruker", AccessKeyId=key["AccessKeyId"], Status="Inactive")
        with pytest.raises(ClientError, match="InvalidClientTokenId"):
            as_user.get_caller_identity()
        iam.delete_access_key(UserName="fordor-bruker", AccessKeyId=key["AccessKeyId"])
    finally:
        iam.delete_user(UserName="fordor-bruker")


# --- the course's own clients ---------------------------------------------------------------------

def test_the_aws_cli_after_eval_env_works_and_shows_refusals_clearly(sky):
    env = {**os.environ, **sky.env()}
    aws = str(Path(sys.executable).parent / "aws")
    ok = subprocess.run([aws, "iot", "list-things"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    wrong = subprocess.run([aws, "iot", "list-things"], env={**env, "AWS_SECRET_ACCESS_KEY": "feil"},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0
    assert "(InvalidSignatureException) when calling the ListThings operation" in wrong.stderr
    assert 'eval "$(kurs sky env)"' in wrong.stderr  # the Norwegian hint rides along


def test_the_credentials_are_private_and_only_kurs_sky_env_prints_them(sky):
    path = credentials.credentials_file()
    own = credentials.load()
    assert own.access_key_id.startswith("LOKAL") and len(own.access_key_id) == 20
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert own.secret_access_key not in Path(sky.log_file).read_text(errors="replace")
    assert own.secret_access_key not in (path.parent / "sky.json").read_text()
    assert own.secret_access_key not in repr(own)
    printed = subprocess.run([sys.executable, "-m", "kurs", "sky", "env"], capture_output=True, text=True,
                             timeout=60, env=os.environ.copy())
    assert f"export AWS_SECRET_ACCESS_KEY={own.secret_access_key}" in printed.stdout


def test_kurs_sky_reset_goes_through_the_signed_path(sky, iot):
    from kurs import sky as sky_mod

    iot.create_thing(thingName="fordor_reset")
    sky_mod.reset(quiet=True)
    assert "fordor_reset" not in _thing_names(iot)


# --- the verifier on its own (no cloud) -----------------------------------------------------------

KEY = Credentials("LOKALTESTTESTTESTTES", "hemmelig")


def _lookup(key_id: str, token: str | None) -> str | None:
    return KEY.secret_key if key_id == KEY.access_key else None


def _sign(when: datetime.datetime | None = None, *, query: bool = False) -> AWSRequest:
    request = AWSRequest(method="POST", url="http://127.0.0.1:5055/things/a%20b?x=1&y=%2F", data=b'{"a":1}')
    signer = (SigV4QueryAuth(KEY, "iot", "eu-west-1", expires=60) if query else SigV4Auth(KEY, "iot", "eu-west-1"))
    if when is None:
        signer.add_auth(request)
    else:
        from unittest import mock

        with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
            signer.add_auth(request)
    return request


def _check(request: AWSRequest, **kw) -> object:  # noqa: ANN003
    url = request.url.split("127.0.0.1:5055", 1)[1]
    headers = {"Host": "127.0.0.1:5055", **dict(request.headers.items())}

    class H(dict):
        def get(self, name: str, default: str | None = None) -> str | None:  # case-insensitive like HTTP
            return next((v for k, v in self.items() if k.lower() == name.lower()), default)

    body = b"" if "X-Amz-Signature=" in url else request.body
    return verify("POST", url, H(headers), body, _lookup, **kw)


def test_verify_accepts_botocores_signature_and_refuses_an_old_one():
    assert _check(_sign()).access_key_id == KEY.access_key
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20)
    with pytest.raises(Refused) as refused:
        _check(_sign(old))
    assert refused.value.reason == "expired"


def test_verify_accepts_a_presigned_url_until_it_expires():
    request = _sign(query=True)
    assert _check(request).service == "iot"
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=2)
    with pytest.raises(Refused):
        _check(request, now=later)
