"""Topic rules in the running local cloud: created through boto3, they route real MQTT messages
to republish, Lambda (the deployed zip really runs) and DynamoDB, as AWS IoT would."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from kurs import mqtt

pytestmark = pytest.mark.integration

SENTINEL_IN, SENTINEL_OUT = "vakt/inn", "vakt/ut"
RULE_ROLE = "arn:aws:iam::123456789012:role/test-regel-rolle"  # boto3 requires one; the local cloud ignores it

LAMBDA_CODE = '''
import json

import boto3


def lambda_handler(event, context):
    print("fikk", json.dumps(event, sort_keys=True))
    if event.get("feil"):
        raise ValueError("ugyldig trykk " + str(event.get("n")))
    boto3.client("iot-data").publish(topic=event.get("svar", "lambdatest/ut"), qos=1,
                                     payload=json.dumps({"event": event, "fra": context.function_name}))
    return {"dobbelt": event.get("n", 0) * 2}
'''


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def republish(topic: str, qos: int = 0) -> dict[str, Any]:
    return {"republish": {"topic": topic, "roleArn": RULE_ROLE, "qos": qos}}


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def rules(iot) -> Iterator[Callable[..., str]]:  # noqa: ANN001 - fixture
    """Create topic rules through boto3; every one is deleted after the test."""
    made: list[str] = []

    def create(sql: str, actions: list[dict[str, Any]], *, error_action: dict[str, Any] | None = None,
               name: str | None = None, version: str = "2016-03-23") -> str:
        name = name or _unique("test_regel_")
        payload: dict[str, Any] = {"sql": sql, "actions": actions, "awsIotSqlVersion": version}
        if error_action:
            payload["errorAction"] = error_action
        iot.create_topic_rule(ruleName=name, topicRulePayload=payload)
        made.append(name)
        return name

    yield create
    for name in made:
        try:
            iot.delete_topic_rule(ruleName=name)
        except ClientError:
            pass


@pytest.fixture
def publisher(sky) -> Iterator[Callable[..., None]]:  # noqa: ANN001 - fixture
    """One MQTT connection for a test's publishes, so the cloud sees them in the order sent."""
    client = mqtt.connect(_unique("test-sender-"))

    def send(topic: str, payload: Any) -> None:
        data = json.dumps(payload) if isinstance(payload, dict | list) else payload
        client.publish(topic, data, qos=1).wait_for_publish(timeout=5)

    yield send
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def sentinel(rules, publisher) -> Callable[[mqtt.Monitor], None]:  # noqa: ANN001 - fixture
    """``settle(monitor)``: returns once the rules engine has handled everything sent before.

    Rules run one message at a time in arrival order, so when the sentinel rule's output for a
    later message arrives, a message sent earlier has had every chance to be routed.
    The monitor must subscribe to SENTINEL_OUT too.
    """
    rules(f"SELECT token FROM '{SENTINEL_IN}'", [republish(SENTINEL_OUT)])

    def settle(monitor: mqtt.Monitor) -> None:
        token = uuid.uuid4().hex
        publisher(SENTINEL_IN, {"token": token})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = monitor.wait(timeout=deadline - time.monotonic(), topic=SENTINEL_OUT)
            if message.json().get("token") == token:
                return
        raise AssertionError("the sentinel rule never answered")

    return settle


def _on(monitor: mqtt.Monitor, topic: str) -> list[mqtt.Message]:
    return [m for m in monitor.messages if m.topic == topic]


@pytest.fixture
def lambda_role(sky) -> str:  # noqa: ANN001 - fixture
    iam = boto3.client("iam")
    try:
        return iam.get_role(RoleName="test-lambda-rolle")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"Service": "lambda.amazonaws.com"}}]}
        return iam.create_role(RoleName="test-lambda-rolle", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


@pytest.fixture
def function(lambda_role) -> Iterator[Callable[..., str]]:  # noqa: ANN001 - fixture
    """Deploy LAMBDA_CODE through boto3 create_function; returns its ARN. Deleted afterwards."""
    lam = boto3.client("lambda")
    made: list[str] = []

    def deploy(*, allow_iot: bool = True) -> str:
        name = _unique("test-funksjon-")
        arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=lambda_role,
                                  Handler="lambda_function.lambda_handler", Timeout=15,
                                  Code={"ZipFile": _zip({"lambda_function.py": LAMBDA_CODE})})["FunctionArn"]
        made.append(name)
        if allow_iot:
            lam.add_permission(FunctionName=name, StatementId="iot", Action="lambda:InvokeFunction",
                               Principal="iot.amazonaws.com")
        return arn

    yield deploy
    for name in made:
        try:
            lam.delete_function(FunctionName=name)
        except ClientError:
            pass


def _wait_for_log(sky, text: str, timeout: float = 20) -> str:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = Path(sky.log_file).read_text(encoding="utf-8", errors="replace")
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the cloud log")


# --- rules come and go through boto3 -------------------------------------------------------------

def test_rule_routes_at_once_stops_when_disabled_and_is_gone_when_deleted(iot, rules, publisher, sentinel):
    topic_in, topic_out = _unique("regel/inn/"), _unique("regel/ut/")
    with mqtt.Monitor([topic_out, SENTINEL_OUT]) as mon:
        name = rules(f"SELECT * FROM '{topic_in}'", [republish(topic_out)])
        publisher(topic_in, {"n": 1})
        assert mon.wait(topic=topic_out).json() == {"n": 1}

        iot.disable_topic_rule(ruleName=name)
        publisher(topic_in, {"n": 2})
        sentinel(mon)
        assert [m.json() for m in _on(mon, topic_out)] == [{"n": 1}]

        iot.enable_topic_rule(ruleName=name)
        publisher(topic_in, {"n": 3})
        assert mon.wait(topic=topic_out).json() == {"n": 3}

        iot.delete_topic_rule(ruleName=name)
        publisher(topic_in, {"n": 4})
        sentinel(mon)
    assert [m.json() for m in _on(mon, topic_out)] == [{"n": 1}, {"n": 3}]


def test_replaced_rule_takes_effect_without_restart(iot, rules, publisher):
    topic_in = _unique("erstatt/")
    with mqtt.Monitor(f"{topic_in}/#") as mon:
        name = rules(f"SELECT n FROM '{topic_in}/inn'", [republish(f"{topic_in}/gammel")])
        publisher(f"{topic_in}/inn", {"n": 1})
        assert mon.wait(topic=f"{topic_in}/gammel").json() == {"n": 1}
        iot.replace_topic_rule(ruleName=name, topicRulePayload={
            "sql": f"SELECT n * 10 AS ti FROM '{topic_in}/inn'", "awsIotSqlVersion": "2016-03-23",
            "actions": [republish(f"{topic_in}/ny")]})
        publisher(f"{topic_in}/inn", {"n": 2})
        assert mon.wait(topic=f"{topic_in}/ny").json() == {"ti": 20}


# --- republish ---------------------------------------------------------------------------------------

def test_republish_selects_filters_and_fills_templates_from_an_mqtt_publish(rules, sentinel):
    house = _unique("hus")
    rules(f"SELECT temp, clientid() AS klient, topic(2) AS rom FROM '{house}/+/temp' WHERE temp > 20",
          [republish(f"varsel/{house}/${{topic(2)}}", qos=1)])
    with mqtt.Monitor([f"varsel/{house}/#", SENTINEL_OUT]) as mon:
        mqtt.publish(f"{house}/stue/temp", {"temp": 25.5, "fukt": 40}, client_id="sensor-stue")
        first = mon.wait(topic=f"varsel/{house}/stue")
        mqtt.publish(f"{house}/kjokken/temp", {"temp": 18}, client_id="sensor-kjokken")  # WHERE is false
        sentinel(mon)
    assert first.json() == {"temp": 25.5, "klient": "sensor-stue", "rom": "stue"}
    assert [m.topic for m in mon.messages if m.topic.startswith("varsel/")] == [f"varsel/{house}/stue"]


def test_republish_to_a_reserved_shadow_topic_updates_the_shadow(rules, publisher, iot_data):
    thing = _unique("regel-skygge-")
    # "$$aws/..." in a republish action means the reserved topic "$aws/...".
    rules(f"SELECT state FROM 'bryter/{thing}'",
          [republish("$$aws/things/" + thing + "/shadow/update")])
    with mqtt.Monitor(f"$aws/things/{thing}/shadow/update/delta") as mon:
        publisher(f"bryter/{thing}", {"state": {"desired": {"on": True}}, "annet": 1})
        assert mon.wait(timeout=10).json()["state"] == {"on": True}
    shadow = json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())
    assert shadow["state"]["desired"] == {"on": True}


# --- Lambda -------------------------------------------------------------------------------------------

def test_lambda_action_runs_the_deployed_zip_with_the_selected_event(rules, function, publisher):
    arn = function()
    topic_in, reply = _unique("lambda/inn/"), _unique("lambda/svar/")
    rules(f"SELECT n, '{reply}' AS svar, clientid() AS klient FROM '{topic_in}'", [{"lambda": {"functionArn": arn}}])
    with mqtt.Monitor(reply) as mon:
        publisher(topic_in, {"n": 21, "ekstra": "ikke valgt"})
        got = mon.wait(timeout=20).json()
    assert got["fra"] == arn.rsplit(":", 1)[-1]
    assert got["event"]["n"] == 21 and got["event"]["svar"] == reply
    assert got["event"]["klient"].startswith("test-sender-")
    assert "ekstra" not in got["event"]


def test_lambda_output_goes_to_cloudwatch_logs(sky, rules, function, publisher):
    arn = function()
    name = arn.rsplit(":", 1)[-1]
    topic_in, reply = _unique("lambda/inn/"), _unique("lambda/svar/")
    rules(f"SELECT n, '{reply}' AS svar FROM '{topic_in}'", [{"lambda": {"functionArn": arn}}])
    with mqtt.Monitor(reply) as mon:
        publisher(topic_in, {"n": 7})
        mon.wait(timeout=20)
    logs = boto3.client("logs")
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline and not any(m.startswith("REPORT") for m in messages):
        try:
            messages = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
        except ClientError:
            pass
        time.sleep(0.1)
    assert any('fikk {"n": 7' in m for m in messages)
    assert any(m.startswith("REPORT RequestId:") for m in messages)
    _wait_for_log(sky, f"Lambda «{name}» kjørte ferdig")


def test_raising_lambda_is_logged_not_sent_to_error_action_and_next_message_still_runs(
        sky, rules, function, publisher, sentinel):
    # AWS IoT invokes Lambda asynchronously: an error inside the handler happens after the
    # rule's action succeeded, so it is in the function's log, not in the error action.
    arn = function()
    name = arn.rsplit(":", 1)[-1]
    topic_in, reply, errors = _unique("lambda/inn/"), _unique("lambda/svar/"), _unique("regelfeil/")
    rules(f"SELECT *, '{reply}' AS svar FROM '{topic_in}'", [{"lambda": {"functionArn": arn}}],
          error_action=republish(errors))
    with mqtt.Monitor([reply, errors, SENTINEL_OUT]) as mon:
        publisher(topic_in, {"n": 1, "feil": True})
        publisher(topic_in, {"n": 2})
        assert mon.wait(topic=reply, timeout=20).json()["event"]["n"] == 2
        log = _wait_for_log(sky, f"Lambda «{name}» feilet: ValueError: ugyldig trykk 1")
        sentinel(mon)
    assert _on(mon, errors) == []
    assert "går ikke til regelens errorAction" in log


def test_error_action_gets_aws_error_document_when_lambda_cannot_be_invoked(iot, rules, publisher, sentinel):
    missing = "arn:aws:lambda:eu-west-1:123456789012:function:finnes-ikke"
    topic_in, ok_topic, errors = _unique("feiltest/inn/"), _unique("feiltest/ok/"), _unique("feiltest/feil/")
    name = rules(f"SELECT * FROM '{topic_in}'",
                 [{"lambda": {"functionArn": missing}}, republish(ok_topic)],
                 error_action=republish(errors))
    with mqtt.Monitor([errors, ok_topic]) as mon:
        publisher(topic_in, {"trykk": 1})
        document = mon.wait(topic=errors, timeout=10).json()  # sent after the rule's other actions
        assert [m.json() for m in _on(mon, ok_topic)] == [{"trykk": 1}]  # the other action still ran
        publisher(topic_in, {"trykk": 2})  # and the engine goes on with the next message
        assert mon.wait(topic=ok_topic).json() == {"trykk": 2}
    assert document["ruleName"] == name and document["topic"] == topic_in
    assert document["clientId"].startswith("test-sender-")
    assert json.loads(base64.b64decode(document["base64OriginalPayload"])) == {"trykk": 1}
    [failure] = document["failures"]
    assert failure["failedAction"] == "LambdaAction" and failure["failedResource"] == missing
    assert "ResourceNotFoundException" in failure["errorMessage"]


def test_lambda_without_permission_for_iot_is_not_invoked(rules, function, publisher):
    arn = function(allow_iot=False)  # no lambda.add_permission for iot.amazonaws.com
    topic_in, reply, errors = _unique("tillatelse/inn/"), _unique("tillatelse/svar/"), _unique("tillatelse/feil/")
    rules(f"SELECT n, '{reply}' AS svar FROM '{topic_in}'", [{"lambda": {"functionArn": arn}}],
          error_action=republish(errors))
    with mqtt.Monitor([reply, errors]) as mon:
        publisher(topic_in, {"n": 1})
        failure = mon.wait(topic=errors, timeout=10).json()["failures"][0]
    assert "AccessDeniedException" in failure["errorMessage"] and "add_permission" in failure["errorMessage"]
    assert _on(mon, reply) == []


def test_boto3_invoke_runs_the_code_and_reports_handler_errors_like_aws(function):
    lam = boto3.client("lambda")
    arn = function()
    answer = lam.invoke(FunctionName=arn, Payload=json.dumps({"n": 4, "svar": _unique("invoke/")}), LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"dobbelt": 8}
    assert "fikk" in base64.b64decode(answer["LogResult"]).decode()

    failed = lam.invoke(FunctionName=arn, Payload=json.dumps({"feil": True, "n": 5}))
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "ugyldig trykk 5"

    reply = _unique("invoke/event/")
    with mqtt.Monitor(reply) as mon:
        queued = lam.invoke(FunctionName=arn, InvocationType="Event", Payload=json.dumps({"n": 1, "svar": reply}))
        assert queued["StatusCode"] == 202
        assert mon.wait(timeout=20).json()["event"]["n"] == 1


# --- DynamoDB ------------------------------------------------------------------------------------------

def test_dynamodb_v2_action_stores_each_message_as_a_row(rules, publisher):
    dynamodb = boto3.client("dynamodb")
    table = _unique("test-trykk-")
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "thing", "KeyType": "HASH"},
                                     {"AttributeName": "ts", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "thing", "AttributeType": "S"},
                                                {"AttributeName": "ts", "AttributeType": "N"}])
    try:
        topic_in = _unique("dynamo/")
        rules("SELECT *, topic(2) AS thing, timestamp() AS ts FROM 'dynamo/+'",
              [{"dynamoDBv2": {"roleArn": RULE_ROLE, "putItem": {"tableName": table}}}])
        before = int(time.time() * 1000)
        publisher(topic_in, {"on": True, "btnCount": 3, "sted": {"rom": "stue"}})
        deadline = time.monotonic() + 10
        items: list[dict[str, Any]] = []
        while not items and time.monotonic() < deadline:
            items = dynamodb.scan(TableName=table)["Items"]
            time.sleep(0.05)
        [item] = items
        assert item["thing"] == {"S": topic_in.split("/")[1]}
        assert item["on"] == {"BOOL": True} and item["btnCount"] == {"N": "3"}
        assert item["sted"] == {"M": {"rom": {"S": "stue"}}}
        assert int(item["ts"]["N"]) >= before
    finally:
        dynamodb.delete_table(TableName=table)


# --- SQL checked on create ---------------------------------------------------------------------------

def test_malformed_sql_is_refused_with_sql_parse_exception(iot, rules):
    name = _unique("test_feil_sql_")
    with pytest.raises(ClientError) as err:
        iot.create_topic_rule(ruleName=name, topicRulePayload={"sql": "SELECT * FROM state", "actions": []})
    assert err.value.response["Error"]["Code"] == "SqlParseException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError):
        iot.get_topic_rule(ruleName=name)  # nothing was stored

    kept = rules("SELECT * FROM 'ok'", [])
    with pytest.raises(ClientError) as err:
        iot.replace_topic_rule(ruleName=kept, topicRulePayload={"sql": "SELECT * FROM 'ok' WHERE", "actions": []})
    assert err.value.response["Error"]["Code"] == "SqlParseException"
    assert iot.get_topic_rule(ruleName=kept)["rule"]["sql"] == "SELECT * FROM 'ok'"


def test_sql_version_defaults_to_aws_default_when_omitted(iot, rules):
    name = _unique("test_versjon_")
    iot.create_topic_rule(ruleName=name, topicRulePayload={"sql": "SELECT * FROM 'a'", "actions": []})
    try:
        assert iot.get_topic_rule(ruleName=name)["rule"]["awsIotSqlVersion"] == "2015-10-08"
    finally:
        iot.delete_topic_rule(ruleName=name)
    chosen = rules("SELECT * FROM 'a'", [], version="2016-03-23")
    assert iot.get_topic_rule(ruleName=chosen)["rule"]["awsIotSqlVersion"] == "2016-03-23"
    with pytest.raises(ClientError) as err:
        rules("SELECT * FROM 'a'", [], version="2020-01-01")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"


# --- the course's own wiring: kurs.serverless ------------------------------------------------------

def _wait_for_presses(table: str, count: int) -> list[dict[str, Any]]:
    from kurs import serverless

    deadline = time.monotonic() + 20
    rows = serverless.presses(table)
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = serverless.presses(table)
    return rows


def test_deploy_button_to_light_end_to_end_with_mqtt_clients_as_boards(sky, iot):  # noqa: ANN001
    from kurs import serverless

    knapp, lys = _unique("knapp_"), _unique("lys_")
    table = _unique("kurs-test-trykk-")
    summary = serverless.deploy_button_to_light(knapp, lys, table=table)
    try:
        assert summary.table == table and summary.topic == "state"
        assert f"{knapp} → {lys}" in str(summary)
        delta_topic = f"$aws/things/{lys}/shadow/update/delta"
        with mqtt.Monitor(delta_topic) as mon:
            mqtt.publish("state", {"on": True, "btnCount": 1, "uptime": 5}, client_id=knapp)
            assert mon.wait(timeout=20).json()["state"] == {"on": True}
            mqtt.publish("state", {"on": True, "btnCount": 99}, client_id="et-annet-kort")  # not the button
            # The LED board reports what it did, as the firmware does; then the next press.
            mqtt.publish(f"$aws/things/{lys}/shadow/update", {"state": {"reported": {"on": True}}}, client_id=lys)
            mqtt.publish("state", {"on": False, "btnCount": 2, "uptime": 9}, client_id=knapp)
            assert mon.wait(timeout=20).json()["state"] == {"on": False}

        rows = _wait_for_presses(table, 2)
        assert [(r["thing"], r["btnCount"], r["on"]) for r in rows] == [(knapp, 1, True), (knapp, 2, False)]
        assert rows[0]["ts"] <= rows[1]["ts"] and rows[0]["time"] <= rows[1]["time"]
        assert serverless.presses(table, thing="et-annet-kort") == []

        # Least privilege: the function's role may touch the LED board's shadow and nothing else in IoT.
        policy = boto3.client("iam").get_role_policy(RoleName=serverless.LAMBDA_ROLE,
                                                      PolicyName=serverless.FUNCTION)["PolicyDocument"]
        policy = json.loads(policy) if isinstance(policy, str) else policy
        iot_statements = [s for s in policy["Statement"] if any(a.startswith("iot:") for a in s["Action"])]
        assert [s["Resource"] for s in iot_statements] == [f"arn:aws:iot:eu-west-1:123456789012:thing/{lys}"]

        # Deploying again updates in place: still one rule of each, and it still works.
        again = serverless.deploy_button_to_light(knapp, lys, table=table)
        assert again == summary
        names = [r["ruleName"] for r in iot.list_topic_rules()["rules"]]
        assert names.count(serverless.LAMBDA_RULE) == 1 and names.count(serverless.STORE_RULE) == 1
        with mqtt.Monitor(delta_topic) as mon:
            mqtt.publish(f"$aws/things/{lys}/shadow/update", {"state": {"reported": {"on": False}}}, client_id=lys)
            mqtt.publish("state", {"on": True, "btnCount": 3}, client_id=knapp)
            assert mon.wait(timeout=20).json()["state"] == {"on": True}
        assert len(_wait_for_presses(table, 3)) == 3
    finally:
        removed = serverless.remove_button_to_light(table=table)
    assert f"regelen {serverless.LAMBDA_RULE}" in removed and f"DynamoDB-tabellen {table}" in removed
    names = [r["ruleName"] for r in iot.list_topic_rules()["rules"]]
    assert serverless.LAMBDA_RULE not in names and serverless.STORE_RULE not in names
    with pytest.raises(ClientError):
        boto3.client("lambda").get_function(FunctionName=serverless.FUNCTION)
    assert serverless.remove_button_to_light(table=table) == []  # idempotent


def test_virtual_button_board_lights_virtual_led_board_through_rule_lambda_and_shadow(sky):  # noqa: ANN001
    board = pytest.importorskip("kurs.esp32.board")
    from kurs import serverless

    table = _unique("kurs-test-kort-")
    # The button board runs the Oppgave 1 firmware (publishes on "state"). The LED board runs
    # the start app, whose LED follows only the shadow's delta: so the LED can only change
    # through rule → Lambda → shadow, not straight from the button's MQTT message.
    with board.VirtualBoard("knapp", seed=_unique("knapp")) as knapp, \
            board.VirtualBoard("start", seed=_unique("lys")) as lys:
        knapp.start()
        lys.start()
        knapp.wait_for(lambda: knapp.connected)
        lys.wait_for("online: true")
        serverless.deploy_button_to_light(knapp.thing_name, lys.thing_name, table=table)
        try:
            assert lys.led() is False
            knapp.click()
            knapp.wait_for('Sendte til state: {"btnCount":1,"on":true}')
            lys.wait_for(lambda: lys.led(), timeout=20)
            lys.wait_for('Fikk delta: {"on":true}')
            mark = lys.console.mark()
            knapp.click()
            lys.wait_for(lambda: not lys.led(), timeout=20)
            lys.wait_for('Fikk delta: {"on":false}', since=mark)
            rows = _wait_for_presses(table, 2)
            assert [(r["thing"], r["btnCount"]) for r in rows] == [(knapp.thing_name, 1), (knapp.thing_name, 2)]
        finally:
            serverless.remove_button_to_light(table=table)


# --- get_thing_shadow() and aws_lambda() in rule SQL ---------------------------------------------------

def _iot_role(name: str, *, trusted_service: str = "iot.amazonaws.com", policy: dict[str, Any] | None = None) -> str:
    iam = boto3.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": trusted_service}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="skygge", PolicyDocument=json.dumps(policy))
    return arn


SHADOW_READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iot:GetThingShadow", "Resource": "arn:aws:iot:*:*:thing/*"}]}


def test_get_thing_shadow_reads_the_shadow_with_a_role_iot_may_assume(sky, rules, publisher, iot_data):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-sql-function-get-thing-shadow
    # (roleArn: "A role ARN with iot:GetThingShadow permission"; the reference's WHERE example) and
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html (a role AWS IoT assumes)
    thing = _unique("lys-")
    role = _iot_role(_unique("skygge-rolle-"), policy=SHADOW_READ)
    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"alarm": "ON"}}}))
    topic_in, out = _unique("skygge/inn/"), _unique("skygge/ut/")
    rules(f"SELECT n, get_thing_shadow('{thing}', '{role}').state.reported.alarm AS alarm FROM '{topic_in}' "
          f"WHERE get_thing_shadow(\"{thing}\", \"{role}\").state.reported.alarm = 'ON'", [republish(out)])
    with mqtt.Monitor(out) as mon:
        publisher(topic_in, {"n": 1})
        assert mon.wait(timeout=10).json() == {"n": 1, "alarm": "ON"}


@pytest.mark.parametrize(("trusted", "policy", "logged"), [
    ("lambda.amazonaws.com", SHADOW_READ, "kan ikke antas av iot.amazonaws.com"),
    ("iot.amazonaws.com", None, "ingen policy på rollen"),
    ("iot.amazonaws.com", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:GetThingShadow", "Resource": "*"}]}, "(Deny)"),
])
def test_get_thing_shadow_with_a_role_iot_may_not_use_stops_the_rule_and_says_why(
        sky, rules, publisher, sentinel, iot_data, trusted, policy, logged):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html (trust policy for
    # iot.amazonaws.com, permissions) and https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html
    # (the error action covers rule actions; SQL function failures go to the log)
    thing = _unique("lys-")
    role = _iot_role(_unique("feil-rolle-"), trusted_service=trusted, policy=policy)
    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"on": True}}}))
    topic_in, out, errors = _unique("skygge/inn/"), _unique("skygge/ut/"), _unique("skygge/feil/")
    name = rules(f"SELECT get_thing_shadow('{thing}', '{role}') AS s FROM '{topic_in}'", [republish(out)],
                 error_action=republish(errors))
    with mqtt.Monitor([out, errors, SENTINEL_OUT]) as mon:
        publisher(topic_in, {"n": 1})
        sentinel(mon)
    assert _on(mon, out) == [] and _on(mon, errors) == []
    log = _wait_for_log(sky, f"Regel «{name}» ble ikke utført fordi SQL-funksjonen get_thing_shadow() feilet")
    line = next(ln for ln in log.splitlines() if f"Regel «{name}» ble ikke utført" in ln)
    assert logged in line


def test_aws_lambda_in_sql_returns_the_functions_json(rules, function, publisher):
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-func-aws-lambda
    # ("Calls the specified Lambda function passing inputJson ... and returns the JSON generated")
    arn = function()
    topic_in, out = _unique("sqllambda/inn/"), _unique("sqllambda/ut/")
    rules(f"SELECT aws_lambda('{arn}', {{'n': n, 'svar': '{_unique('sqllambda/bi/')}'}}).dobbelt AS d "
          f"FROM '{topic_in}'", [republish(out)])
    with mqtt.Monitor(out) as mon:
        publisher(topic_in, {"n": 21})
        assert mon.wait(timeout=20).json() == {"d": 42}


def test_aws_lambda_in_sql_needs_the_functions_permission_for_iot(sky, rules, function, publisher, sentinel):  # noqa: ANN001
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-func-aws-lambda
    # ("You must grant AWS IoT lambda:InvokeFunction permissions to invoke the specified Lambda function")
    arn = function(allow_iot=False)
    topic_in, out = _unique("sqllambda/inn/"), _unique("sqllambda/ut/")
    name = rules(f"SELECT aws_lambda('{arn}', *) AS r FROM '{topic_in}'", [republish(out)])
    with mqtt.Monitor([out, SENTINEL_OUT]) as mon:
        publisher(topic_in, {"n": 1})
        sentinel(mon)
    assert _on(mon, out) == []
    log = _wait_for_log(sky, f"Regel «{name}» ble ikke utført fordi SQL-funksjonen aws_lambda() feilet")
    assert "add_permission" in log


def test_boto3_invoke_of_a_function_over_its_memory_size_fails_as_on_aws(lambda_role):  # noqa: ANN001
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html (MemorySize, 128 MB here);
    # AWS answers FunctionError with {"errorType": "Runtime.OutOfMemory", "errorMessage": "RequestId: …
    # Error: Runtime exited with error: signal: killed"} and the REPORT line shows Max Memory Used.
    lam = boto3.client("lambda")
    name = _unique("test-minne-")
    code = "def lambda_handler(event, context):\n    return len(b'x' * (event['mb'] * 1024 * 1024))\n"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=lambda_role, MemorySize=128, Timeout=15,
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": _zip({"lambda_function.py": code})})
    try:
        ok = lam.invoke(FunctionName=name, Payload=json.dumps({"mb": 10}), LogType="Tail")
        assert "FunctionError" not in ok and json.loads(ok["Payload"].read()) == 10 * 1024 * 1024
        assert "Max Memory Used:" in base64.b64decode(ok["LogResult"]).decode()
        failed = lam.invoke(FunctionName=name, Payload=json.dumps({"mb": 400}), LogType="Tail")
        assert failed["FunctionError"] == "Unhandled"
        error = json.loads(failed["Payload"].read())
        assert error["errorType"] == "Runtime.OutOfMemory"
        assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
        assert "Runtime.OutOfMemory" in base64.b64decode(failed["LogResult"]).decode()
    finally:
        lam.delete_function(FunctionName=name)
