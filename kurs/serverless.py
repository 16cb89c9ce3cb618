"""The course's serverless wiring: button presses → rule → Lambda → the LED board's shadow,
and every press stored in DynamoDB. The same calls run against the local cloud and real AWS.

    summary = kurs.serverless.deploy_button_to_light("esp32_KNAPP1", "esp32_LYS001")
    print(summary)
    rows = kurs.serverless.presses()          # [{"thing", "ts", "time", "on", "btnCount", ...}]
    kurs.serverless.remove_button_to_light()   # cleans it all up again

What gets created (names follow :mod:`kurs.naming`, so ``kurs rydd`` recognises them):
- the Lambda function from ``serverless/lys_folger_knapp/`` (zipped here), with the IAM role
  ``kurs-lambda-rolle``: trusted by lambda.amazonaws.com, allowed only to read and update
  the LED board's shadow and to write its own log;
- the IAM role ``kurs-iot-regel-rolle`` that AWS IoT assumes to write to the table and to
  publish rule errors (least privilege again);
- a permission on the function for iot.amazonaws.com, limited to the rule (AWS requires it);
- the DynamoDB table (partition key ``thing``, sort key ``ts`` in epoch milliseconds, so one
  board's presses come back in time order);
- two topic rules on the button board's messages: one to the Lambda function, one to the table,
  both with an errorAction that republishes failures on ``kurs/feil``.
Deploying again updates everything in place.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from kurs import naming
from kurs.errors import CourseError
from kurs.paths import REPO_DIR

FUNCTION_SOURCE = REPO_DIR / "serverless" / "lys_folger_knapp"
HANDLER = "handler.lambda_handler"
RUNTIME = "python3.12"
FUNCTION_TIMEOUT_S = 10
FUNCTION = naming.function_name("lys-folger-knapp")
LAMBDA_RULE = naming.rule_name("knapp_til_lys")
STORE_RULE = naming.rule_name("lagre_knappetrykk")
DEFAULT_TABLE = naming.table_name("knappetrykk")
LAMBDA_ROLE = "kurs-lambda-rolle"
RULE_ROLE = "kurs-iot-regel-rolle"
PERMISSION_ID = "kurs-iot-regel"
# The knapp firmware (Oppgave 1) publishes its whole state on "state"; the start app uses
# "devices/<thing>/events". The rules pick the button board's messages by its client id.
KNAPP_TOPIC = "state"
ERROR_TOPIC = "kurs/feil"
SQL_VERSION = "2016-03-23"
ROLE_WAIT_S = 60  # a new IAM role takes some seconds before Lambda and IoT may assume it

_THING = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
_TOPIC = re.compile(r"^[^'#+]{1,256}$")


# --- packaging ----------------------------------------------------------------------------------

def package(folder: Path = FUNCTION_SOURCE) -> bytes:
    """The function's deployment zip: the folder's files at the zip's root.

    Byte-for-byte the same for the same source (fixed timestamps and order), so redeploying
    unchanged code changes nothing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CourseError(f"Finner ikke Lambda-koden i {folder}.", "Sjekk at mappa serverless/ er med i kurset.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


# --- the summary ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deployment:
    """What deploy_button_to_light set up."""

    knapp_thing: str
    lys_thing: str
    topic: str
    function_name: str
    function_arn: str
    lambda_rule: str
    store_rule: str
    table: str
    error_topic: str
    lambda_role_arn: str
    rule_role_arn: str

    def __str__(self) -> str:
        return "\n".join([
            f"Knapp → lys er satt opp for {self.knapp_thing} → {self.lys_thing}:",
            f"  • Regel {self.lambda_rule}: meldinger på «{self.topic}» fra {self.knapp_thing} → "
            f"Lambda-funksjonen {self.function_name} → skyggen til {self.lys_thing} (desired.on)",
            f"  • Regel {self.store_rule}: hvert trykk → DynamoDB-tabellen {self.table}",
            f"  • Feil i reglenes handlinger publiseres på «{self.error_topic}».",
            f"  • IAM-roller: {self.lambda_role_arn.rsplit('/', 1)[-1]} (Lambda) og "
            f"{self.rule_role_arn.rsplit('/', 1)[-1]} (IoT-reglene)",
        ])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the Norwegian summary
        printer.text(str(self))


# --- helpers --------------------------------------------------------------------------------------

def _clients() -> dict[str, Any]:
    from kurs import aws_mode

    return {name: aws_mode.client(name) for name in ("iam", "iot", "lambda", "dynamodb")}


def _friendly() -> Any:
    from kurs import aws_mode

    return aws_mode.friendly_errors()


def _code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _check_thing(name: str, role: str) -> str:
    if not isinstance(name, str) or not _THING.match(name):
        raise CourseError(f"«{name}» kan ikke være navnet på {role}.",
                          "Bruk tingnavnet (thing name), f.eks. esp32_F7F2AD: bokstaver, sifre, _ - og :.")
    return name


def _trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def _ensure_role(iam: Any, name: str, service: str, description: str) -> str:
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(service), Description=description,
                           Tags=[{"Key": naming.THING_ATTRIBUTE, "Value": naming.THING_ATTRIBUTE_VALUE}]
                           )["Role"]["Arn"]


def _arn_parts(role_arn: str) -> tuple[str, str]:
    """(partition, account) of an IAM ARN like arn:aws:iam::123456789012:role/x."""
    parts = role_arn.split(":")
    return parts[1], parts[4]


def _lambda_policy(partition: str, region: str, account: str, lys_thing: str) -> str:
    logs = f"arn:{partition}:logs:{region}:{account}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "LysSkygge", "Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:UpdateThingShadow"],
         "Resource": f"arn:{partition}:iot:{region}:{account}:thing/{lys_thing}"},
        {"Sid": "Logggruppe", "Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": f"{logs}:*"},
        {"Sid": "Logg", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"{logs}:log-group:/aws/lambda/{FUNCTION}:*"},
    ]})


def _rule_policy(partition: str, region: str, account: str, table: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "LagreTrykk", "Effect": "Allow", "Action": "dynamodb:PutItem",
         "Resource": f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"},
        {"Sid": "PubliserFeil", "Effect": "Allow", "Action": "iot:Publish",
         "Resource": f"arn:{partition}:iot:{region}:{account}:topic/{ERROR_TOPIC}"},
    ]})


def _while_role_propagates(call: Any, **kwargs: Any) -> Any:
    """Call, retrying while AWS says a just-created role cannot be assumed yet (IAM is eventually consistent)."""
    deadline = time.monotonic() + ROLE_WAIT_S
    told = False
    while True:
        try:
            return call(**kwargs)
        except Exception as exc:
            message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")).lower()
            waiting = _code(exc) in ("InvalidParameterValueException", "InvalidRequestException") and (
                "role" in message or "assume" in message)
            if not waiting or time.monotonic() > deadline:
                raise
            if not told:
                print("Venter på at den nye IAM-rollen blir klar (det tar noen sekunder i AWS) …")
                told = True
            time.sleep(2)


def _ensure_table(dynamodb: Any, table: str) -> None:
    try:
        described = dynamodb.describe_table(TableName=table)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "thing", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "thing", "AttributeType": "S"},
                                  {"AttributeName": "ts", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": naming.THING_ATTRIBUTE, "Value": naming.THING_ATTRIBUTE_VALUE}],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 60})
        return
    keys = {k["AttributeName"]: k["KeyType"] for k in described.get("KeySchema", [])}
    if keys != {"thing": "HASH", "ts": "RANGE"}:
        raise CourseError(f"Tabellen {table} finnes allerede, men med andre nøkler ({keys}).",
                          "Velg et annet tabellnavn med table=…, eller slett den gamle tabellen.")


def _deploy_function(lam: Any, role_arn: str, environment: dict[str, str]) -> str:
    code = package()
    config = {"Role": role_arn, "Handler": HANDLER, "Runtime": RUNTIME, "Timeout": FUNCTION_TIMEOUT_S,
              "MemorySize": 128, "Environment": {"Variables": environment},
              "Description": "Kurs: LED-kortet følger knappekortet (via skyggen)"}
    wait = {"FunctionName": FUNCTION, "WaiterConfig": {"Delay": 1, "MaxAttempts": 120}}
    try:
        lam.get_function(FunctionName=FUNCTION)
    except lam.exceptions.ResourceNotFoundException:
        arn = _while_role_propagates(lam.create_function, FunctionName=FUNCTION, Code={"ZipFile": code},
                                     Tags={naming.THING_ATTRIBUTE: naming.THING_ATTRIBUTE_VALUE}, **config)["FunctionArn"]
        lam.get_waiter("function_active_v2").wait(**wait)
        return arn
    lam.update_function_code(FunctionName=FUNCTION, ZipFile=code)
    lam.get_waiter("function_updated_v2").wait(**wait)
    arn = _while_role_propagates(lam.update_function_configuration, FunctionName=FUNCTION, **config)["FunctionArn"]
    lam.get_waiter("function_updated_v2").wait(**wait)
    return arn


def _allow_iot(lam: Any, rule_arn: str, account: str) -> None:
    try:  # replace, so a changed rule ARN is picked up
        lam.remove_permission(FunctionName=FUNCTION, StatementId=PERMISSION_ID)
    except lam.exceptions.ResourceNotFoundException:
        pass
    lam.add_permission(FunctionName=FUNCTION, StatementId=PERMISSION_ID, Action="lambda:InvokeFunction",
                       Principal="iot.amazonaws.com", SourceArn=rule_arn, SourceAccount=account)


def _rule_names(iot: Any) -> set[str]:
    names: set[str] = set()
    for page in iot.get_paginator("list_topic_rules").paginate():
        names.update(rule["ruleName"] for rule in page.get("rules", []))
    return names


def _put_rule(iot: Any, existing: set[str], name: str, payload: dict[str, Any]) -> None:
    call = iot.replace_topic_rule if name in existing else iot.create_topic_rule
    _while_role_propagates(call, ruleName=name, topicRulePayload=payload)


# --- public ---------------------------------------------------------------------------------------

def deploy_button_to_light(knapp_thing: str, lys_thing: str, *, table: str = DEFAULT_TABLE,
                           topic: str = KNAPP_TOPIC) -> Deployment:
    """Set up (or update) button → rule → Lambda → LED shadow, and presses → DynamoDB.

    ``topic`` is where the button board publishes (``state`` in Oppgave 1; the start app uses
    ``devices/<thing>/events``). Idempotent: running it again updates everything in place.
    """
    from kurs import config

    knapp_thing = _check_thing(knapp_thing, "knappekortet")
    lys_thing = _check_thing(lys_thing, "LED-kortet")
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise CourseError(f"«{topic}» kan ikke brukes som emne for knappetrykkene.",
                          "Bruk emnet knappekortet publiserer på, f.eks. «state» (uten ', + og #).")
    table = naming.table_name(table)
    clients = _clients()
    iam, iot, lam, dynamodb = clients["iam"], clients["iot"], clients["lambda"], clients["dynamodb"]
    region = iot.meta.region_name
    with _friendly():
        lambda_role = _ensure_role(iam, LAMBDA_ROLE, "lambda.amazonaws.com",
                                   "Kurs: Lambda-funksjonen som setter LED-kortets skygge")
        partition, account = _arn_parts(lambda_role)
        iam.put_role_policy(RoleName=LAMBDA_ROLE, PolicyName=FUNCTION,
                            PolicyDocument=_lambda_policy(partition, region, account, lys_thing))
        rule_role = _ensure_role(iam, RULE_ROLE, "iot.amazonaws.com",
                                 "Kurs: IoT-reglene skriver knappetrykk til DynamoDB og publiserer feil")
        iam.put_role_policy(RoleName=RULE_ROLE, PolicyName="kurs-iot-regler",
                            PolicyDocument=_rule_policy(partition, region, account, table))
        _ensure_table(dynamodb, table)

        environment = {"LYS_THING": lys_thing}
        if config.load().mode == "aws":  # iot-data must be called at the account's own endpoint
            environment["IOT_DATA_ENDPOINT"] = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        function_arn = _deploy_function(lam, lambda_role, environment)
        _allow_iot(lam, f"arn:{partition}:iot:{region}:{account}:rule/{LAMBDA_RULE}", account)

        where = f"FROM '{topic}' WHERE clientid() = '{knapp_thing}'"
        error_action = {"republish": {"topic": ERROR_TOPIC, "roleArn": rule_role, "qos": 0}}
        existing = _rule_names(iot)
        _put_rule(iot, existing, LAMBDA_RULE, {
            "sql": f"SELECT * {where}", "awsIotSqlVersion": SQL_VERSION, "ruleDisabled": False,
            "description": f"Kurs: knappetrykk fra {knapp_thing} styrer LED-en på {lys_thing} via Lambda",
            "actions": [{"lambda": {"functionArn": function_arn}}], "errorAction": error_action})
        _put_rule(iot, existing, STORE_RULE, {
            "sql": f"SELECT *, clientid() AS thing, timestamp() AS ts {where}", "awsIotSqlVersion": SQL_VERSION,
            "ruleDisabled": False, "description": f"Kurs: lagrer hvert knappetrykk fra {knapp_thing} i {table}",
            "actions": [{"dynamoDBv2": {"roleArn": rule_role, "putItem": {"tableName": table}}}],
            "errorAction": error_action})
    return Deployment(knapp_thing=knapp_thing, lys_thing=lys_thing, topic=topic, function_name=FUNCTION,
                      function_arn=function_arn, lambda_rule=LAMBDA_RULE, store_rule=STORE_RULE, table=table,
                      error_topic=ERROR_TOPIC, lambda_role_arn=lambda_role, rule_role_arn=rule_role)


def remove_button_to_light(*, table: str = DEFAULT_TABLE, keep_table: bool = False) -> list[str]:
    """Remove what deploy_button_to_light created; returns what was removed (Norwegian). Idempotent."""
    table = naming.table_name(table)
    clients = _clients()
    iam, iot, lam, dynamodb = clients["iam"], clients["iot"], clients["lambda"], clients["dynamodb"]
    removed: list[str] = []
    with _friendly():
        existing = _rule_names(iot)
        for rule in (LAMBDA_RULE, STORE_RULE):
            if rule in existing:
                iot.delete_topic_rule(ruleName=rule)
                removed.append(f"regelen {rule}")
        try:
            lam.delete_function(FunctionName=FUNCTION)
            removed.append(f"Lambda-funksjonen {FUNCTION}")
        except lam.exceptions.ResourceNotFoundException:
            pass
        for role, policy in ((LAMBDA_ROLE, FUNCTION), (RULE_ROLE, "kurs-iot-regler")):
            try:
                iam.delete_role_policy(RoleName=role, PolicyName=policy)
            except iam.exceptions.NoSuchEntityException:
                pass
            try:
                iam.delete_role(RoleName=role)
                removed.append(f"IAM-rollen {role}")
            except iam.exceptions.NoSuchEntityException:
                pass
        if not keep_table:
            try:
                dynamodb.delete_table(TableName=table)
                removed.append(f"DynamoDB-tabellen {table}")
            except dynamodb.exceptions.ResourceNotFoundException:
                pass
    return removed


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def presses(table: str = DEFAULT_TABLE, *, thing: str | None = None) -> list[dict[str, Any]]:
    """Every stored press (one board's with ``thing=``), oldest first.

    Each row is what the rule stored (``thing``, ``ts`` in epoch ms, and the board's own
    fields such as ``on`` and ``btnCount``) plus ``time``: ``ts`` as a local datetime.
    """
    from boto3.dynamodb.types import TypeDeserializer

    from kurs import aws_mode

    table = naming.table_name(table)
    dynamodb = aws_mode.client("dynamodb")
    deserialize = TypeDeserializer().deserialize
    if thing is None:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    else:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="thing = :t",
            ExpressionAttributeValues={":t": {"S": _check_thing(thing, "knappekortet")}})
    rows: list[dict[str, Any]] = []
    with _friendly():
        try:
            for page in pages:
                rows.extend(_plain({k: deserialize(v) for k, v in item.items()}) for item in page.get("Items", []))
        except dynamodb.exceptions.ResourceNotFoundException as exc:
            raise CourseError(f"DynamoDB-tabellen {table} finnes ikke.",
                              "Kjør kurs.serverless.deploy_button_to_light(...) først, og trykk på knappen.") from exc
    for row in rows:
        if isinstance(row.get("ts"), int | float):
            row["time"] = datetime.fromtimestamp(row["ts"] / 1000).astimezone()
    rows.sort(key=lambda row: (row.get("ts", 0), str(row.get("thing", ""))))
    return rows
