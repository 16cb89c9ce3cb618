"""The rules engine driven by a rule list we control and recording publish/Lambda seams.

DynamoDB actions write through a real boto3 client to moto's in-process DynamoDB.
"""

from __future__ import annotations

import base64
import json

import pytest

from kurs.sky.rules.actions import ActionRunner, encode_output
from kurs.sky.rules.engine import RulesEngine

NOW_MS = 1700000000000
ROLE = "arn:aws:iam::123456789012:role/regel"
LAMBDA_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:varsle"


def rule(
    name: str, sql: str, actions: list, *, disabled: bool = False, error_action=None, version="2016-03-23"
):
    """A rule as boto3's get_topic_rule()['rule'] returns it."""
    body = {
        "ruleName": name,
        "sql": sql,
        "description": "",
        "actions": actions,
        "ruleDisabled": disabled,
        "awsIotSqlVersion": version,
        "errorAction": error_action or {},
    }
    if version is None:
        del body["awsIotSqlVersion"]
    return body


def republish(topic: str, qos: int = 0) -> dict:
    return {"republish": {"topic": topic, "qos": qos, "roleArn": ROLE}}


class Cloud:
    """The engine with its seams: a mutable rule list, and recorders for what it does."""

    def __init__(self, dynamodb=None) -> None:
        self.rules: list[dict] = []
        self.published: list[tuple[str, bytes, int]] = []
        self.invoked: list[tuple[str, dict]] = []
        self.log: list[str] = []
        self.fail_publish_to: set[str] = set()
        self.engine = RulesEngine(
            lambda: list(self.rules),
            ActionRunner(publish=self._publish, invoke_lambda=self._invoke, dynamodb=dynamodb),
            self.log.append,
            clock_ms=lambda: NOW_MS,
        )

    def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        if topic in self.fail_publish_to:
            raise ConnectionError(f"megleren svarte ikke på {topic}")
        self.published.append((topic, payload, qos))

    def _invoke(self, arn: str, event: dict) -> None:
        if arn.endswith(":finnesikke"):
            raise LookupError("Function not found: " + arn)
        self.invoked.append((arn, event))

    def send(self, topic: str, payload, clientid: str = "knapp-1", principal: str = "") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.engine.on_message(topic, data, clientid, principal)

    def messages_on(self, topic: str) -> list:
        return [json.loads(p) for t, p, _ in self.published if t == topic]


@pytest.fixture
def cloud() -> Cloud:
    return Cloud()


def test_republish_sends_the_select_output_to_the_substituted_topic(cloud):
    cloud.rules = [
        rule(
            "varsel",
            "SELECT temp, topic(2) AS rom FROM 'hus/+/temp' WHERE temp > 25",
            [republish("varsel/${topic(2)}", 1)],
        )
    ]
    cloud.send("hus/stue/temp", {"temp": 27.5, "fukt": 40})
    cloud.send("hus/stue/temp", {"temp": 20})  # WHERE false: nothing
    cloud.send("hage/temp", {"temp": 30})  # outside FROM: nothing
    assert cloud.published == [("varsel/stue", b'{"temp":27.5,"rom":"stue"}', 1)]
    assert any("«varsel» ble utløst" in line for line in cloud.log)


def test_disabled_rule_runs_no_action(cloud):
    cloud.rules = [rule("av", "SELECT * FROM 'knapp/trykk'", [republish("ut")], disabled=True)]
    cloud.send("knapp/trykk", {"trykk": 1})
    assert cloud.published == []


def test_created_replaced_disabled_and_deleted_rules_take_effect_at_once(cloud):
    cloud.send("knapp/trykk", {"n": 1})
    cloud.rules = [rule("r", "SELECT n FROM 'knapp/trykk'", [republish("ut")])]  # created
    cloud.send("knapp/trykk", {"n": 2})
    cloud.rules = [rule("r", "SELECT n * 10 AS n FROM 'knapp/trykk'", [republish("ut")])]  # replaced
    cloud.send("knapp/trykk", {"n": 3})
    cloud.rules = [rule("r", "SELECT n FROM 'knapp/trykk'", [republish("ut")], disabled=True)]  # disabled
    cloud.send("knapp/trykk", {"n": 4})
    cloud.rules = [rule("r", "SELECT n FROM 'knapp/trykk'", [republish("ut")])]  # enabled again
    cloud.send("knapp/trykk", {"n": 5})
    cloud.rules = []  # deleted
    cloud.send("knapp/trykk", {"n": 6})
    assert cloud.messages_on("ut") == [{"n": 2}, {"n": 30}, {"n": 5}]


def test_failing_action_runs_error_action_with_aws_error_message_and_engine_goes_on(cloud):
    cloud.fail_publish_to = {"ut/brutt"}
    cloud.rules = [
        rule(
            "skjor",
            "SELECT * FROM 'knapp/#'",
            [
                republish("ut/brutt"),
                {"lambda": {"functionArn": LAMBDA_ARN.replace("varsle", "finnesikke")}},
                republish("ut/ok"),
            ],
            error_action=republish("feil/${topic(2)}"),
        )
    ]
    cloud.send("knapp/trykk", {"n": 1}, clientid="knapp-7")
    # The action after the failing ones still ran.
    assert cloud.messages_on("ut/ok") == [{"n": 1}]
    [error] = cloud.messages_on("feil/trykk")
    assert error["ruleName"] == "skjor"
    assert error["topic"] == "knapp/trykk"
    assert error["clientId"] == "knapp-7"
    assert base64.b64decode(error["base64OriginalPayload"]) == b'{"n": 1}'
    assert error["cloudwatchTraceId"]
    # One error message lists every failed action of the rule.
    assert [(f["failedAction"], f["failedResource"]) for f in error["failures"]] == [
        ("RepublishAction", "ut/brutt"),
        ("LambdaAction", LAMBDA_ARN.replace("varsle", "finnesikke")),
    ]
    assert "megleren svarte ikke" in error["failures"][0]["errorMessage"]
    assert any("RepublishAction feilet" in line for line in cloud.log)
    # The next message is processed as usual.
    cloud.send("knapp/trykk", {"n": 2})
    assert cloud.messages_on("ut/ok") == [{"n": 1}, {"n": 2}]


def test_failure_without_error_action_is_only_logged(cloud):
    cloud.rules = [
        rule("uten", "SELECT * FROM 'a'", [{"s3": {"bucketName": "b", "key": "k", "roleArn": ROLE}}])
    ]
    cloud.send("a", {})
    assert cloud.published == []
    assert any("«s3»" in line and "kan ikke utføre" in line for line in cloud.log)
    assert any("ingen errorAction" in line for line in cloud.log)


def test_failing_error_action_is_logged_and_does_not_stop_the_engine(cloud):
    cloud.fail_publish_to = {"ut", "feil"}
    cloud.rules = [
        rule("dobbel", "SELECT * FROM 'a'", [republish("ut")], error_action=republish("feil")),
        rule("frisk", "SELECT * FROM 'a'", [republish("ok")]),
    ]
    cloud.send("a", {"x": 1})
    assert cloud.messages_on("ok") == [{"x": 1}]
    assert any("også errorAction feilet" in line for line in cloud.log)


def test_rule_with_bad_sql_is_skipped_and_reported_once(cloud):
    cloud.rules = [
        rule("odelagt", "SELECT * FROM knapp/trykk", [republish("ut")]),
        rule("god", "SELECT * FROM 'knapp/trykk'", [republish("ok")]),
    ]
    cloud.send("knapp/trykk", {"a": 1})
    cloud.send("knapp/trykk", {"a": 2})
    assert cloud.messages_on("ok") == [{"a": 1}, {"a": 2}]
    reports = [line for line in cloud.log if "«odelagt» blir hoppet over" in line]
    assert len(reports) == 1 and "enkle anførselstegn" in reports[0]


def test_rules_list_that_fails_is_logged_not_raised():
    def broken():
        raise RuntimeError("moto er borte")

    log: list[str] = []
    RulesEngine(broken, ActionRunner(), log.append).on_message("a", b"{}", "", "")
    assert log and "fikk ikke lest reglene" in log[0]


def test_missing_sql_version_means_2015_10_08_as_on_aws(cloud):
    cloud.rules = [rule("v1", "SELECT reading FROM 'a'", [republish("ut")], version=None)]
    cloud.send("a", b'{"reading": 21.0}')
    assert cloud.published[0][1] == b'{"reading":21.0}'  # 2016-03-23 would give 21


def test_lambda_action_gets_the_select_output_as_event(cloud):
    cloud.rules = [
        rule(
            "l", "SELECT *, clientid() AS enhet FROM 'knapp/trykk'", [{"lambda": {"functionArn": LAMBDA_ARN}}]
        )
    ]
    cloud.send("knapp/trykk", {"trykk": "kort"}, clientid="knapp-1")
    assert cloud.invoked == [(LAMBDA_ARN, {"trykk": "kort", "enhet": "knapp-1"})]


def test_lambda_action_refuses_a_binary_payload(cloud):
    cloud.rules = [
        rule(
            "l",
            "SELECT * FROM 'bin'",
            [{"lambda": {"functionArn": LAMBDA_ARN}}],
            error_action=republish("feil"),
        )
    ]
    cloud.send("bin", b"\x00\x01\x02")
    assert cloud.invoked == []
    [error] = cloud.messages_on("feil")
    assert "encode(*, 'base64')" in error["failures"][0]["errorMessage"]


def test_binary_payload_is_republished_unchanged(cloud):
    cloud.rules = [rule("bin", "SELECT * FROM 'kamera/bilde'", [republish("arkiv/bilde")])]
    cloud.send("kamera/bilde", b"\x89PNG\x00\xff")
    assert cloud.published == [("arkiv/bilde", b"\x89PNG\x00\xff", 0)]


def test_republish_to_a_reserved_topic_uses_double_dollar(cloud):
    cloud.rules = [
        rule(
            "skygge",
            "SELECT VALUE {'state': {'desired': {'on': true}}} FROM 'knapp/trykk'",
            [republish("$$aws/things/lys/shadow/update")],
        )
    ]
    cloud.send("knapp/trykk", {})
    assert cloud.published == [("$aws/things/lys/shadow/update", b'{"state":{"desired":{"on":true}}}', 0)]


def test_rule_can_select_from_shadow_topics(cloud):
    cloud.rules = [
        rule(
            "skygge",
            "SELECT topic(3) AS ting, state.reported.on AS on FROM '$aws/things/+/shadow/update/accepted'",
            [republish("logg/lys")],
        )
    ]
    cloud.send("$aws/things/lys/shadow/update/accepted", {"state": {"reported": {"on": True}}}, clientid="")
    assert cloud.messages_on("logg/lys") == [{"ting": "lys", "on": True}]


def test_basic_ingest_topic_goes_to_the_named_rule_only(cloud):
    cloud.rules = [
        rule("inntak", "SELECT *, topic() AS emne FROM 'hva/som/helst'", [republish("fra/inntak")]),
        rule("andre", "SELECT * FROM '#'", [republish("fra/andre")]),
    ]
    cloud.send("$aws/rules/inntak/maalere/7", {"kwh": 3})
    assert cloud.messages_on("fra/inntak") == [{"kwh": 3, "emne": "maalere/7"}]
    assert cloud.messages_on("fra/andre") == []


def test_clientid_and_principal_reach_the_rule(cloud):
    cloud.rules = [rule("hvem", "SELECT clientid() AS c, principal() AS p FROM 'a'", [republish("ut")])]
    cloud.send("a", {}, clientid="knapp-1", principal="ab12")
    cloud.send("a", {}, clientid="", principal="")  # from the cloud itself or HTTP
    assert cloud.messages_on("ut") == [{"c": "knapp-1", "p": "ab12"}, {"c": "n/a"}]


def test_republish_qos_must_be_0_or_1(cloud):
    cloud.rules = [rule("q", "SELECT * FROM 'a'", [republish("ut", qos=2)], error_action=republish("feil"))]
    cloud.send("a", {})
    assert cloud.messages_on("ut") == []
    assert "QoS 2" in cloud.messages_on("feil")[0]["failures"][0]["errorMessage"]


def test_encode_output_is_compact_json_or_raw_bytes():
    assert encode_output({"a": [1, 2], "ø": "å"}) == '{"a":[1,2],"ø":"å"}'.encode()
    assert encode_output(b"\x00raw") == b"\x00raw"
    assert encode_output("red") == b'"red"'


# --- DynamoDB through moto's in-process backend ------------------------------------------------


@pytest.fixture
def dynamodb(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    # Another test module may have pointed boto3 at a running local cloud; this one is in-process.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="wx_data",
            KeySchema=[
                {"AttributeName": "sample_time", "KeyType": "HASH"},
                {"AttributeName": "device_id", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "sample_time", "AttributeType": "N"},
                {"AttributeName": "device_id", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="trykk",
            KeySchema=[{"AttributeName": "enhet", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "enhet", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_dynamodb_v2_writes_each_selected_field_as_a_column(dynamodb):
    cloud = Cloud(dynamodb)
    cloud.rules = [
        rule(
            "lagre",
            "SELECT clientid() AS enhet, * FROM 'knapp/trykk'",
            [{"dynamoDBv2": {"putItem": {"tableName": "trykk"}, "roleArn": ROLE}}],
        )
    ]
    cloud.send("knapp/trykk", {"antall": 3, "temp": 21.5, "pos": {"x": 1}}, clientid="knapp-1")
    item = dynamodb.get_item(TableName="trykk", Key={"enhet": {"S": "knapp-1"}})["Item"]
    assert item == {
        "enhet": {"S": "knapp-1"},
        "antall": {"N": "3"},
        "temp": {"N": "21.5"},
        "pos": {"M": {"x": {"N": "1"}}},
    }


def test_dynamodb_v2_missing_key_or_table_goes_to_error_action(dynamodb):
    cloud = Cloud(dynamodb)
    cloud.rules = [
        rule(
            "uten-nokkel",
            "SELECT antall FROM 'knapp/trykk'",
            [{"dynamoDBv2": {"putItem": {"tableName": "trykk"}, "roleArn": ROLE}}],
            error_action=republish("feil"),
        ),
        rule(
            "feil-tabell",
            "SELECT * FROM 'knapp/trykk'",
            [{"dynamoDBv2": {"putItem": {"tableName": "${topic(1)}-tabell"}, "roleArn": ROLE}}],
            error_action=republish("feil"),
        ),
    ]
    cloud.send("knapp/trykk", {"antall": 1})
    first, second = cloud.messages_on("feil")
    assert first["failures"][0]["failedAction"] == "DynamoDBv2Action"
    assert "nøkkelfelt" in first["failures"][0]["errorMessage"]
    assert second["failures"][0]["failedResource"] == "knapp-tabell"
    assert "finnes ikke" in second["failures"][0]["errorMessage"]
    assert dynamodb.scan(TableName="trykk")["Items"] == []


def test_dynamodb_v1_action_as_in_the_dynamodb_tutorial(dynamodb):
    cloud = Cloud(dynamodb)
    cloud.rules = [
        rule(
            "wx_data_ddb",
            "SELECT temperature, humidity, barometer, wind.velocity as wind_velocity, wind.bearing as wind_bearing "
            "FROM 'device/+/data'",
            [
                {
                    "dynamoDB": {
                        "tableName": "wx_data",
                        "hashKeyField": "sample_time",
                        "hashKeyValue": "${timestamp()}",
                        "rangeKeyField": "device_id",
                        "rangeKeyValue": "${cast(topic(2) AS DECIMAL)}",
                        "payloadField": "device_data",
                        "roleArn": ROLE,
                    }
                }
            ],
        )
    ]
    cloud.send(
        "device/22/data",
        {"temperature": 28, "humidity": 80, "barometer": 1013, "wind": {"velocity": 22, "bearing": 255}},
    )
    [item] = dynamodb.scan(TableName="wx_data")["Items"]
    assert item["sample_time"] == {"N": str(NOW_MS)}
    assert item["device_id"] == {"N": "22"}
    assert item["device_data"]["M"]["wind_velocity"] == {"N": "22"}
    assert set(item["device_data"]["M"]) == {
        "temperature",
        "humidity",
        "barometer",
        "wind_velocity",
        "wind_bearing",
    }


# --- external SQL functions ----------------------------------------------------------------------


class RefusingServices:
    def thing_shadow(self, thing, shadow, role):  # noqa: ANN001, ANN201
        from kurs.sky.rules.external import ExternalFunctionError

        raise ExternalFunctionError("get_thing_shadow", f"rollen {role} kan ikke antas av iot.amazonaws.com")

    def call_lambda(self, arn, event):  # noqa: ANN001, ANN201
        return {"svar": event["n"] * 2}


def test_failed_external_function_stops_the_rule_is_logged_and_skips_error_action():
    # https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html: the error action
    # covers rule actions; "To debug SQL issues, including external functions, you can set up AWS IoT logging".
    cloud = Cloud()
    cloud.engine._external = RefusingServices()
    cloud.rules.append(rule("skygge", f"SELECT get_thing_shadow('lys', '{ROLE}') AS s FROM 'knapp'",
                            [republish("ut")], error_action=republish("feil")))
    cloud.rules.append(rule("lambda", "SELECT aws_lambda('arn:aws:lambda:eu-west-1:1:function:f', {'n': n}) AS r "
                                      "FROM 'knapp'", [republish("ut2")]))
    cloud.send("knapp", {"n": 4})
    assert cloud.published == [("ut2", b'{"r":{"svar":8}}', 0)]  # the other rule still ran
    assert any("get_thing_shadow() feilet" in line and "ikke til errorAction" in line for line in cloud.log)


def test_set_variable_fills_an_action_template():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html: variables in action templates
    cloud = Cloud()
    cloud.rules.append(rule("rom", "SET @rom = topic(2) SELECT temp FROM 'hus/+/temp'", [republish("varsel/${@rom}")]))
    cloud.send("hus/kjokken/temp", {"temp": 30})
    assert cloud.messages_on("varsel/kjokken") == [{"temp": 30}]


def test_a_loop_between_two_rules_is_stopped_and_said_once_while_other_rules_go_on():
    """Rule A republishes to B's topic and B to A's: on AWS this loops until the account's rule quotas
    (https://docs.aws.amazon.com/general/latest/gr/iot-core.html, rules engine quotas) step in; here the
    cloud is a laptop that a classroom may share, so a rule firing faster than RULE_RATE_PER_S stops."""
    from kurs.sky.rules import engine as engine_module

    now = [0.0]
    cloud = Cloud()
    cloud.engine = RulesEngine(lambda: list(cloud.rules),
                               ActionRunner(publish=cloud._publish, invoke_lambda=cloud._invoke),
                               cloud.log.append, clock_ms=lambda: NOW_MS, monotonic=lambda: now[0])
    cloud.rules = [rule("a", "SELECT * FROM 'ola/a'", [republish("ola/b")]),
                   rule("b", "SELECT * FROM 'ola/b'", [republish("ola/a")]),
                   rule("vanlig", "SELECT * FROM 'ida/knapp'", [republish("ida/lys")])]
    queue = [("ola/a", b"{}")]
    handled = 0
    while queue and handled < 10_000:  # the broker's part: what a rule publishes comes back in
        topic, payload = queue.pop(0)
        cloud.engine.on_message(topic, payload, "", "")
        handled += 1
        queue += [(t, p) for t, p, _ in cloud.published]
        cloud.published.clear()
    assert not queue, "the loop did not stop"
    assert handled <= 2 * engine_module.RULE_BURST + 2
    warnings = [line for line in cloud.log if "ser ut som en løkke" in line]
    assert len(warnings) == 1 and ("«a»" in warnings[0] or "«b»" in warnings[0])
    cloud.engine.on_message("ida/knapp", b"{}", "", "")  # another rule is not held up
    assert [t for t, _, _ in cloud.published] == ["ida/lys"]
    now[0] += 5.0  # later, at a normal pace, the looping rules run again
    cloud.published.clear()
    cloud.engine.on_message("ola/a", b"{}", "", "")
    assert [t for t, _, _ in cloud.published] == ["ola/b"]
