"""AWS IoT SQL as the local cloud's rules engine runs it.

The cases are the examples of the AWS IoT developer guide's SQL reference (SELECT, FROM,
WHERE, functions, literals, case statements, JSON extensions, nested object queries,
binary payloads, SQL versions) and of its rule tutorials, with the outputs the guide shows.
"""

from __future__ import annotations

import base64
import json

import pytest

from kurs.errors import CourseError
from kurs.sky.rules.context import MessageContext
from kurs.sky.rules.sql import SqlParseError, parse, topic_matches
from kurs.sky.rules.templates import substitute

NOW_MS = 1481825251155
V1, V2 = "2015-10-08", "2016-03-23"

COLOR = {"color": "red", "temperature": 50}
SENML = {
    "e": [
        {"n": "temperature", "u": "Cel", "t": 1234, "v": 22.5},
        {"n": "light", "u": "lm", "t": 1235, "v": 135},
        {"n": "acidity", "u": "pH", "t": 1235, "v": 7},
    ]
}
DEVICE = {
    "deviceid": "iot123",
    "temp": 54.98,
    "humidity": 32.43,
    "coords": {"latitude": 47.615694, "longitude": -122.3359976},
}
NOT_TRIGGERED = None


def ctx(topic: str = "topic/subtopic", clientid: str | None = "knapp-1", principal: str | None = None):
    return MessageContext(topic=topic, clientid=clientid, principal=principal, timestamp_ms=NOW_MS)


def run(sql: str, payload, topic: str = "topic/subtopic", version: str = V2, **kw):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse(sql, version).evaluate(data, ctx(topic, **kw))


# (sql, topic, payload, expected outgoing payload); None = the rule is not triggered.
GUIDE_EXAMPLES = [
    # SELECT clause
    ("SELECT * FROM 'topic/subtopic'", "topic/subtopic", COLOR, COLOR),
    ("SELECT color FROM 'topic/subtopic'", "topic/subtopic", COLOR, {"color": "red"}),
    ("SELECT color AS my_color FROM 'topic/subtopic'", "topic/subtopic", COLOR, {"my_color": "red"}),
    (
        "SELECT color as my_color, temperature as fahrenheit FROM 'topic/subtopic'",
        "topic/subtopic",
        COLOR,
        {"my_color": "red", "fahrenheit": 50},
    ),
    (
        "SELECT *, 15 as speed FROM 'topic/subtopic'",
        "topic/subtopic",
        COLOR,
        {"color": "red", "temperature": 50, "speed": 15},
    ),
    ("SELECT VALUE color FROM 'topic/subtopic'", "topic/subtopic", COLOR, "red"),
    (
        "SELECT color.red as red_value FROM 'topic/subtopic'",
        "topic/subtopic",
        {"color": {"red": 255, "green": 0, "blue": 0}, "temperature": 50},
        {"red_value": 255},
    ),
    (
        "SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'topic/subtopic'",
        "topic/subtopic",
        COLOR,
        {"celsius": 10, "my_color": "RED"},
    ),
    # The reference's introduction
    (
        "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
        "topic/subtopic",
        {"color": "red", "temperature": 100},
        {"rgb": "red"},
    ),
    # FROM clause, with + and # wildcards
    ("SELECT temperature AS t FROM 'topic/subtopic'", "topic/subtopic", {"temperature": 50}, {"t": 50}),
    ("SELECT temperature AS t FROM 'topic/subtopic'", "topic/subtopic-2", {"temperature": 50}, NOT_TRIGGERED),
    ("SELECT temperature AS t FROM 'topic/#'", "topic/subtopic", {"temperature": 50}, {"t": 50}),
    ("SELECT temperature AS t FROM 'topic/#'", "topic/subtopic-2", {"temperature": 60}, {"t": 60}),
    ("SELECT temperature AS t FROM 'topic/#'", "topic/subtopic-3/details", {"temperature": 70}, {"t": 70}),
    ("SELECT temperature AS t FROM 'topic/#'", "topic-2/subtopic-x", {"temperature": 80}, NOT_TRIGGERED),
    ("SELECT temperature AS t FROM 'topic/+'", "topic/subtopic-2", {"temperature": 60}, {"t": 60}),
    (
        "SELECT temperature AS t FROM 'topic/+'",
        "topic/subtopic-3/details",
        {"temperature": 70},
        NOT_TRIGGERED,
    ),
    # WHERE clause
    (
        "SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'",
        "topic/subtopic",
        {"color": "red", "temperature": 40},
        NOT_TRIGGERED,
    ),
    (
        "SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' "
        "WHERE decode(encode(*, 'base64'), 'base64') > 50",
        "topic/subtopic",
        b"80",
        {"value": 80},
    ),
    # SQL versions: an array as the top-level result
    ("SELECT VALUE arr FROM 'topic'", "topic", {"a": {"b": "c"}, "arr": [1, 2, 3, 4]}, [1, 2, 3, 4]),
    # Nested object queries
    (
        "SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
        "my/topic",
        SENML,
        {"sensors": ["temperature", "light", "acidity"]},
    ),
    (
        "SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
        "my/topic",
        SENML,
        {"temperature": [{"v": 22.5}]},
    ),
    (
        "SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'",
        "topic",
        SENML,
        {"temperature": 22.5},
    ),
    # Literals
    (
        "SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'",
        "topic/subtopic",
        {"lat_long": [47.606, -122.332]},
        {"lat_long": {"latitude": 47.606, "longitude": -122.332}},
    ),
    (
        "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
        "topic/subtopic",
        {"lat": 47.606, "long": -122.332},
        {"lat_long": [47.606, -122.332]},
    ),
    # Case statements
    (
        """SELECT CASE color
                WHEN 'green' THEN 'go'
                WHEN 'yellow' THEN 'caution'
                WHEN 'red' THEN 'stop'
                ELSE 'you are not at a stop light' END as instructions
            FROM 'topic/subtopic'""",
        "topic/subtopic",
        {"color": "yellow"},
        {"instructions": "caution"},
    ),
    # JSON extensions
    (
        """SELECT * from 'iot/rules' WHERE get(get(get(mydata,"item2"),"0"),"my-key") = "myValue\"""",
        "iot/rules",
        {"mydata": {"item2": {"0": {"my-key": "myValue"}}}},
        {"mydata": {"item2": {"0": {"my-key": "myValue"}}}},
    ),
    (
        "SELECT temp, md5(deviceid) AS hashed_id FROM 'topic/#'",
        "topic/x",
        DEVICE,
        {"temp": 54.98, "hashed_id": "e37f81fb397e595c4aeb5645b8cbbbd1"},
    ),
    # Data types: an explicit Null
    ("SELECT NULL AS n FROM 'topic/subtopic'", "topic/subtopic", {}, {"n": None}),
    # decode(): a base64 JSON document becomes addressable
    (
        """SELECT decode(encoded_temp,"base64").temperature AS temp from 'topic/subtopic'""",
        "topic/subtopic",
        {"encoded_temp": "eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg=="},
        {"temp": 33},
    ),
    # Substitution templates page: the rule's SQL adds a timestamp
    (
        "SELECT *, timestamp() AS timestamp FROM 'my/iot/topic'",
        "my/iot/topic",
        DEVICE,
        {**DEVICE, "timestamp": NOW_MS},
    ),
    # DynamoDB tutorial: flattening a nested object
    (
        "SELECT temperature, humidity, barometer, wind.velocity as wind_velocity, "
        "wind.bearing as wind_bearing FROM 'device/+/data'",
        "device/22/data",
        {"temperature": 28, "humidity": 80, "barometer": 1013, "wind": {"velocity": 22, "bearing": 255}},
        {"temperature": 28, "humidity": 80, "barometer": 1013, "wind_velocity": 22, "wind_bearing": 255},
    ),
    # Binary payloads: extra data on a JSON payload
    (
        "SELECT *, principal() as principal, timestamp() as time FROM 'topic/subtopic'",
        "topic/subtopic",
        {"a": 1},
        {
            "a": 1,
            "principal": "ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373",
            "time": NOW_MS,
        },
    ),
]


@pytest.mark.parametrize(("sql", "topic", "payload", "expected"), GUIDE_EXAMPLES)
def test_developer_guide_examples(sql, topic, payload, expected):
    principal = "ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373"
    assert run(sql, payload, topic, principal=principal) == expected


# Function examples from the "Functions" page: SELECT <expression> AS r FROM 't'.
FUNCTION_EXAMPLES = [
    ("abs(-5)", 5),
    ("abs('-5.123')", 5.123),
    ("bitand(13, 5)", 5),
    ("bitor(8, 5)", 13),
    ("cast(true as Int)", 1),
    ("ceil(1.2)", 2),
    ("ceil(-1.2)", -1),
    ("floor(-1.2)", -2),
    ("chr(65)", "A"),
    ("concat()", "<undefined>"),
    ("concat(1)", 1),
    ("concat([1, 2, 3], 4)", [1, 2, 3, 4]),
    ("concat([1, 2, 3], 'hello', [4, 5, 6])", [1, 2, 3, "hello", 4, 5, 6]),
    ('concat("he","is","man")', "heisman"),
    ("concat(1, 'hello')", "1hello"),
    ("endswith('cat','at')", True),
    ("startswith('ranger','ran')", True),
    ("get(['a', 'b', 'c'], 1)", "b"),
    ("get({'a':'b'}, 'a')", "b"),
    ("indexof('abcd', 'bc')", 1),
    ("isNull(5)", False),
    ("isNull(Null)", True),
    ("isUndefined(5)", False),
    ("isUndefined(floor([1,2,3]))", True),
    ("length('hi')", 2),
    ("length(false)", 5),
    ("log(100)", 2),
    ("lower('HELLO')", "hello"),
    ("lower(['HELLO'])", '["hello"]'),
    ("upper(['hello'])", '["HELLO"]'),
    ("lpad('hello', 2)", "  hello"),
    ("rpad(1, 3)", "1   "),
    ("Ltrim(' h i ')", "h i "),
    ("rtrim(' h i ')", " h i"),
    ("Trim(' hi ')", "hi"),
    ("md5('hello')", "5d41402abc4b2a76b9719d911017c592"),
    ("mod(8, 3)", 2),
    ("8 % 3", 2),
    ("Nanvl(8, 3)", 8),
    ("numbytes('€')", 3),
    ("power(2, 5)", 32),
    ("regexp_matches('aaaa', 'a{2,}')", True),
    ("regexp_matches('aaaa', 'b')", False),
    ("regexp_replace('abcd', 'bc', 'x')", "axd"),
    ("regexp_replace('abcd', 'b(.*)d', '$1')", "ac"),
    ("regexp_substr('hihihello', 'hi')", "hi"),
    ("regexp_substr('hihihello', '(hi)*')", "hihi"),
    ("remainder(8, 3)", 2),
    ("replace('abcdabcd', 'b', 'x')", "axcdaxcd"),
    ("Round(1.2)", 1),
    ("Round(1.5)", 2),
    ("Round(-1.1)", -1),
    ("Round(-1.5)", -2),
    ("sign(-7)", -1),
    ("sign(0)", 0),
    ("sqrt(9)", 3),
    ("substring('012345', 2)", "2345"),
    ("substring('012345', 2.745)", "2345"),
    ("substring(123, 2)", "3"),
    ("substring('012345', -1)", "012345"),
    ("substring(true, 1.2)", "rue"),
    ("substring('012345', 1, 3)", "12"),
    ("substring('012345', -50, 50)", "012345"),
    ("substring('012345', 3, 1)", ""),
    ("sql_version()", "2016-03-23"),
    ("trunc(2.3, 0)", 2),
    ("trunc(2.3123, 2)", 2.31),
    ("trunc(2.888, 2)", 2.88),
    ("trunc(2.00, 5)", 2),
    ("accountid()", "123456789012"),
]


@pytest.mark.parametrize(("expression", "expected"), FUNCTION_EXAMPLES)
def test_function_examples(expression, expected):
    result = run(f"SELECT {expression} AS r FROM 't'", {}, "t")
    assert result == ({} if expected == "<undefined>" else {"r": expected})


def test_topic_functions_read_the_message_topic():
    result = run(
        "SELECT topic() AS whole, topic(1) AS first, topic(3) AS third, topic(9) AS missing FROM 'things/#'",
        {},
        "things/myThings/thingOne",
    )
    assert result == {"whole": "things/myThings/thingOne", "first": "things", "third": "thingOne"}


def test_clientid_and_timestamp_come_from_the_message():
    assert run("SELECT clientid() AS c, timestamp() AS t FROM 'a'", {}, "a", clientid="lys") == {
        "c": "lys",
        "t": NOW_MS,
    }
    # Messages not sent over MQTT have no client id: AWS documents "n/a".
    assert run("SELECT clientid() AS c FROM 'a'", {}, "a", clientid=None) == {"c": "n/a"}


def test_newuuid_gives_a_fresh_uuid_each_time():
    statement = parse("SELECT newuuid() AS id FROM 'a'")
    first = statement.evaluate(b"{}", ctx("a"))["id"]
    second = statement.evaluate(b"{}", ctx("a"))["id"]
    assert len(first) == 36 and first.count("-") == 4 and first != second


def test_unaliased_items_are_named_after_the_field_or_function():
    assert run("SELECT color, coords.latitude, topic(1) FROM 'a/b'", {**DEVICE, "color": "red"}, "a/b") == {
        "color": "red",
        "latitude": 47.615694,
        "topic": "a",
    }


# --- Undefined and the operator tables --------------------------------------------------------


def test_missing_fields_are_left_out_of_the_output():
    assert run("SELECT color, nothing, nothing.deeper AS d FROM 'a'", COLOR, "a") == {"color": "red"}


@pytest.mark.parametrize(
    "where",
    [
        "nothing > 5",  # comparison with Undefined is Undefined
        "NOT (nothing > 5)",  # and so is its negation
        "nothing = nothing",
        "nothing <> 1",
        "temperature > 5 AND nothing",  # AND with a non-boolean is Undefined
        "color",  # a string that is not "true"/"false" is not a condition
        "temperature",  # nor is a number
    ],
)
def test_where_acts_only_when_exactly_true(where):
    assert run(f"SELECT * FROM 'a' WHERE {where}", COLOR, "a") is NOT_TRIGGERED


@pytest.mark.parametrize(
    ("where", "triggered"),
    [
        ("temperature = 50.0", True),  # Int and Decimal compare as numbers
        ("temperature = '50'", False),  # mismatched types are not equal
        ("temperature > '49.5'", True),  # ordering converts numeric strings to Decimal
        ("flag AND 'TRUE'", True),  # "true"/"false" strings work as booleans
        ("NOT flag", False),
        ('color = "red"', True),  # double-quoted text is a string literal
        ("color IN ['blue', 'red']", True),
        ("temperature >= 50 AND temperature <= 50 AND temperature < 51", True),
        ("(temperature > 100 OR color = 'red') AND NOT (temperature < 0)", True),
        ("-temperature = -50", True),
    ],
)
def test_where_operators(where, triggered):
    payload = {**COLOR, "flag": True}
    assert (run(f"SELECT * FROM 'a' WHERE {where}", payload, "a") is not None) is triggered


def test_arithmetic_follows_the_operator_tables():
    result = run(
        "SELECT 7 / 2 AS int_div, 7.5 / 2 AS dec_div, 'a' + 1 AS concat, '5' - 2 AS numeric_string, "
        "-7 % 3 AS remainder, 1 / 0 AS by_zero, 'x' * 2 AS bad FROM 'a'",
        {},
        "a",
    )
    assert result == {"int_div": 3, "dec_div": 3.75, "concat": "a1", "numeric_string": 3, "remainder": -1}


def test_keywords_are_case_insensitive_but_field_names_are_not():
    sql = "sElEcT color As c, Color AS wrong FrOm 'a/b' wHeRe temperature > 10 aNd NoT false"
    assert run(sql, COLOR, "a/b") == {"c": "red"}


def test_select_alias_with_dots_builds_nested_objects():
    payload = {"foo": {"bar": "RED", "bar1": "GREEN"}}
    assert run("SELECT foo.bar AS bar.baz FROM 'topic/subtopic'", payload) == {"bar": {"baz": "RED"}}


# --- binary payloads --------------------------------------------------------------------------

BINARY = bytes([0x00, 0xFF, 0x10, 0x80]) + b"raw"


def test_select_star_passes_a_binary_payload_through_unchanged():
    assert run("SELECT * FROM 'topic/subtopic'", BINARY) == BINARY
    assert run("SELECT * FROM 'topic/subtopic' WHERE timestamp() % 12 = 0", BINARY) == (
        BINARY if NOW_MS % 12 == 0 else None
    )


def test_binary_payload_can_be_base64_encoded_into_json():
    result = run("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'topic/subtopic'", BINARY)
    assert result == {"data": base64.b64encode(BINARY).decode(), "ts": NOW_MS}


def test_fields_of_a_binary_payload_are_undefined():
    assert run("SELECT * FROM 'topic/subtopic' WHERE device_type = 'thermostat'", BINARY) is NOT_TRIGGERED


# --- SQL versions -----------------------------------------------------------------------------


def test_whole_decimals_become_ints_only_in_2016_03_23():
    assert json.dumps(run("SELECT 10.0 AS a, reading FROM 'a'", {"reading": 21.0}, "a", version=V2)) == (
        '{"a": 10, "reading": 21}'
    )
    assert json.dumps(run("SELECT 10.0 AS a, reading FROM 'a'", {"reading": 21.0}, "a", version=V1)) == (
        '{"a": 10.0, "reading": 21.0}'
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT {'a': 1} AS o FROM 'a'",
        "SELECT [1, 2] AS l FROM 'a'",
        "SELECT (SELECT VALUE n FROM e) AS s FROM 'a'",
        "SELECT encode(*, 'base64') AS data FROM 'a'",
        "SELECT * FROM 'a' WHERE isUndefined(x)",
        "SELECT cast(x AS Boolean) AS b FROM 'a'",
    ],
)
def test_2016_features_are_refused_in_2015_10_08(sql):
    parse(sql, V2)  # fine in the recommended version
    with pytest.raises(SqlParseError) as info:
        parse(sql, V1)
    assert "2016-03-23" in info.value.message and "awsIotSqlVersion" in (info.value.fix or "")


def test_unknown_sql_version_is_refused():
    with pytest.raises(SqlParseError) as info:
        parse("SELECT * FROM 'a'", "2020-01-01")
    assert info.value.aws_code == "InvalidRequestException"


# --- malformed statements ---------------------------------------------------------------------

MALFORMED = [
    ("", "tom"),
    ("   ", "tom"),
    ("FROM 'a' SELECT *", "begynne med SELECT"),
    ("SELECT *", "mangler FROM"),
    ("SELECT * FROM topic/subtopic", "enkle anførselstegn"),
    ('SELECT * FROM "topic/subtopic"', "enkle anførselstegn"),
    ("SELECT FROM 'a'", "SELECT mangler felt"),
    ("SELECT a, FROM 'a'", "komma rett foran FROM"),
    ("SELECT a b FROM 'a'", "Uventet «b»"),
    ("SELECT * FROM 'a' WHERE", "slutter før den er ferdig"),
    ("SELECT * FROM 'a' WHERE x != 1", "<>"),
    ("SELECT * FROM 'a' WHERE x = 'unterminated", "Tegnet"),
    ("SELECT (a FROM 'a'", "Uventet"),
    ("SELECT * FROM 'a' -- a comment", "kommentarer"),
    ("SELECT nosuchfunction(1) AS x FROM 'a'", "finnes ikke"),
    ("SELECT topic(1, 2, 3) AS x FROM 'a'", "tar 0–1 argument"),
    ("SELECT get_dynamodb('t', 'k', 'v', 'arn') AS x FROM 'a'", "lokale skyen kan ikke"),
    ("SELECT cast(x AS Banana) AS b FROM 'a'", "kjenner ikke typen"),
    ("SELECT * FROM 'a/#/b'", "«#» kan bare stå alene"),
    ("SELECT * FROM 'a/b+'", "«+» må stå alene"),
    ("SELECT * FROM ''", "tomt"),
    ("SELECT * FROM 'a' WHERE x > 1;", "Tegnet «;»"),
]


@pytest.mark.parametrize(("sql", "said"), MALFORMED)
def test_malformed_statements_are_refused_in_norwegian_with_an_aws_message(sql, said):
    with pytest.raises(SqlParseError) as info:
        parse(sql)
    error = info.value
    assert isinstance(error, CourseError)
    assert said in str(error)
    assert error.aws_code == "SqlParseException"
    assert error.aws_message.startswith("The Rule-SQL expression can't be parsed correctly.")


def test_parse_error_says_where_the_problem_is():
    with pytest.raises(SqlParseError) as info:
        parse("SELECT color\nFROM 'a'\nWHERE temperature >> 5")
    assert (info.value.line, info.value.column) == (3, 20)
    assert "linje 3, kolonne 20" in info.value.message


# --- topic filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("knapp/trykk", "knapp/trykk", True),
        ("knapp/trykk", "knapp/Trykk", False),  # topics are case-sensitive
        ("hus/+/lys", "hus/stue/lys", True),
        ("hus/+/lys", "hus/stue/kjokken/lys", False),
        ("hus/#", "hus", True),  # MQTT: '#' includes the parent level
        ("hus/#", "hus/a/b/c", True),
        ("#", "hus/a", True),
        ("#", "$aws/things/lys/shadow/update/accepted", False),  # wildcards skip $-topics
        ("+/things/+/shadow/update", "$aws/things/lys/shadow/update", False),
        ("$aws/things/+/shadow/update/accepted", "$aws/things/lys/shadow/update/accepted", True),
    ],
)
def test_topic_filter_matching(topic_filter, topic, matches):
    assert topic_matches(topic_filter, topic) is matches


def test_rules_may_select_from_shadow_topics():
    statement = parse("SELECT state.reported.on AS on FROM '$aws/things/+/shadow/update/accepted'")
    assert statement.topic_filter == "$aws/things/+/shadow/update/accepted"
    payload = json.dumps({"state": {"reported": {"on": True}}, "version": 3}).encode()
    assert statement.evaluate(payload, ctx("$aws/things/lys/shadow/update/accepted")) == {"on": True}
    assert statement.evaluate(payload, ctx("$aws/things/lys/shadow/update/rejected")) is None


# --- substitution templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${topic()}/republish", "my/iot/topic/republish"),
        ("varsel/${topic(2)}", "varsel/iot"),
        ("${clientid()}", "knapp-1"),
        ("${timestamp()}", str(NOW_MS)),
        ("${deviceid}-${coords.latitude}", "iot123-47.615694"),
        ("[${nothing}]", "[]"),  # Undefined becomes the empty string
        ("${replace(topic(), '/', '-') + '-' + timestamp()}", f"my-iot-topic-{NOW_MS}"),
        ("${concat('a', '}')}", "a}"),  # a brace inside a string does not end the template
        ("no template at all", "no template at all"),
    ],
)
def test_substitution_templates(template, expected):
    assert substitute(template, json.dumps(DEVICE).encode(), ctx("my/iot/topic")) == expected


def test_substitution_template_casts_like_the_dynamodb_tutorial():
    assert substitute("${cast(topic(2) AS DECIMAL)}", b"{}", ctx("device/22/data")) == "22"


def test_bad_substitution_template_is_refused():
    with pytest.raises(SqlParseError):
        substitute("${topic(}", b"{}", ctx())
    with pytest.raises(SqlParseError) as info:
        substitute("a/${topic()", b"{}", ctx())
    assert "uten avsluttende" in info.value.message


# --- SET clause (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html) -----------


def test_set_variable_is_used_in_select():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
    # The guide's "basic usage" example (its division is Int/Int here, so a Decimal literal).
    sql = "SET @temp_celsius = (temp_fahrenheit - 32) * 5.0 / 9 SELECT @temp_celsius AS celsius, humidity FROM 'device/data'"
    got = run(sql, {"temp_fahrenheit": 77, "humidity": 60}, "device/data")
    assert got == {"celsius": 25, "humidity": 60}


def test_set_variable_members_in_select_and_where():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
    # The guide's "access members in an embedded JSON object" example, with a WHERE on the variable.
    sql = ("SET @device_sensor_data = device1.deviceData.sensors "
           "SELECT @device_sensor_data.temp_fahrenheit AS temp_fahrenheit, @device_sensor_data.humidity AS humidity "
           "FROM 'device/data' WHERE @device_sensor_data.humidity > 50")
    payload = {"device1": {"deviceId": "weather_sensor",
                           "deviceData": {"sensors": {"temp_fahrenheit": 75, "humidity": 60}}}}
    assert run(sql, payload, "device/data") == {"temp_fahrenheit": 75, "humidity": 60}
    payload["device1"]["deviceData"]["sensors"]["humidity"] = 40
    assert run(sql, payload, "device/data") is NOT_TRIGGERED


def test_set_several_variables_a_later_one_reads_an_earlier_one():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
    sql = "SET @a = n * 2, @b = @a + 1 SELECT @a AS a, @b AS b FROM 'x'"
    assert run(sql, {"n": 5}, "x") == {"a": 10, "b": 11}


def test_set_variable_in_a_nested_select():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
    sql = "SET @min = 100 SELECT (SELECT v FROM e WHERE v > @min) AS store FROM 'x'"
    assert run(sql, SENML, "x") == {"store": [{"v": 135}]}


def test_set_variable_reaches_substitution_templates():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
    statement = parse("SET @room = upper(topic(2)) SELECT * FROM 'hus/+/temp'")
    _, variables = statement.run(b"{}", ctx("hus/stue/temp"))
    assert substitute("varsel/${@room}", b"{}", ctx("hus/stue/temp"), V2, variables) == "varsel/STUE"


@pytest.mark.parametrize(("sql", "words"), [
    ("SET @a = 1, @a = 2 SELECT @a AS a FROM 'x'", ["«@a»", "to ganger"]),  # assigned once only
    ("SELECT @nope AS a FROM 'x'", ["«@nope»", "ikke satt"]),  # defined before use
    ("SET @a = @b, @b = 1 SELECT * FROM 'x'", ["«@b»", "ikke satt"]),
    ("SET @a = 1 SET @b = 2 SELECT * FROM 'x'", ["Uventet"]),  # SET only once
    ("SET @a > 1 SELECT * FROM 'x'", ["«=»"]),
    ("SET @" + "v" * 65 + " = 1 SELECT * FROM 'x'", ["lengre enn 64"]),  # names up to 64 characters
    ("SET @r = 'arn:aws:iam::123456789012:role/r' SELECT get_thing_shadow('t', @r) AS s FROM 'x'",
     ["roleArn", "variabel"]),  # roleArn parameters do not support variables
])
def test_set_rules_from_the_guide_are_enforced_at_create_time(sql, words):
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
    with pytest.raises(SqlParseError) as info:
        parse(sql, V2)
    assert info.value.aws_code == "SqlParseException"
    assert all(w in str(info.value) for w in words), str(info.value)


def test_a_field_named_set_is_still_a_field():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
    assert run("SELECT set FROM 'x'", {"set": 1}, "x") == {"set": 1}


# --- external functions (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html) --


class FakeServices:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def thing_shadow(self, thing, shadow, role):  # noqa: ANN001, ANN201
        self.calls.append(("shadow", thing, shadow, role))
        return {"state": {"reported": {"alarm": "ON"}}, "version": 3}

    def call_lambda(self, arn, event):  # noqa: ANN001, ANN201
        self.calls.append(("lambda", arn, event))
        return {"some": {"value": event.get("payload", event)}}


def test_get_thing_shadow_in_where_as_in_the_reference():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-sql-function-get-thing-shadow
    # The reference's own examples: classic and named shadow, member access on the result.
    role = "arn:aws:iam::123456789012:role/AllowsThingShadowAccess"
    services = FakeServices()
    for sql, shadow in [
        (f"SELECT * from 'topic/subtopic' WHERE get_thing_shadow(\"MyThing\",\"{role}\").state.reported.alarm = 'ON'",
         None),
        ("SELECT * from 'topic/subtopic' WHERE "
         f"get_thing_shadow(\"MyThing\",\"MyThingShadow\",\"{role}\").state.reported.alarm = 'ON'", "MyThingShadow"),
    ]:
        got = parse(sql, V2).evaluate(b'{"n": 1}', ctx(), external=services)
        assert got == {"n": 1}
        assert services.calls[-1] == ("shadow", "MyThing", shadow, role)


def test_get_thing_shadow_needs_sql_version_2016_03_23():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-sql-function-get-thing-shadow
    # "Supported by SQL version 2016-03-23 and later."
    with pytest.raises(SqlParseError):
        parse("SELECT get_thing_shadow('t', 'arn:aws:iam::1:role/r') AS s FROM 'x'", V1)


def test_aws_lambda_passes_an_object_literal_or_the_whole_payload():
    # https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-func-aws-lambda
    arn = "arn:aws:lambda:us-east-1:123456789012:function:lambda_function"
    services = FakeServices()
    sql = f"SELECT aws_lambda(\"{arn}\", {{\"payload\":attribute1}}) as output FROM 'topic-filter'"
    got = parse(sql, V2).evaluate(b'{"attribute1": 21, "attribute2": "value"}', ctx("topic-filter"), external=services)
    assert got == {"output": {"some": {"value": 21}}}
    assert services.calls[-1] == ("lambda", arn, {"payload": 21})
    star = f"SELECT aws_lambda(\"{arn}\", *).some.value AS v FROM 'topic-filter'"
    got = parse(star, V2).evaluate(b'{"attribute1": 21}', ctx("topic-filter"), external=services)
    assert got == {"v": {"attribute1": 21}}


def test_external_function_without_services_fails_clearly():
    # https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html (no external
    # functions in an error action's templates)
    from kurs.sky.rules.external import ExternalFunctionError

    with pytest.raises(ExternalFunctionError) as info:
        parse("SELECT aws_lambda('arn:aws:lambda:eu-west-1:1:function:f', *) AS o FROM 'x'").evaluate(b"{}", ctx("x"))
    assert "kan ikke brukes her" in str(info.value)
