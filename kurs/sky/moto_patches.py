"""Every change the local cloud makes to moto, in one place.

moto is the control plane (a real server on loopback), but where the course depends on AWS's
behaviour moto either does something else or nothing. Each function below replaces one or
more moto attributes and points them at our own services; ``PATCHED`` names every attribute
touched, so ``tests/test_moto_patches.py`` fails loudly when a moto release renames one.

- ``registry``: policy documents validated (MalformedPolicyException), CSR certificates that
  fit the requester's key, and ``describe_endpoint`` naming this machine;
- ``iot_data``: iot-data's HTTP publish and shadow calls go to our data plane (one truth with MQTT);
  ``iot_data_publish`` checks a publish as AWS does (topic, 128 KB, QoS) and honours retain;
  ``iot_data_retained`` adds ListRetainedMessages/GetRetainedMessage (moto has neither: 500);
- ``moto_reset``: ``POST /moto-api/reset`` also empties our services;
- ``topic_rules``: create/replace_topic_rule check the SQL as AWS does;
- ``lambda_invoke``: the Invoke API runs the function's code here (moto would use docker);
- ``after_each_request``: a callback after every API action (the snapshot's dirty flag).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

# (module, class, attribute) for every attribute patched below.
PATCHED: tuple[tuple[str, str, str], ...] = (
    ("moto.iot.models", "IoTBackend", "create_policy"),
    ("moto.iot.models", "IoTBackend", "create_policy_version"),
    ("moto.iot.models", "IoTBackend", "create_certificate_from_csr"),
    ("moto.iot.models", "IoTBackend", "describe_endpoint"),
    ("moto.iotdata.responses", "IoTDataPlaneResponse", "publish"),
    ("moto.iotdata.responses", "IoTDataPlaneResponse", "update_thing_shadow"),
    ("moto.iotdata.responses", "IoTDataPlaneResponse", "get_thing_shadow"),
    ("moto.iotdata.responses", "IoTDataPlaneResponse", "delete_thing_shadow"),
    ("moto.iotdata.responses", "IoTDataPlaneResponse", "list_named_shadows_for_thing"),
    ("moto.moto_api._internal.models", "MotoAPIBackend", "reset"),
    ("moto.iot.responses", "IoTResponse", "create_topic_rule"),
    ("moto.iot.responses", "IoTResponse", "replace_topic_rule"),
    ("moto.awslambda.models", "LambdaFunction", "invoke"),
    ("moto.core.responses", "BaseResponse", "call_action"),
)

# (module, class, attribute) that moto does not have and we add (a moto release that adds one
# would be shadowed by ours: tests/test_moto_patches.py says so).
ADDED: tuple[tuple[str, str, str], ...] = (
    ("moto.iotdata.responses", "IoTDataPlaneResponse", "list_retained_messages"),
    ("moto.iotdata.responses", "IoTDataPlaneResponse", "get_retained_message"),
)


_ORIGINALS: dict[tuple[type, str], Any] = {}


def _original(cls: type, name: str) -> Any:
    """moto's own attribute, as it was before any patch (so patching again replaces, never wraps)."""
    return _ORIGINALS.setdefault((cls, name), getattr(cls, name))


def _set(cls: type, name: str, value: Any) -> None:
    _original(cls, name)
    setattr(cls, name, value)


# --- the IoT registry ---------------------------------------------------------------------------

def registry(local_endpoint: str) -> None:
    """Make moto's IoT registry behave like AWS where the course depends on it.

    - CreatePolicy / CreatePolicyVersion validate the document (moto stores anything) and
      answer MalformedPolicyException as AWS does;
    - CreateCertificateFromCsr issues a certificate for the CSR's own public key (moto makes
      a new key pair and ignores the CSR's, so the requester's private key would not fit);
    - describe_endpoint names this machine (moto invents a random host on every call).
    """
    from moto.core.config import default_user_config
    from moto.iot import models
    from moto.iot.exceptions import InvalidRequestException, IoTClientError

    from kurs.sky.broker.policy import MalformedPolicy, parse

    # Certificate ids are the SHA-256 of the DER certificate, as on AWS (moto's default hashes the PEM).
    default_user_config.setdefault("iot", {})["use_valid_cert"] = True

    class MalformedPolicyException(IoTClientError):
        def __init__(self, message: str) -> None:
            self.code = 400
            super().__init__("MalformedPolicyException", message)

    def _checked(document: object) -> None:
        try:
            parse(document if isinstance(document, str) else json.dumps(document))
        except MalformedPolicy as exc:
            raise MalformedPolicyException(str(exc)) from None

    original_create = _original(models.IoTBackend, "create_policy")
    original_version = _original(models.IoTBackend, "create_policy_version")

    def create_policy(self, policy_name, policy_document):  # noqa: ANN001, ANN202 - moto's signature
        _checked(policy_document)
        return original_create(self, policy_name, policy_document)

    def create_policy_version(self, policy_name, policy_document, set_as_default):  # noqa: ANN001, ANN202
        _checked(policy_document)
        return original_version(self, policy_name, policy_document, set_as_default)

    def create_certificate_from_csr(self, csr, set_as_active):  # noqa: ANN001, ANN202
        from kurs.sky.controlplane.csr import certificate_for_csr

        try:
            pem = certificate_for_csr(csr)
        except ValueError:
            raise InvalidRequestException("The certificate signing request is not valid.") from None
        return self.register_certificate(pem, ca_certificate_pem=None, set_as_active=set_as_active,
                                         status="INACTIVE")

    def describe_endpoint(self: Any, endpoint_type: str) -> Any:
        endpoint = models.FakeEndpoint(endpoint_type, self.region_name)  # validates the type
        if endpoint_type in ("iot:Data", "iot:Data-ATS"):
            endpoint.endpoint = local_endpoint
        self.endpoint = endpoint
        return endpoint

    _set(models.IoTBackend, "create_policy", create_policy)
    _set(models.IoTBackend, "create_policy_version", create_policy_version)
    _set(models.IoTBackend, "create_certificate_from_csr", create_certificate_from_csr)
    _set(models.IoTBackend, "describe_endpoint", describe_endpoint)


# --- iot-data over HTTP -------------------------------------------------------------------------

def iot_data(plane: Any) -> None:
    """Point moto's iot-data HTTP handlers at our data plane (``kurs.sky.broker.dataplane``)."""
    from moto.iotdata.responses import IoTDataPlaneResponse

    iot_data_publish(plane)
    iot_data_retained(plane)

    shadow = plane.shadow
    if shadow is None:
        return

    def _reply(status: int, body: bytes, outgoing: list) -> object:
        if outgoing:
            plane.deliver_threadsafe(outgoing)
        if status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body.decode(errors="replace")
            from kurs.sky.shadow import HTTP_ERROR_TYPES

            error_type = HTTP_ERROR_TYPES.get(status, "InternalFailureException")
            # moto takes the status from the "status" header, not the tuple
            return status, {"status": status, "x-amzn-ErrorType": error_type}, json.dumps({"message": message})
        return body.decode()

    def _shadow_name(self: IoTDataPlaneResponse) -> str | None:
        return self.querystring.get("name", [None])[0]

    def update_thing_shadow(self: IoTDataPlaneResponse) -> object:
        return _reply(*shadow.http_update(self._get_param("thingName"), self.body or b"", _shadow_name(self)))

    def get_thing_shadow(self: IoTDataPlaneResponse) -> object:
        return _reply(*shadow.http_get(self._get_param("thingName"), _shadow_name(self)))

    def delete_thing_shadow(self: IoTDataPlaneResponse) -> object:
        return _reply(*shadow.http_delete(self._get_param("thingName"), _shadow_name(self)))

    def list_named_shadows_for_thing(self: IoTDataPlaneResponse) -> str:
        return json.dumps({"results": shadow.list_named_shadows(self._get_param("thingName"))})

    _set(IoTDataPlaneResponse, "update_thing_shadow", update_thing_shadow)
    _set(IoTDataPlaneResponse, "get_thing_shadow", get_thing_shadow)
    _set(IoTDataPlaneResponse, "delete_thing_shadow", delete_thing_shadow)
    _set(IoTDataPlaneResponse, "list_named_shadows_for_thing", list_named_shadows_for_thing)


def _aws_error(status: int, error_type: str, message: str) -> tuple[int, dict[str, Any], str]:
    # moto takes the status from the "status" header, not the tuple
    return status, {"status": status, "x-amzn-ErrorType": error_type}, json.dumps({"message": message})


def iot_data_publish(plane: Any) -> None:
    """iot-data Publish as AWS IoT answers it (API reference "Publish",
    https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_Publish.html): ``qos`` 0 or 1,
    ``retain`` keeps the message (an empty payload deletes it), a payload over 128 KB is
    RequestEntityTooLargeException (413) and a topic AWS IoT refuses InvalidRequestException (400)."""
    from moto.iotdata.responses import IoTDataPlaneResponse

    from kurs.sky.broker.topics import MAX_PAYLOAD, topic_problem

    def publish(self: IoTDataPlaneResponse) -> object:
        topic = self.path.split("/topics/", 1)[-1]
        topic = unquote(topic) if "%" in topic else topic
        payload = self.body or b""
        if isinstance(payload, str):
            payload = payload.encode()
        qos_text = self.querystring.get("qos", ["0"])[0]
        retain = self.querystring.get("retain", ["false"])[0].lower() == "true"
        problem = topic_problem(topic)
        if problem is None and qos_text not in ("0", "1"):
            problem = f"QoS {qos_text} støttes ikke av AWS IoT (bruk 0 eller 1)"
        if problem is not None:
            log.warning("HTTP-publisering avvist: %s.", problem)
            return _aws_error(400, "InvalidRequestException", f"Ugyldig publisering: {problem}.")
        if len(payload) > MAX_PAYLOAD:
            log.warning("HTTP-publisering til %r avvist: meldingen er %d byte, grensen er %d KB.", topic,
                        len(payload), MAX_PAYLOAD // 1024)
            return _aws_error(413, "RequestEntityTooLargeException",
                              f"Meldingen er {len(payload)} byte; AWS IoT tar imot høyst {MAX_PAYLOAD // 1024} KB.")
        plane.publish_threadsafe(topic, payload, qos=int(qos_text), retain=retain)
        return json.dumps({})

    _set(IoTDataPlaneResponse, "publish", publish)


def iot_data_retained(plane: Any) -> None:
    """ListRetainedMessages and GetRetainedMessage over the broker's retained store
    (API reference, https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_ListRetainedMessages.html
    and .../API_iotdata_GetRetainedMessage.html). moto has neither, so they answered HTTP 500."""
    import asyncio
    import base64

    from moto.iotdata.responses import IoTDataPlaneResponse

    def _on_loop(read: Callable[[Any], Any]) -> Any:
        # The broker's store belongs to its event loop; moto answers on its own threads.
        async def _read() -> Any:
            return read(plane.broker)

        return asyncio.run_coroutine_threadsafe(_read(), plane.loop).result(timeout=10)

    def list_retained_messages(self: IoTDataPlaneResponse) -> object:
        try:
            max_results = int(self.querystring.get("maxResults", ["200"])[0])
            start = int(self.querystring.get("nextToken", ["0"])[0] or 0)
        except ValueError:
            return _aws_error(400, "InvalidRequestException", "maxResults og nextToken må være tall fra et "
                              "tidligere svar.")
        if not 1 <= max_results <= 200:
            return _aws_error(400, "InvalidRequestException", "maxResults må være mellom 1 og 200.")
        messages = _on_loop(lambda broker: broker.retained_messages())
        page = messages[start:start + max_results]
        body: dict[str, Any] = {"retainedTopics": [
            {"topic": m.topic, "payloadSize": len(m.payload), "qos": m.qos, "lastModifiedTime": m.last_modified_ms}
            for m in page]}
        if start + max_results < len(messages):
            body["nextToken"] = str(start + max_results)
        return json.dumps(body)

    def get_retained_message(self: IoTDataPlaneResponse) -> object:
        topic = self.path.split("/retainedMessage/", 1)[-1]
        topic = unquote(topic) if "%" in topic else topic
        message = _on_loop(lambda broker: broker.retained_message(topic))
        if message is None:
            return _aws_error(404, "ResourceNotFoundException",
                              f"Det finnes ingen beholdt melding (retained message) på emnet {topic!r}.")
        return json.dumps({"topic": message.topic, "payload": base64.b64encode(message.payload).decode("ascii"),
                           "qos": message.qos, "lastModifiedTime": message.last_modified_ms})

    IoTDataPlaneResponse.list_retained_messages = list_retained_messages  # type: ignore[attr-defined]
    IoTDataPlaneResponse.get_retained_message = get_retained_message  # type: ignore[attr-defined]


def moto_reset(on_reset: Callable[[], None]) -> None:
    """``POST /moto-api/reset`` empties moto; our services' state must go with it."""
    from moto.moto_api._internal.models import MotoAPIBackend

    original = _original(MotoAPIBackend, "reset")

    def reset(self: MotoAPIBackend) -> None:
        original(self)
        on_reset()
        log.info("Den lokale skyen er tømt (alle dingser, sertifikater, regler og skygger er borte).")

    _set(MotoAPIBackend, "reset", reset)


# --- topic rules and Lambda ---------------------------------------------------------------------

def topic_rules(check_sql: Callable[[Any, Any], None], default_version: str) -> None:
    """create/replace_topic_rule check the SQL first (``SqlParseException`` as AWS) and default the
    SQL version to AWS's (moto alone would store ``2016-03-23``)."""
    from moto.core.responses import EmptyResult
    from moto.iot.responses import IoTResponse

    def _rule_args(self: IoTResponse) -> dict[str, Any]:
        sql = self._get_param("sql")
        version = self._get_param("awsIotSqlVersion")
        check_sql(sql, version)
        return {
            "rule_name": self._get_param("ruleName"),
            "description": self._get_param("description"),
            "rule_disabled": self._get_param("ruleDisabled"),
            "actions": self._get_param("actions"),
            "error_action": self._get_param("errorAction"),
            "sql": sql,
            "aws_iot_sql_version": version or default_version,
        }

    def create_topic_rule(self: IoTResponse) -> Any:
        args = _rule_args(self)
        self.iot_backend.create_topic_rule(**args)
        log.info("Regel «%s» er opprettet (%s).", args["rule_name"], args["sql"])
        return EmptyResult()

    def replace_topic_rule(self: IoTResponse) -> Any:
        args = _rule_args(self)
        self.iot_backend.replace_topic_rule(**args)
        log.info("Regel «%s» er erstattet (%s).", args["rule_name"], args["sql"])
        return EmptyResult()

    _set(IoTResponse, "create_topic_rule", create_topic_rule)
    _set(IoTResponse, "replace_topic_rule", replace_topic_rule)


def lambda_invoke(invoke: Callable[[Any, Any, Any, Any], bytes]) -> None:
    """The Invoke API runs the code here: ``invoke(fn, body, request_headers, response_headers)``."""
    from moto.awslambda.models import LambdaFunction

    def run_here(fn: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        return invoke(fn, body, request_headers, response_headers)

    _set(LambdaFunction, "invoke", run_here)


# --- every request ------------------------------------------------------------------------------

def after_each_request(callback: Callable[[str], None]) -> None:
    """Call ``callback(action)`` after every API action moto answers (read-only ones too)."""
    from moto.core.responses import BaseResponse

    original = _original(BaseResponse, "call_action")

    def call_action(self: BaseResponse) -> Any:
        try:
            return original(self)
        finally:
            try:
                action = str(self._get_action() or "")
            except Exception:
                action = ""
            callback(action)

    _set(BaseResponse, "call_action", call_action)
