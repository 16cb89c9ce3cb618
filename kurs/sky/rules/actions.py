"""Rule actions the local cloud can carry out: republish, lambda, dynamoDBv2 and dynamoDB.

Each action gets the rule's SELECT output and the original message (for substitution
templates). Its outside world is injected: ``publish(topic, payload, qos)`` for MQTT,
``invoke_lambda(function_arn, event)`` for Lambda, and a boto3 DynamoDB client.
A failure raises :class:`ActionError`, which the engine reports and hands to errorAction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kurs.sky.rules.context import MessageContext
from kurs.sky.rules.sql import DEFAULT_VERSION, SqlParseError
from kurs.sky.rules.templates import substitute

PublishFn = Callable[[str, bytes, int], None]
InvokeLambdaFn = Callable[[str, dict[str, Any]], Any]

# The names AWS uses in an error action's "failures[].failedAction" (it writes "S3Action").
FAILED_ACTION_NAMES = {
    "republish": "RepublishAction",
    "lambda": "LambdaAction",
    "dynamoDBv2": "DynamoDBv2Action",
    "dynamoDB": "DynamoAction",
}


@dataclass(frozen=True)
class Message:
    """The message that triggered a rule, as actions see it."""

    payload: bytes
    ctx: MessageContext
    rule_name: str
    version: str = DEFAULT_VERSION
    variables: dict[str, Any] = field(default_factory=dict)  # the SET clause's, for ${@name}


class ActionError(Exception):
    """An action that did not happen. ``error_message`` is Norwegian (learners read it)."""

    def __init__(self, failed_action: str, failed_resource: str, error_message: str) -> None:
        self.failed_action = failed_action
        self.failed_resource = failed_resource
        self.error_message = error_message
        super().__init__(error_message)

    def as_failure(self) -> dict[str, str]:
        """This failure in the shape of AWS's error action message."""
        return {
            "failedAction": self.failed_action,
            "failedResource": self.failed_resource,
            "errorMessage": self.error_message,
        }


def encode_output(output: Any) -> bytes:
    """The bytes an action sends: raw bytes as they are, anything else as compact JSON."""
    if isinstance(output, bytes):
        return output
    return json.dumps(output, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _to_dynamo_value(value: Any) -> Any:
    """Plain JSON values as boto3's TypeSerializer wants them (it refuses float)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo_value(v) for v in value]
    return value


def to_attribute_value(value: Any) -> dict[str, Any]:
    """One value in DynamoDB's wire format, e.g. ``{"N": "21.5"}`` or ``{"M": {...}}``."""
    from boto3.dynamodb.types import TypeSerializer  # boto3 is heavy; only DynamoDB needs it

    return TypeSerializer().serialize(_to_dynamo_value(value))


def _client_error_text(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = response["Error"].get("Code", "")
        message = response["Error"].get("Message", "")
        return f"{code}: {message}" if code else message
    return f"{type(exc).__name__}: {exc}"


class ActionRunner:
    """Runs rule actions with injected connections to the rest of the local cloud."""

    def __init__(
        self,
        *,
        publish: PublishFn | None = None,
        invoke_lambda: InvokeLambdaFn | None = None,
        dynamodb: Any = None,
    ) -> None:
        self._publish = publish
        self._invoke_lambda = invoke_lambda
        self._dynamodb = dynamodb
        self._key_types: dict[tuple[str, str], str] = {}

    def run(self, action: dict[str, Any], output: Any, message: Message) -> str:
        """Carry out one action; return what was done (Norwegian, for the log).

        Raises :class:`ActionError` when the action fails or cannot run here.
        """
        if not isinstance(action, dict) or len(action) != 1:
            raise ActionError(
                "UnknownAction", "", "Handlingen må ha nøyaktig én type, f.eks. {'republish': {...}}."
            )
        kind, params = next(iter(action.items()))
        name = FAILED_ACTION_NAMES.get(kind, f"{kind[:1].upper()}{kind[1:]}Action")
        handler = {
            "republish": self._republish,
            "lambda": self._lambda,
            "dynamoDBv2": self._dynamodb_v2,
            "dynamoDB": self._dynamodb_v1,
        }.get(kind)
        if handler is None:
            raise ActionError(
                name, "", f"Handlingen «{kind}» finnes i AWS IoT, men den lokale skyen kan ikke utføre den."
            )
        params = params if isinstance(params, dict) else {}
        try:
            return handler(name, params, output, message)
        except ActionError:
            raise
        except SqlParseError as exc:
            raise ActionError(name, "", f"Feil i en ${{…}}-mal i handlingen: {exc.message}") from exc
        except Exception as exc:  # a bug or an unexpected reply must not stop the engine
            raise ActionError(name, "", _client_error_text(exc)) from exc

    def _fill(self, template: Any, message: Message) -> str:
        return substitute(str(template), message.payload, message.ctx, message.version, message.variables)

    @staticmethod
    def _require(name: str, params: dict[str, Any], key: str, resource: str = "") -> Any:
        value = params.get(key)
        if value in (None, ""):
            raise ActionError(name, resource, f"Handlingen mangler parameteren «{key}».")
        return value

    # --- republish ------------------------------------------------------------------------

    def _republish(self, name: str, params: dict[str, Any], output: Any, message: Message) -> str:
        template = self._require(name, params, "topic")
        topic = self._fill(template, message)
        if topic.startswith("$$"):  # "$$aws/..." is how a rule names a reserved "$aws/..." topic
            topic = topic[1:]
        if not topic or "+" in topic or "#" in topic:
            raise ActionError(
                name, topic, f"Republiseringsemnet «{topic}» er ikke et gyldig emne (tomt eller med + / #)."
            )
        qos = params.get("qos", 0)
        if qos not in (0, 1):
            raise ActionError(name, topic, f"QoS {qos!r} er ikke tillatt for republish; bruk 0 eller 1.")
        if self._publish is None:
            raise ActionError(name, topic, "Republish er ikke koblet til meglere i denne regelmotoren.")
        try:
            self._publish(topic, encode_output(output), int(qos))
        except Exception as exc:
            raise ActionError(name, topic, f"Kunne ikke republisere: {_client_error_text(exc)}") from exc
        return f"republiserte til «{topic}» (QoS {qos})"

    # --- lambda ---------------------------------------------------------------------------

    def _lambda(self, name: str, params: dict[str, Any], output: Any, message: Message) -> str:
        arn = self._fill(self._require(name, params, "functionArn"), message)
        if isinstance(output, bytes):
            raise ActionError(
                name,
                arn,
                "Lambda tar bare imot JSON, men regelen sendte rå binærdata. "
                "Bruk for eksempel SELECT encode(*, 'base64') AS data FROM '…'.",
            )
        if self._invoke_lambda is None:
            raise ActionError(name, arn, "Lambda er ikke koblet til i denne regelmotoren.")
        try:
            self._invoke_lambda(arn, output)
        except Exception as exc:
            raise ActionError(
                name, arn, f"Kunne ikke kalle Lambda-funksjonen: {_client_error_text(exc)}"
            ) from exc
        return f"kalte Lambda-funksjonen «{arn.rsplit(':function:', 1)[-1]}»"

    # --- DynamoDB -------------------------------------------------------------------------

    def _client(self, name: str, table: str) -> Any:
        if self._dynamodb is None:
            raise ActionError(name, table, "DynamoDB er ikke koblet til i denne regelmotoren.")
        return self._dynamodb

    def _dynamodb_v2(self, name: str, params: dict[str, Any], output: Any, message: Message) -> str:
        put_item = params.get("putItem") if isinstance(params.get("putItem"), dict) else {}
        table = self._fill(self._require(name, put_item, "tableName"), message)
        client = self._client(name, table)
        if not isinstance(output, dict):
            raise ActionError(
                name,
                table,
                "dynamoDBv2 skriver hvert felt i et JSON-objekt som en kolonne, men regelen ga ikke et JSON-objekt.",
            )
        item = {key: to_attribute_value(value) for key, value in output.items()}
        try:
            client.put_item(TableName=table, Item=item)
        except Exception as exc:
            raise ActionError(name, table, _dynamo_error(table, exc)) from exc
        return f"skrev en rad i DynamoDB-tabellen «{table}»"

    def _key_type(self, client: Any, table: str, field: str, given: Any) -> str:
        if given:
            return "N" if str(given).upper() == "NUMBER" else "S"
        # hashKeyType/rangeKeyType are optional: take the type from the table, as the console does.
        if (table, field) not in self._key_types:
            kind = "S"
            try:
                described = client.describe_table(TableName=table)["Table"]
                for attribute in described.get("AttributeDefinitions", []):
                    if attribute.get("AttributeName") == field:
                        kind = attribute.get("AttributeType", "S")
            except Exception:  # the write below reports a missing table in plain words
                return "S"
            self._key_types[(table, field)] = kind
        return self._key_types[(table, field)]

    def _dynamodb_v1(self, name: str, params: dict[str, Any], output: Any, message: Message) -> str:
        table = self._fill(self._require(name, params, "tableName"), message)
        client = self._client(name, table)
        key: dict[str, Any] = {}
        for prefix in ("hashKey", "rangeKey"):
            field = params.get(f"{prefix}Field")
            if not field:
                if prefix == "hashKey":
                    self._require(name, params, "hashKeyField", table)
                continue
            field = self._fill(field, message)
            value = self._fill(self._require(name, params, f"{prefix}Value", table), message)
            key[field] = {self._key_type(client, table, field, params.get(f"{prefix}Type")): value}
        column = self._fill(params.get("payloadField") or "payload", message)
        operation = self._fill(params.get("operation") or "INSERT", message).upper()
        # The payload column holds the SELECT output; non-JSON data is written as binary.
        value = {"B": output} if isinstance(output, bytes) else to_attribute_value(output)
        try:
            if operation == "DELETE":
                client.delete_item(TableName=table, Key=key)
            elif operation == "UPDATE":
                client.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET #p = :p",
                    ExpressionAttributeNames={"#p": column},
                    ExpressionAttributeValues={":p": value},
                )
            elif operation == "INSERT":
                client.put_item(TableName=table, Item={**key, column: value})
            else:
                raise ActionError(
                    name, table, f"Ukjent operation «{operation}»; bruk INSERT, UPDATE eller DELETE."
                )
        except ActionError:
            raise
        except Exception as exc:
            raise ActionError(name, table, _dynamo_error(table, exc)) from exc
        return f"{'slettet' if operation == 'DELETE' else 'skrev'} en rad i DynamoDB-tabellen «{table}»"


def _dynamo_error(table: str, exc: Exception) -> str:
    text = _client_error_text(exc)
    if "ResourceNotFoundException" in text:
        return f"DynamoDB-tabellen «{table}» finnes ikke ({text})."
    if "ValidationException" in text:
        return f"DynamoDB godtok ikke raden; mangler meldingen tabellens nøkkelfelt? ({text})"
    return f"DynamoDB-skriving feilet: {text}"
