"""Which API requests a learner in a room may make (kurs.room.access), on requests exactly as
boto3 builds them (captured before sending), so every protocol's way of naming a resource is seen."""

from __future__ import annotations

import json

import boto3
import pytest

from kurs.room import access, code

ARN = "arn:aws:iot:eu-west-1:123456789012"


class _Captured(Exception):  # noqa: N818
    def __init__(self, request) -> None:  # noqa: ANN001
        self.request = request


def _request(service: str, operation: str, **params) -> access.Request:  # noqa: ANN003
    client = boto3.client(service, region_name="eu-west-1", endpoint_url="https://127.0.0.2:5055",
                          aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x" * 40)

    def capture(request, **kwargs):  # noqa: ANN001, ANN003, ANN202
        raise _Captured(request)

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Captured) as caught:
        getattr(client, operation)(**params)
    sent = caught.value.request
    path, _, query = sent.url.split("5055", 1)[1].partition("?")
    headers = {k.lower(): v for k, v in sent.headers.items()}
    body = sent.body if isinstance(sent.body, bytes) else (sent.body or "").encode()
    scope = client.meta.service_model.signing_name
    return access.Request(scope, sent.method, path + (f"?{query}" if query else ""), query,
                          lambda name: _text(headers.get(name.lower())), body)


def _text(value):  # noqa: ANN001, ANN202
    return value.decode() if isinstance(value, bytes) else value


def _decide(service: str, operation: str, owned: tuple[str, ...] = (), **params) -> str | None:  # noqa: ANN003
    return access.decide("ida", _request(service, operation, **params), lambda cert: cert in owned)[1]


@pytest.mark.parametrize(("service", "operation", "params"), [
    ("iot", "create_thing", {"thingName": "ida-knapp"}),
    ("iot", "describe_thing", {"thingName": "ida-knapp"}),
    ("iot", "list_things", {}),
    ("iot", "describe_endpoint", {"endpointType": "iot:Data-ATS"}),
    ("iot", "attach_thing_principal", {"thingName": "ida-knapp", "principal": f"{ARN}:cert/abc"}),
    ("iot", "attach_policy", {"policyName": "kurs-ida-knapp", "target": f"{ARN}:cert/abc"}),
    ("iot-data", "publish", {"topic": "kurs/par/ida-ola/state", "payload": b"{}"}),
    ("iot-data", "update_thing_shadow", {"thingName": "ida-lys", "payload": b"{}"}),
    ("lambda", "get_function", {"FunctionName": "kurs-ida-veksle"}),
    ("dynamodb", "describe_table", {"TableName": "kurs-ida-trykk"}),
    ("iam", "create_role", {"RoleName": "kurs-ida-rolle", "AssumeRolePolicyDocument": "{}"}),
    ("sts", "get_caller_identity", {}),
    # Letting AWS IoT invoke one's own function, as a rule's lambda action needs (notebook 06;
    # https://docs.aws.amazon.com/iot/latest/developerguide/lambda-rule-action.html).
    ("lambda", "add_permission", {"FunctionName": "kurs-ida-f", "StatementId": "iot", "Action": "lambda:InvokeFunction",
                                  "Principal": "iot.amazonaws.com",
                                  "SourceArn": "arn:aws:iot:eu-west-1:123456789012:rule/kurs_ida_r"}),
    ("iot", "create_topic_rule", {"ruleName": "kurs_ida_egen", "topicRulePayload": {
        "sql": "SELECT get_thing_shadow('ida-lys', 'arn:aws:iam::1:role/kurs-ida-r') AS s, "
               "aws_lambda('arn:aws:lambda:eu-west-1:1:function:kurs-ida-f', *) AS r FROM 'devices/ida-knapp/x'",
        "actions": []}}),
])
def test_a_learner_may_use_own_resources_and_the_pair_space(service, operation, params):
    assert _decide(service, operation, ("abc",), **params) is None


@pytest.mark.parametrize(("service", "operation", "params", "words"), [
    ("iot", "describe_thing", {"thingName": "ola-knapp"}, "tingen «ola-knapp» er ikke din"),
    ("iot", "delete_thing", {"thingName": "idaknapp"}, "er ikke din"),
    ("iot", "attach_thing_principal", {"thingName": "ida-knapp", "principal": f"{ARN}:cert/olas"},
     "sertifikatet er ikke ditt"),
    ("iot", "list_attached_policies", {"target": f"{ARN}:cert/olas"}, "sertifikatet er ikke ditt"),
    ("iot", "update_certificate", {"certificateId": "0" * 64, "newStatus": "INACTIVE"}, "sertifikatet er ikke ditt"),
    ("iot-data", "publish", {"topic": "devices/ola-knapp/events", "payload": b"{}"}, "ikke ditt"),
    ("iot-data", "publish", {"topic": "state", "payload": b"{}"}, "ikke ditt"),
    ("iot-data", "get_thing_shadow", {"thingName": "ola-lys"}, "ikke din"),
    ("lambda", "invoke", {"FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:kurs-ola-f"}, "ikke din"),
    ("dynamodb", "put_item", {"TableName": "kurs-ola-trykk", "Item": {}}, "ikke din"),
    ("iam", "create_access_key", {"UserName": "rom-ola"}, "IAM-brukere og nøkler"),
    ("iam", "get_user", {"UserName": "rom-ola"}, "IAM-brukeren «rom-ola» er ikke din"),
    ("iot-data", "get_retained_message", {"topic": "kurs/rom/ola/fremdrift/1"}, "ikke ditt"),
    ("iot", "create_policy", {"policyName": "kurs-ida-alt", "policyDocument": json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})}, "policyen gir tilgang"),
    ("iot", "create_topic_rule", {"ruleName": "kurs_ida_lytt", "topicRulePayload": {
        "sql": "SELECT * FROM 'devices/+/events'", "actions": []}}, "regelen må lese fra et emne som er ditt"),
    ("iot", "create_topic_rule", {"ruleName": "kurs_ida_send", "topicRulePayload": {
        "sql": "SELECT * FROM 'devices/ida-knapp/events'",
        "actions": [{"republish": {"topic": "devices/ola-lys/x", "roleArn": "arn:aws:iam::1:role/kurs-ida-r"}}]}},
     "regelen vil sende til"),
    # SQL functions reach past the FROM topic (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html):
    ("iot", "create_topic_rule", {"ruleName": "kurs_ida_kikk", "topicRulePayload": {
        "sql": "SELECT get_thing_shadow('ola-lys', 'arn:aws:iam::1:role/kurs-ida-r') AS s FROM 'devices/ida-knapp/x'",
        "actions": []}}, "get_thing_shadow() på skyggen 'ola-lys'"),
    ("iot", "create_topic_rule", {"ruleName": "kurs_ida_kikk", "topicRulePayload": {
        "sql": "SELECT get_thing_shadow(topic(3), 'arn:aws:iam::1:role/kurs-ida-r') AS s FROM 'kurs/par/io/+'",
        "actions": []}}, "get_thing_shadow() på skyggen topic(3"),
    ("iot", "create_topic_rule", {"ruleName": "kurs_ida_kall", "topicRulePayload": {
        "sql": "SELECT aws_lambda('arn:aws:lambda:eu-west-1:1:function:kurs-ola-f', *) AS r FROM 'devices/ida-knapp/x'",
        "actions": []}}, "aws_lambda() på funksjonen"),
    ("lambda", "add_permission", {"FunctionName": "kurs-ida-f", "StatementId": "alle", "Action": "lambda:InvokeFunction",
                                  "Principal": "*"}, "«*» er ikke ditt"),
])
def test_everything_else_is_refused_with_a_norwegian_reason(service, operation, params, words):
    reason = _decide(service, operation, **params)
    assert reason is not None and words in reason


def test_the_course_policy_for_the_room_passes_and_wildcards_before_the_own_segment_do_not():
    from kurs.provisioning.device_policy import wrap
    from kurs.room import device_policy

    assert access.policy_problem("ida", json.dumps(wrap(device_policy.statements("ida")(ARN)))) is None
    for resource in (f"{ARN}:topic/*", f"{ARN}:topic/devices/*/ida-x", f"{ARN}:client/*", f"{ARN}:client/ola-x",
                     f"{ARN}:topic/kurs/rom/ola/fremdrift", f"{ARN}:topic/$aws/things/ola-x/shadow/update",
                     f"{ARN}:topic/kurs/par/"):
        document = json.dumps({"Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": resource}]})
        assert access.policy_problem("ida", document), resource
    publish_broadcast = json.dumps({"Statement": [{"Effect": "Allow", "Action": "iot:Publish",
                                                   "Resource": f"{ARN}:topic/{device_policy.BROADCAST}"}]})
    assert access.policy_problem("ida", publish_broadcast)  # only the instructor speaks to everyone


def test_the_class_code_pins_the_ca_and_survives_how_people_type_it():
    made = code.new_code(b"ca-der")
    assert code.well_formed(made) and code.pinned_fragment(made) == code.fingerprint(b"ca-der")
    assert code.same(made.lower().replace("-", " "), made)
    assert not code.well_formed("K7QM") and not code.same("AAAA-" + made[5:], made) or made.startswith("AAAA")


def test_guessing_class_codes_pauses_the_join_endpoint(monkeypatch, tmp_path):
    from kurs.room import roster
    from kurs.room.host import MAX_FAILED_JOINS, JoinRefused, RoomHost

    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    right = code.new_code(b"ca")
    host = RoomHost(roster.Room(address="127.0.0.2", code=right), b"ca", "123456789012")
    for _ in range(MAX_FAILED_JOINS):
        with pytest.raises(JoinRefused) as refused:
            host.join("AAAA-" + right[5:] if not right.startswith("AAAA") else "BBBB-" + right[5:], "Per", "", "x")
        assert refused.value.status == 403 and "Klassekoden stemmer ikke" in str(refused.value)
    with pytest.raises(JoinRefused) as paused:
        host.join(right, "Per", "", "x")  # even the right code waits: someone is guessing
    assert paused.value.status == 429 and "Vent et minutt" in str(paused.value)



class _SilentClient:
    """What RoomWatcher needs of a paho client, with no broker behind it."""

    on_message = None

    def subscribe(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None

    def unsubscribe(self, *args):  # noqa: ANN002, ANN201
        return None

def test_the_overview_attributes_every_message_to_its_learner(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from kurs.room import overview, roster

    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    room = roster.Room(address="127.0.0.2", code="AAAA-BBBB")
    for name in ("Ida", "Ida2"):
        slug = name.lower()
        room.learners[slug] = roster.Learner(name, slug, "AKIA" + slug, "secret")
    roster.save(room)

    watcher = overview.RoomWatcher(client=_SilentClient(), retained=False)

    def send(topic: str, payload: dict | str, retain: bool = False) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        watcher._on_message(None, None, SimpleNamespace(topic=topic, payload=data.encode(), retain=retain))

    send("kurs/rom/ida2/fremdrift/4", {"oppgave": 4, "bestatt": True}, retain=True)
    send("kurs/rom/ida/kort/ida-lys", {"kort": "ida-lys", "lys": True, "trykk": None, "tilkoblet": True})
    send("$aws/events/presence/disconnected/ida-lys", {"clientId": "ida-lys"})
    send("$aws/events/presence/connected/ida-notatbok", {"clientId": "ida-notatbok"})
    send("kurs/par/ida2-ida/state", {"on": True})
    learners = {x.slug: x for x in watcher.learners()}
    assert learners["ida2"].passed == {4: True} and learners["ida"].passed == {}
    assert learners["ida"].boards["ida-lys"].led is True
    assert learners["ida"].boards["ida-lys"].connected is False  # the lifecycle event has the last word
    assert "ida-notatbok" not in learners["ida"].boards  # the notebook is not a board
    assert [m.topic for m in watcher.messages("ida2")] == ["kurs/par/ida2-ida/state"]  # retained: not "live"
    assert "Ida2 (ida2-)   oppgaver: 1· 2· 3· 4✓" in overview.text(watcher)


@pytest.mark.parametrize("name, topic", [
    ("Things", "$aws/things/ida-knapp/shadow/update"),  # would own everyone's shadows
    ("Devices", "devices/ida-knapp/events"),  # everyone's button presses
    ("Rom", "kurs/rom/ida/fremdrift/1"),  # could fake another learner's progress
    ("Kurs", "kurs/#"),
])
def test_a_name_that_is_a_topic_word_is_refused_because_it_would_own_others_topics(name, topic):
    from kurs.errors import CourseError
    from kurs.room.names import slug

    assert access.topic_allowed(name.lower(), topic)  # why: ownership is "a segment is your prefix"
    with pytest.raises(CourseError, match="bruker ordet"):
        slug(name)
    assert slug("Ida") == "ida" and slug("Things2") == "things2"
    assert not access.topic_allowed("things2", topic)


def _smuggled(service: str, operation: str, query: str = "", body: bytes | None = None, **params) -> str | None:  # noqa: ANN003
    """A request as boto3 builds it for the learner's own resource, then with a second name added
    where moto would read it first: moto's ``_get_param`` takes the query string, then (when there is
    no query string) the body parsed as a form, then the JSON body, and only last the path."""
    sent = _request(service, operation, **params)
    path = sent.path.split("?", 1)[0]
    forged = access.Request(sent.service, sent.method, path + (f"?{query}" if query else ""), query, sent.headers,
                            sent.body if body is None else body)
    return access.decide("ida", forged, lambda cert: False)[1]


@pytest.mark.parametrize(("service", "operation", "query", "body", "params"), [
    ("iot", "describe_thing", "thingName=ola-knapp", None, {"thingName": "ida-knapp"}),
    ("iot", "update_thing", "", json.dumps({"attributePayload": {"attributes": {"x": "y"}},
                                            "description": "&thingName=ola-knapp&"}).encode(),
     {"thingName": "ida-knapp", "attributePayload": {"attributes": {"x": "y"}}}),
    ("iot-data", "update_thing_shadow", "", json.dumps({"thingName": "ola-lys", "state": {}}).encode(),
     {"thingName": "ida-lys", "payload": b"{}"}),
    ("iot", "create_policy", "", json.dumps({"policyDocument": "{}", "x": "&policyDocument=" + json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}) + "&"}).encode(),
     {"policyName": "kurs-ida-p", "policyDocument": "{}"}),
    ("logs", "get_log_events", "logGroupName=/aws/lambda/kurs-ola-f", None,
     {"logGroupName": "/aws/lambda/kurs-ida-f", "logStreamName": "s"}),
])
def test_a_second_name_where_moto_reads_first_is_refused(service, operation, query, body, params):
    assert _smuggled(service, operation, **params) is None  # the honest request passes
    assert _smuggled(service, operation, query, body, **params) is not None


@pytest.mark.parametrize("statement", [
    # NotResource allows every resource but the ones listed, NotAction every action but those listed
    # (IAM JSON policy elements, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html);
    # the broker evaluates both (kurs.sky.broker.policy), so they must not slip past the check.
    {"Effect": "Allow", "Action": "iot:*", "NotResource": f"{ARN}:topic/ingenting"},
    {"Effect": "Allow", "NotAction": "iot:Connect", "Resource": f"{ARN}:topic/kurs/rom/alle/beskjed"},
])
def test_a_policy_cannot_reach_others_through_not_resource_or_not_action(statement):
    assert access.policy_problem("ida", json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


@pytest.mark.parametrize("topic", [
    "devices/ola-knapp/events/ida",  # reaches Ola's subscriptions to devices/ola-knapp/# and rules FROM it
    "kurs/rom/ola/kort/ida",  # the overview would take it for Ola's board
    "$aws/things/ola-lys/shadow/update/ida",
    "ola-knapp/ida",
])
def test_a_topic_is_not_ones_own_because_a_later_segment_is_ones_prefix(topic):
    # A filter such as devices/ola-knapp/# matches every topic below it
    # (https://docs.aws.amazon.com/iot/latest/developerguide/topics.html), so the owner is the first
    # segment that is not one of the course's topic words, not any segment.
    assert not access.topic_allowed("ida", topic)
    assert access.topic_allowed("ola", topic)
    assert _decide("iot-data", "publish", topic=topic, payload=b"{}") is not None


def test_a_rule_reads_the_topic_its_from_clause_names_not_a_from_inside_a_string():
    # AWS IoT SQL strings may be in double quotes, and a nested SELECT has a FROM of its own
    # (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html); only the
    # statement's own FROM '<topic filter>' decides what the rule reads.
    for sql in ("""SELECT "FROM 'ida/x'" AS a FROM 'devices/ola-knapp/events'""",
                """SELECT (SELECT v FROM 'ida/x') AS a FROM 'devices/ola-knapp/events'"""):
        assert access.rule_problem("ida", {"sql": sql, "actions": []}), sql
    assert access.rule_problem("ida", {"sql": "SELECT * FROM 'devices/ida-knapp/events'", "actions": []}) is None


@pytest.mark.parametrize(("payload", "words"), [
    # dynamoDBv2 names its table inside putItem
    # (https://docs.aws.amazon.com/iot/latest/developerguide/dynamodb-v2-rule-action.html)
    ({"actions": [{"dynamoDBv2": {"roleArn": "arn:aws:iam::1:role/kurs-ida-r",
                                  "putItem": {"tableName": "kurs-ola-trykk"}}}]}, "tabell"),
    # errorAction runs when an action fails
    # (https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html)
    ({"actions": [], "errorAction": {"republish": {"topic": "devices/ola-knapp/events",
                                                   "roleArn": "arn:aws:iam::1:role/kurs-ida-r"}}}, "ikke er ditt"),
    # Substitution templates are filled in before the action runs
    # (https://docs.aws.amazon.com/iot/latest/developerguide/iot-substitution-templates.html)
    ({"actions": [{"lambda": {"functionArn": "${substring('arn:aws:lambda:eu-west-1:1:function:kurs-ida-f', 99)}"
                                             "arn:aws:lambda:eu-west-1:1:function:kurs-ola-f"}}]}, "Lambda"),
])
def test_every_action_of_a_rule_is_checked_where_it_names_its_target(payload, words):
    reason = access.rule_problem("ida", {"sql": "SELECT * FROM 'devices/ida-knapp/events'", **payload})
    assert reason is not None and words in reason


def test_a_learners_odd_report_on_own_topics_does_not_break_the_instructors_overview(monkeypatch, tmp_path):
    """Reports come from learners' code (kurs/rom/<prefix>/...): any JSON at all. One learner's
    {"lys": "x"} or {"oppgave": "x"} must not stop the overview for the whole room."""
    from types import SimpleNamespace

    from kurs.room import overview, roster

    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    room = roster.Room(address="127.0.0.2", code="AAAA-BBBB")
    for slug in ("ida", "ola"):
        room.learners[slug] = roster.Learner(slug.title(), slug, "AKIA" + slug, "secret")
    roster.save(room)

    watcher = overview.RoomWatcher(client=_SilentClient(), retained=False)

    def send(topic: str, payload: object) -> None:
        watcher._on_message(None, None, SimpleNamespace(topic=topic, payload=json.dumps(payload).encode(), retain=False))

    send("kurs/rom/ola/fremdrift/1", {"oppgave": "x", "bestatt": True})
    send("kurs/rom/ola/fremdrift/1", {"oppgave": 10**400, "bestatt": True})
    send("kurs/rom/ola/kort/ola-lys", {"kort": "ola-lys", "lys": "x", "trykk": "y", "tilkoblet": "z"})
    send("kurs/rom/ola/kort/ola-lys", {"kort": ["ola-lys"], "lys": [], "trykk": {}})
    send("kurs/rom/ola/kort/ola-lys", {"kort": "ola-lys", "trykk": float("inf")})  # json.loads takes Infinity
    send("kurs/rom/ida/kort/ida-lys", {"kort": "ida-lys", "lys": True, "trykk": None, "tilkoblet": True})
    assert "Ida (ida-)" in overview.text(watcher)
    learners = {x.slug: x for x in watcher.learners()}
    assert learners["ida"].boards["ida-lys"].led is True


@pytest.mark.parametrize(("service", "operation", "params"), [
    # A subscription filter invokes its destination function with the group's log events
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample)
    ("logs", "put_subscription_filter", {"logGroupName": "/aws/lambda/kurs-ida-f", "filterName": "kurs-ida-x",
                                         "filterPattern": "", "destinationArn": "arn:aws:lambda:eu-west-1:1:function:{}"}),
    # An event source mapping hands the stream's records (another's table) to the function
    # (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html)
    ("lambda", "create_event_source_mapping", {"FunctionName": "kurs-ida-f", "StartingPosition": "LATEST",
                                               "EventSourceArn": "arn:aws:dynamodb:eu-west-1:1:table/{}/stream/2026"}),
])
def test_an_arn_that_connects_own_resources_to_anothers_is_checked(service, operation, params):
    own = {k: v.format("kurs-ida-f" if "function" in v else "kurs-ida-t") for k, v in params.items()}
    other = {k: v.format("kurs-ola-f" if "function" in v else "kurs-ola-t") for k, v in params.items()}
    assert _decide(service, operation, **own) is None
    assert "er ikke ditt" in (_decide(service, operation, **other) or "")


def test_answers_that_list_log_groups_or_mappings_show_only_the_learners_own(monkeypatch, tmp_path):
    """DescribeLogGroups names every function's log group; ListEventSourceMappings every function's
    sources. Like ListFunctions, a learner sees only their own in a room."""
    from kurs.room import roster
    from kurs.room.host import RoomHost

    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    room = roster.Room(address="127.0.0.2", code="AAAA-BBBB")
    room.learners["ida"] = roster.Learner("Ida", "ida", "AKIAIDA", "secret")
    host = RoomHost(room, b"ca", "123456789012")
    answers = {"DescribeLogGroups": {"logGroups": [{"logGroupName": "/aws/lambda/kurs-ida-f"},
                                                   {"logGroupName": "/aws/lambda/kurs-ola-f"}]},
               "ListEventSourceMappings": {"EventSourceMappings": [
                   {"FunctionArn": "arn:aws:lambda:eu-west-1:1:function:kurs-ida-f"},
                   {"FunctionArn": "arn:aws:lambda:eu-west-1:1:function:kurs-ola-f"}]}}
    for service, operation, params in (("logs", "describe_log_groups", {}),
                                       ("lambda", "list_event_source_mappings", {})):
        sent = _request(service, operation, **params)
        op, _ = access.operation(sent)
        environ = {"REQUEST_METHOD": sent.method, "RAW_URI": sent.path, "QUERY_STRING": sent.query,
                   "HTTP_X_AMZ_TARGET": sent.headers("X-Amz-Target") or "",
                   "HTTP_AUTHORIZATION": sent.headers("Authorization")}
        def app(environ, start_response, op=op):  # noqa: ANN001, ANN202
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(answers[op]).encode()]

        body = json.loads(b"".join(host.guard("AKIAIDA", sent.service, environ, sent.body, app,
                                              lambda status, headers: None)))
        assert "ola" not in json.dumps(body) and "kurs-ida-f" in json.dumps(body), op
    assert _decide("logs", "describe_log_streams", logGroupIdentifier="/aws/lambda/kurs-ola-f")


def test_a_rule_may_not_republish_to_a_topic_its_own_from_reads():
    # A republish the rule's own FROM matches triggers the rule again, for ever: on the
    # instructor's laptop that is a loop that eats the room's cloud (and its log) for everyone.
    # https://docs.aws.amazon.com/iot/latest/developerguide/republish-rule-action.html
    for sql, topic in (("SELECT * FROM 'ida/loop'", "ida/loop"), ("SELECT * FROM 'ida/#'", "ida/${topic(2)}"),
                       ("SELECT * FROM 'kurs/par/+/x'", "kurs/par/ida-ola/x")):
        payload = {"sql": sql, "actions": [{"republish": {"topic": topic, "roleArn": "arn:aws:iam::1:role/kurs-ida-r"}}]}
        assert "løkke" in (access.rule_problem("ida", payload) or ""), (sql, topic)
    fine = {"sql": "SELECT * FROM 'ida/inn'", "actions": [{"republish": {"topic": "ida/ut", "roleArn": "r"}}]}
    assert access.rule_problem("ida", fine) is None


@pytest.mark.parametrize("scope", ["sts", "iot"])
def test_a_presigned_request_is_refused_because_moto_routes_it_by_path_not_by_its_scope(scope):
    # moto takes the service from the Authorization header's credential scope; a request signed in
    # the query string (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
    # has none, so moto guesses (S3, by the path) while the room judged it as ``scope``.
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    sent = AWSRequest(method="GET", url="https://127.0.0.2:5055/things/ida-knapp")
    SigV4QueryAuth(Credentials("AKIAEXAMPLE", "x" * 40), scope, "eu-west-1", expires=60).add_auth(sent)
    path, _, query = sent.url.split("5055", 1)[1].partition("?")
    request = access.Request(scope, "GET", f"{path}?{query}", query, lambda name: None, b"")
    assert "forhåndssignert" in (access.decide("ida", request, lambda cert: False)[1] or "")


def test_a_request_whose_scope_moto_cannot_read_is_refused():
    # SigV4 does not fix the order of Credential, SignedHeaders and Signature, but moto reads the
    # service from the first field only, and guesses (S3) when that is not the Credential.
    sent = _request("iot", "describe_thing", thingName="ida-knapp")
    auth = sent.headers("Authorization")
    algorithm, _, fields = auth.partition(" ")
    reordered = f"{algorithm} " + ", ".join(reversed([f.strip() for f in fields.split(",")]))
    forged = access.Request(sent.service, sent.method, sent.path, sent.query,
                            lambda name: reordered if name.lower() == "authorization" else sent.headers(name), sent.body)
    assert access.decide("ida", sent, lambda cert: False)[1] is None
    assert access.decide("ida", forged, lambda cert: False)[1] is not None


def test_a_compressed_body_is_refused_because_the_check_would_not_see_inside_it():
    # moto unpacks a body sent with Content-Encoding: gzip (botocore's request compression,
    # https://docs.aws.amazon.com/sdkref/latest/guide/feature-compression.html); the check saw the
    # compressed bytes, so a policy granting iot:* on * went through unread.
    import gzip

    sent = _request("iot", "create_policy", policyName="kurs-ida-gz", policyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}))
    packed = access.Request(sent.service, sent.method, sent.path, sent.query,
                            lambda name: "gzip" if name.lower() == "content-encoding" else sent.headers(name),
                            gzip.compress(sent.body))
    assert access.decide("ida", packed, lambda cert: False)[1] is not None


@pytest.mark.parametrize(("service", "operation", "body"), [
    # moto takes the operation from an "Action" parameter before X-Amz-Target or the path
    # (moto.core.responses.BaseResponse._get_action), and reads the body as a form when there is
    # no query string: ListTables became a PartiQL SELECT on another learner's table.
    ("dynamodb", "list_tables", {"x": "&Action=ExecuteStatement&", "Statement": 'SELECT * FROM "kurs-ola-t"'}),
    ("iot", "list_things", {"x": "&Action=RegisterCertificateWithoutCA&"}),
])
def test_an_operation_smuggled_as_an_action_parameter_is_refused(service, operation, body):
    assert _smuggled(service, operation) is None
    assert _smuggled(service, operation, "", json.dumps(body).encode()) is not None

    sent = _request("iot", "list_things")  # with no query string and no body, moto reads the headers
    as_header = access.Request(sent.service, sent.method, sent.path, sent.query,
                               lambda name: "DeleteRegistrationCode" if name == "Action" else sent.headers(name), b"")
    assert access.decide("ida", as_header, lambda cert: False)[1] is not None


def test_a_rule_is_checked_where_moto_reads_it_not_only_inside_topic_rule_payload():
    # boto3 sends the TopicRulePayload's members as the body, and moto reads sql, actions and
    # errorAction there (kurs.sky.moto_patches.topic_rules); a harmless nested copy must not hide them.
    body = {"topicRulePayload": {"sql": "SELECT * FROM 'ida/x'", "actions": []},
            "sql": "SELECT * FROM 'devices/ola-knapp/events'", "actions": []}
    assert access.rule_problem("ida", body)
    assert access.rule_problem("ida", {**body, "sql": "SELECT * FROM 'ida/y'"}) is None


def test_the_broker_ignores_a_learners_policy_that_the_room_would_refuse_now(monkeypatch, tmp_path):
    """A policy stored before a check existed (or past one) stays attached in the saved cloud; in a
    room the broker vets a learner's policies again, so such a policy grants nothing."""
    from types import SimpleNamespace

    from kurs.room import roster
    from kurs.room.host import RoomHost
    from kurs.sky.broker.policy import PolicyEnforcer

    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    room = roster.Room(address="127.0.0.2", code="AAAA-BBBB")
    room.certificates["olacert"] = "ola"
    host = RoomHost(room, b"ca", "123456789012")
    wide = SimpleNamespace(default_version_id="1", document=json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}))
    cert_arn = f"{ARN}:cert/olacert"
    backend = SimpleNamespace(principal_policies={(cert_arn, "kurs-ola-alt"): (None, wide)}, principal_things={},
                              certificates={})
    enforcer = PolicyEnforcer(lambda: backend, "eu-west-1", "123456789012")
    assert enforcer.decide(cert_arn, "olacert", "ola-x", "iot:Subscribe", "#").allowed  # without the room
    enforcer = PolicyEnforcer(lambda: backend, "eu-west-1", "123456789012", vet=host.policy_vetted)
    assert not enforcer.decide(cert_arn, "olacert", "ola-x", "iot:Subscribe", "#").allowed
    backend.principal_policies[(f"{ARN}:cert/instruktor", "alt")] = (None, wide)
    assert enforcer.decide(f"{ARN}:cert/instruktor", "instruktor", "x", "iot:Subscribe", "#").allowed  # not a learner's
