"""Wires the rules engine into the local cloud process.

- Rules come from moto's in-process IoT backend on every message, so a rule created,
  replaced, disabled or deleted through boto3 acts at once.
- ``republish`` publishes through the data plane (subscribers, shadow and rules see it);
  ``lambda`` runs the deployed function (see :mod:`kurs.sky.awslambda.service`); DynamoDB
  actions use a boto3 client pointed at this process's own moto server.
- ``create_topic_rule`` / ``replace_topic_rule`` check the SQL first and answer
  ``SqlParseException`` (400) like AWS; a rule created without ``awsIotSqlVersion`` gets
  AWS's default ``2015-10-08`` (moto alone would store ``2016-03-23``).
Everything the engine does is logged in Norwegian to the cloud log (``kurs sky logg``).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from kurs.sky.awslambda.service import LambdaService
from kurs.sky.info import ACCOUNT_ID, REGION, SkyInfo
from kurs.sky.rules import ActionRunner, RulesEngine, SqlParseError, parse
from kurs.sky.rules.cloud_functions import LocalExternalServices
from kurs.sky.rules.sql import AWS_DEFAULT_VERSION

log = logging.getLogger(__name__)


_endpoint: str | None = None


def own_endpoint() -> str:
    """This cloud process's moto address (read from the state file it writes when ready)."""
    global _endpoint
    if _endpoint is None:
        info = SkyInfo.load()
        if info is None or info.pid != os.getpid():
            raise RuntimeError("Den lokale skyen er ikke ferdig startet ennå (fant ikke egen HTTP-port).")
        _endpoint = info.endpoint_url
    return _endpoint


class _LazyClient:
    """A boto3 client made on first use: the moto port is known only once the cloud is up."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                import boto3

                from kurs.sky.credentials import load

                credentials = load()  # the front door admits only the cloud's own signature
                self._client = boto3.session.Session().client(
                    self._service, endpoint_url=own_endpoint(), region_name=REGION,
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key)
        return getattr(self._client, name)


def list_rules() -> list[dict[str, Any]]:
    """Every topic rule in moto's IoT backend, as boto3 ``get_topic_rule()['rule']``."""
    from kurs.sky.controlplane import iot_backend

    return [rule.to_get_dict()["rule"] for rule in list(iot_backend().rules.values())]


class LocalRules:
    """What the data plane calls: the engine for each message, plus reset for the instructor."""

    def __init__(self, engine: RulesEngine, lambdas: LambdaService) -> None:
        self.engine = engine
        self.lambdas = lambdas

    def on_message(self, topic: str, payload: bytes, client_id: str, principal_id: str) -> None:
        self.engine.on_message(topic, payload, client_id, principal_id)

    def reset(self) -> None:
        self.lambdas.reset()

    def close(self) -> None:
        self.lambdas.close()


def build(plane: Any) -> LocalRules:
    """The rules engine for this data plane (``plane.publish_threadsafe`` works once attached)."""
    lambdas = LambdaService(own_endpoint)

    def publish(topic: str, payload: bytes, qos: int) -> None:
        plane.publish_threadsafe(topic, payload, qos=qos)

    actions = ActionRunner(publish=publish, invoke_lambda=lambdas.invoke_from_rule,
                           dynamodb=_LazyClient("dynamodb"))
    external = LocalExternalServices(plane.shadow, lambdas, REGION, ACCOUNT_ID)
    engine = RulesEngine(list_rules, actions, log.info, external=external)
    return LocalRules(engine, lambdas)


def check_sql(sql: Any, version: Any) -> None:
    """Raise AWS's error for SQL (or a SQL version) that AWS IoT would refuse."""
    from moto.core.exceptions import JsonRESTError

    try:
        parse(str(sql or ""), str(version or AWS_DEFAULT_VERSION))
    except SqlParseError as exc:
        log.info("En regel ble avvist fordi SQL-en har en feil: %s", exc.message)
        raise JsonRESTError(exc.aws_code, exc.aws_message) from exc


def attach_http(rules: LocalRules) -> None:
    """moto's HTTP side: SQL checks on topic rules, and Lambda Invoke running the code."""
    from kurs.sky import moto_patches

    moto_patches.topic_rules(check_sql, AWS_DEFAULT_VERSION)
    moto_patches.lambda_invoke(rules.lambdas.invoke_api)
