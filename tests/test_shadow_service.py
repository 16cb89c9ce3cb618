"""The device shadow service: AWS IoT's documents, versions and errors over MQTT and HTTP."""

from __future__ import annotations

import json
import threading

import pytest

from kurs.sky.shadow import HTTP_ERROR_TYPES, Outgoing, ShadowService

PREFIX = "$aws/things/lys/shadow"


class Clock:
    """A settable clock, so timestamps in the documents are exact."""

    def __init__(self, now: float = 1_700_000_000.7) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def decoded(messages: list[Outgoing]) -> list[tuple[str, dict]]:
    return [(m.topic, json.loads(m.payload)) for m in messages]


def publish(service: ShadowService, op: str, document: object = None, *, prefix: str = PREFIX) -> list:
    payload = b"" if document is None else json.dumps(document).encode()
    return decoded(service.handle_mqtt(f"{prefix}/{op}", payload))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> ShadowService:
    return ShadowService(clock=clock)


T0 = 1_700_000_000  # Clock() truncated to whole seconds, as AWS's epoch timestamps are


def test_desired_update_publishes_accepted_delta_and_documents(service: ShadowService, clock: Clock) -> None:
    first = publish(service, "update", {"state": {"reported": {"on": False, "rgb": [0, 0, 0]}}})
    assert first == [
        (f"{PREFIX}/update/accepted", {
            "state": {"reported": {"on": False, "rgb": [0, 0, 0]}},
            "metadata": {"reported": {"on": {"timestamp": T0},
                                      "rgb": [{"timestamp": T0}, {"timestamp": T0}, {"timestamp": T0}]}},
            "version": 1, "timestamp": T0}),
        (f"{PREFIX}/update/documents", {
            "previous": None,
            "current": {"state": {"reported": {"on": False, "rgb": [0, 0, 0]}},
                        "metadata": {"reported": {"on": {"timestamp": T0},
                                                  "rgb": [{"timestamp": T0}] * 3}},
                        "version": 1},
            "timestamp": T0}),
    ]

    clock.now += 5
    second = publish(service, "update", {"state": {"desired": {"on": True}}, "clientToken": "app-1"})
    assert second == [
        (f"{PREFIX}/update/accepted", {
            "state": {"desired": {"on": True}},
            "metadata": {"desired": {"on": {"timestamp": T0 + 5}}},
            "version": 2, "timestamp": T0 + 5, "clientToken": "app-1"}),
        (f"{PREFIX}/update/delta", {
            "version": 2, "timestamp": T0 + 5,
            "state": {"on": True},
            "metadata": {"on": {"timestamp": T0 + 5}},
            "clientToken": "app-1"}),
        (f"{PREFIX}/update/documents", {
            "previous": {"state": {"reported": {"on": False, "rgb": [0, 0, 0]}},
                         "metadata": {"reported": {"on": {"timestamp": T0},
                                                   "rgb": [{"timestamp": T0}] * 3}},
                         "version": 1},
            "current": {"state": {"desired": {"on": True}, "reported": {"on": False, "rgb": [0, 0, 0]}},
                        "metadata": {"desired": {"on": {"timestamp": T0 + 5}},
                                     "reported": {"on": {"timestamp": T0},
                                                  "rgb": [{"timestamp": T0}] * 3}},
                        "version": 2},
            "timestamp": T0 + 5, "clientToken": "app-1"}),
    ]


def test_reported_matching_desired_clears_the_delta(service: ShadowService) -> None:
    publish(service, "update", {"state": {"desired": {"on": True, "level": 3}}})
    # Still one key apart: the device gets the remaining delta again.
    partial = publish(service, "update", {"state": {"reported": {"on": True}}})
    assert [topic for topic, _ in partial] == [f"{PREFIX}/update/accepted", f"{PREFIX}/update/delta",
                                               f"{PREFIX}/update/documents"]
    assert partial[1][1]["state"] == {"level": 3}

    done = publish(service, "update", {"state": {"reported": {"level": 3.0}}})  # 3.0 equals 3 in JSON
    assert [topic for topic, _ in done] == [f"{PREFIX}/update/accepted", f"{PREFIX}/update/documents"]
    [(_, document)] = publish(service, "get")
    assert document["state"] == {"desired": {"on": True, "level": 3}, "reported": {"on": True, "level": 3.0}}
    assert "delta" not in document["state"]
    assert document["version"] == 3


def test_null_deletes_keys_nested_objects_and_whole_sections(service: ShadowService) -> None:
    publish(service, "update", {"state": {"desired": {"a": 1, "b": {"x": 1}}, "reported": {"a": 0, "c": 2}}})
    [(_, accepted), *_] = publish(service, "update", {"state": {"desired": {"a": None, "b": {"x": None}}}})
    # The accepted document echoes the request, nulls included, with their timestamps.
    assert accepted["state"] == {"desired": {"a": None, "b": {"x": None}}}
    assert accepted["metadata"] == {"desired": {"a": {"timestamp": T0}, "b": {"x": {"timestamp": T0}}}}
    [(_, document)] = publish(service, "get")
    # Every key of desired is gone, so the section is gone (and with it the delta).
    assert document["state"] == {"reported": {"a": 0, "c": 2}}
    assert document["metadata"] == {"reported": {"a": {"timestamp": T0}, "c": {"timestamp": T0}}}

    publish(service, "update", {"state": {"desired": {"a": 5}}})
    publish(service, "update", {"state": {"desired": None, "reported": {"c": None}}})
    [(_, document)] = publish(service, "get")
    assert document["state"] == {"reported": {"a": 0}}
    assert document["version"] == 4


def test_nested_delta_holds_only_differing_leaves_with_desired_timestamps(
        service: ShadowService, clock: Clock) -> None:
    publish(service, "update", {"state": {"reported": {
        "lights": {"color": {"r": 255, "g": 0, "b": 255}}, "engine": "ON", "only_reported": 1}}})
    clock.now += 10
    messages = publish(service, "update", {"state": {"desired": {
        "lights": {"color": {"r": 255, "g": 255, "b": 255}}, "engine": "ON", "flag": True}}})
    [delta] = [body for topic, body in messages if topic.endswith("/update/delta")]
    assert delta == {
        "version": 2, "timestamp": T0 + 10,
        "state": {"lights": {"color": {"g": 255}}, "flag": True},
        "metadata": {"lights": {"color": {"g": {"timestamp": T0 + 10}}}, "flag": {"timestamp": T0 + 10}},
    }
    # true is not 1: a boolean never equals a number.
    clock.now += 10
    messages = publish(service, "update", {"state": {"reported": {"flag": 1}}})
    [delta] = [body for topic, body in messages if topic.endswith("/update/delta")]
    assert delta["state"] == {"lights": {"color": {"g": 255}}, "flag": True}
    assert delta["metadata"]["flag"] == {"timestamp": T0 + 10}  # desired's timestamp, not the report's


def test_arrays_replace_whole_and_go_whole_into_the_delta(service: ShadowService) -> None:
    publish(service, "update", {"state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]},
                                          "reported": {"colors": ["RED", "GREEN", "BLUE"]}}})
    messages = publish(service, "update", {"state": {"desired": {"colors": ["BLUE"]}}})
    [delta] = [body for topic, body in messages if topic.endswith("/update/delta")]
    assert delta["state"] == {"colors": ["BLUE"]}
    assert delta["metadata"] == {"colors": [{"timestamp": T0}]}
    [(_, document)] = publish(service, "get")
    assert document["state"]["desired"] == {"colors": ["BLUE"]}


def test_version_conflict_is_rejected_and_changes_nothing(service: ShadowService) -> None:
    publish(service, "update", {"state": {"desired": {"on": True}}})
    rejected = publish(service, "update", {"state": {"desired": {"on": False}}, "version": 7,
                                           "clientToken": "c"})
    assert rejected == [(f"{PREFIX}/update/rejected", {"code": 409, "message": "Version conflict",
                                                       "clientToken": "c"})]
    [(_, document)] = publish(service, "get")
    assert document["state"]["desired"] == {"on": True}
    assert document["version"] == 1

    [(topic, accepted), *_] = publish(service, "update", {"state": {"desired": {"on": False}}, "version": 1})
    assert topic == f"{PREFIX}/update/accepted"
    assert accepted["version"] == 2


def test_malformed_json_is_rejected_and_the_service_keeps_working(service: ShadowService) -> None:
    assert decoded(service.handle_mqtt(f"{PREFIX}/update", b'{"state": {"reported": ')) == [
        (f"{PREFIX}/update/rejected", {"code": 400, "message": "Payload contains invalid json"})]
    assert decoded(service.handle_mqtt(f"{PREFIX}/update", b"")) == [
        (f"{PREFIX}/update/rejected", {"code": 400, "message": "Payload contains invalid json"})]
    assert decoded(service.handle_mqtt(f"{PREFIX}/update", b'{"state": {"reported": {"t": NaN}}}')) == [
        (f"{PREFIX}/update/rejected", {"code": 400, "message": "Payload contains invalid json"})]
    assert decoded(service.handle_mqtt(f"{PREFIX}/update", b"[" * 100_000)) == [
        (f"{PREFIX}/update/rejected", {"code": 400, "message": "Payload contains invalid json"})]

    [(topic, accepted), _] = publish(service, "update", {"state": {"reported": {"ok": 1}}})
    assert topic == f"{PREFIX}/update/accepted"
    assert accepted["version"] == 1  # rejected requests do not count


@pytest.mark.parametrize(("document", "code", "message"), [
    ({"desired": {"on": True}}, 400, "Missing required node: state"),
    ([1, 2], 400, "Missing required node: state"),
    ({"state": {"desired": {}, "reported": {}}}, 400, "Missing required node: state"),
    ({"state": 5}, 400, "State node must be an object"),
    ({"state": {"desired": [1]}}, 400, "Desired node must be an object"),
    ({"state": {"reported": "on"}}, 400, "Reported node must be an object"),
    ({"state": {"delta": {"on": True}}}, 400, "State contains an invalid node: 'delta'"),
    ({"state": {"desired": {"on": True}}, "version": "3"}, 400, "Invalid version"),
    ({"state": {"desired": {"on": True}}, "version": -1}, 400, "Invalid version"),
    ({"state": {"desired": {"on": True}}, "version": True}, 400, "Invalid version"),
    ({"state": {"desired": {"colors": [None, "RED"]}}}, 400, "State contains an invalid node"),
    ({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}, 400,
     "JSON contains too many levels of nesting; maximum is 6"),
    ({"state": {"desired": {"on": True}}, "clientToken": "x" * 65}, 400, "Invalid clientToken"),
    ({"state": {"desired": {"on": True}}, "clientToken": "æ" * 33}, 400, "Invalid clientToken"),
    ({"state": {"desired": {"on": True}}, "clientToken": 42}, 400, "Invalid clientToken"),
])
def test_bad_update_documents_get_aws_error_messages(
        service: ShadowService, document: object, code: int, message: str) -> None:
    assert publish(service, "update", document) == [(f"{PREFIX}/update/rejected",
                                                     {"code": code, "message": message})]
    assert publish(service, "get") == [(f"{PREFIX}/get/rejected",
                                        {"code": 404, "message": "No shadow exists with name: 'lys'"})]


def test_limits_that_are_just_allowed(service: ShadowService) -> None:
    six_levels = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    token = "æ" * 32  # 64 bytes
    [(topic, accepted), *_] = publish(service, "update", {"state": {"desired": six_levels},
                                                          "clientToken": token, "extra": "ignored"})
    assert topic == f"{PREFIX}/update/accepted"
    assert accepted["clientToken"] == token
    assert "extra" not in accepted


def test_non_utf8_payload_is_415(service: ShadowService) -> None:
    assert decoded(service.handle_mqtt(f"{PREFIX}/update", b'{"state":{"reported":{"s":"\xff"}}}')) == [
        (f"{PREFIX}/update/rejected",
         {"code": 415, "message": "Unsupported documented encoding; supported encoding is UTF-8"})]


def test_state_over_8_kb_is_413_and_metadata_does_not_count(service: ShadowService) -> None:
    # desired + reported as compact JSON: {"s":"…"} is 8 bytes plus the string.
    at_limit = {"state": {"reported": {"s": "x" * (8192 - 8)}}}
    [(topic, _), _] = publish(service, "update", at_limit)
    assert topic == f"{PREFIX}/update/accepted"

    over = publish(service, "update", {"state": {"desired": {"t": 1}}, "clientToken": "big"})
    assert over == [(f"{PREFIX}/update/rejected", {"code": 413, "message":
                                                   "The payload exceeds the maximum size allowed",
                                                   "clientToken": "big"})]
    [(_, document)] = publish(service, "get")
    assert document["version"] == 1 and "desired" not in document["state"]


def test_client_token_is_echoed_on_get_and_delete(service: ShadowService) -> None:
    assert publish(service, "get", {"clientToken": "g1"}) == [
        (f"{PREFIX}/get/rejected", {"code": 404, "message": "No shadow exists with name: 'lys'",
                                    "clientToken": "g1"})]
    publish(service, "update", {"state": {"reported": {"on": True}}})
    [(_, document)] = publish(service, "get", {"clientToken": "g2"})
    assert document["clientToken"] == "g2"
    # A get payload that is not JSON is ignored, as AWS ignores everything but the token.
    assert decoded(service.handle_mqtt(f"{PREFIX}/get", b"please"))[0][0] == f"{PREFIX}/get/accepted"
    assert publish(service, "delete", {"clientToken": "d1"}) == [
        (f"{PREFIX}/delete/accepted", {"version": 1, "timestamp": T0, "clientToken": "d1"})]


def test_get_delete_and_versions_continue_after_delete(service: ShadowService, clock: Clock) -> None:
    publish(service, "update", {"state": {"reported": {"on": True}}})
    publish(service, "update", {"state": {"desired": {"on": False}}})
    [(_, document)] = publish(service, "get")
    assert document == {
        "state": {"desired": {"on": False}, "reported": {"on": True}, "delta": {"on": False}},
        "metadata": {"desired": {"on": {"timestamp": T0}}, "reported": {"on": {"timestamp": T0}}},
        "version": 2, "timestamp": T0}

    clock.now += 1
    assert publish(service, "delete") == [(f"{PREFIX}/delete/accepted", {"version": 2, "timestamp": T0 + 1})]
    assert publish(service, "get") == [(f"{PREFIX}/get/rejected",
                                        {"code": 404, "message": "No shadow exists with name: 'lys'"})]
    assert publish(service, "delete") == [(f"{PREFIX}/delete/rejected",
                                           {"code": 404, "message": "No shadow exists with name: 'lys'"})]

    messages = publish(service, "update", {"state": {"reported": {"on": True}}, "version": 2})
    assert messages[0][1]["version"] == 3
    [documents] = [body for topic, body in messages if topic.endswith("/update/documents")]
    assert documents["previous"] is None  # the old document is gone
    assert documents["current"]["state"] == {"reported": {"on": True}}


def test_state_null_empties_the_shadow_but_keeps_it(service: ShadowService) -> None:
    publish(service, "update", {"state": {"desired": {"on": True}, "reported": {"on": False}}})
    [(_, accepted), _] = publish(service, "update", {"state": None})
    assert accepted == {"state": None, "metadata": {"timestamp": T0}, "version": 2, "timestamp": T0}
    [(_, document)] = publish(service, "get")
    assert document == {"state": {}, "metadata": {}, "version": 2, "timestamp": T0}


def test_named_shadows_are_separate_from_the_classic_one(service: ShadowService) -> None:
    named = f"{PREFIX}/name/farge"
    messages = publish(service, "update", {"state": {"desired": {"rgb": [255, 0, 0]}}}, prefix=named)
    assert [topic for topic, _ in messages] == [f"{named}/update/accepted", f"{named}/update/delta",
                                                f"{named}/update/documents"]
    assert messages[0][1]["version"] == 1
    assert publish(service, "get") == [(f"{PREFIX}/get/rejected",
                                        {"code": 404, "message": "No shadow exists with name: 'lys'"})]
    assert publish(service, "get", prefix=f"{PREFIX}/name/annen") == [
        (f"{PREFIX}/name/annen/get/rejected", {"code": 404, "message": "No shadow exists with name: 'annen'"})]

    publish(service, "update", {"state": {"reported": {"on": True}}})
    assert publish(service, "get")[0][1]["state"] == {"reported": {"on": True}}
    assert publish(service, "get", prefix=named)[0][1]["state"]["desired"] == {"rgb": [255, 0, 0]}
    publish(service, "update", {"state": {"reported": {"x": 1}}}, prefix=f"{PREFIX}/name/a")
    assert service.list_named_shadows("lys") == ["a", "farge"]
    assert service.list_named_shadows("knapp") == []
    publish(service, "delete", prefix=named)
    assert service.list_named_shadows("lys") == ["a"]


def test_http_and_mqtt_share_one_truth(service: ShadowService) -> None:
    publish(service, "update", {"state": {"reported": {"on": False}}})

    status, body, messages = service.http_update(
        "lys", b'{"state":{"desired":{"on":true}},"clientToken":"konsoll"}')
    assert status == 200
    assert json.loads(body) == {"state": {"desired": {"on": True}},
                                "metadata": {"desired": {"on": {"timestamp": T0}}},
                                "version": 2, "timestamp": T0, "clientToken": "konsoll"}
    # Devices hear an HTTP update exactly as they would hear an MQTT one.
    assert decoded(messages) == [
        (f"{PREFIX}/update/accepted", json.loads(body)),
        (f"{PREFIX}/update/delta", {"version": 2, "timestamp": T0, "state": {"on": True},
                                    "metadata": {"on": {"timestamp": T0}}, "clientToken": "konsoll"}),
        (f"{PREFIX}/update/documents", {
            "previous": {"state": {"reported": {"on": False}},
                         "metadata": {"reported": {"on": {"timestamp": T0}}}, "version": 1},
            "current": {"state": {"desired": {"on": True}, "reported": {"on": False}},
                        "metadata": {"desired": {"on": {"timestamp": T0}},
                                     "reported": {"on": {"timestamp": T0}}}, "version": 2},
            "timestamp": T0, "clientToken": "konsoll"}),
    ]
    [(_, over_mqtt)] = publish(service, "get")
    status, body, messages = service.http_get("lys")
    assert (status, messages) == (200, [])
    assert json.loads(body) == over_mqtt

    status, body, messages = service.http_update("lys", b'{"state":{"desired":{"on":false}},"version":1}')
    assert (status, json.loads(body), messages) == (409, {"code": 409, "message": "Version conflict"}, [])
    assert HTTP_ERROR_TYPES[status] == "ConflictException"

    status, body, messages = service.http_delete("lys")
    assert (status, json.loads(body)) == (200, {"version": 2, "timestamp": T0})
    assert decoded(messages) == [(f"{PREFIX}/delete/accepted", {"version": 2, "timestamp": T0})]
    status, body, _ = service.http_get("lys")
    assert (status, json.loads(body)) == (404, {"code": 404, "message": "No shadow exists with name: 'lys'"})
    assert HTTP_ERROR_TYPES[status] == "ResourceNotFoundException"


def test_http_named_shadows_and_listing(service: ShadowService) -> None:
    status, _, messages = service.http_update("lys", b'{"state":{"reported":{"t":21}}}', shadow_name="temp")
    assert status == 200
    assert [m.topic for m in messages] == [f"{PREFIX}/name/temp/update/accepted",
                                           f"{PREFIX}/name/temp/update/documents"]
    assert publish(service, "get", prefix=f"{PREFIX}/name/temp")[0][1]["state"] == {"reported": {"t": 21}}
    assert service.http_get("lys")[0] == 404
    status, body, _ = service.http_list_named_shadows("lys")
    assert (status, json.loads(body)) == (200, {"results": ["temp"], "timestamp": T0})


@pytest.mark.parametrize("topic", [
    "$aws/things/lys/shadow/update/accepted",
    "$aws/things/lys/shadow/update/delta",
    "$aws/things/lys/shadow/get/rejected",
    "$aws/things/lys/shadow/name/farge/update/documents",
    "$aws/things/lys/shadow/name/farge/get/accepted",
    "$aws/things/lys/shadow/name//update",
    "$aws/things/lys/shadow/list",
    "$aws/things//shadow/update",
    "$aws/things/lys/jobs/get",
    "lys/status",
    "",
])
def test_other_topics_get_no_reply(service: ShadowService, topic: str) -> None:
    # The broker feeds the service's own replies back to it: they must not echo forever.
    assert service.handle_mqtt(topic, b'{"state":{"desired":{"on":true}}}') == []
    assert service.list_named_shadows("lys") == []
    assert service.http_get("lys")[0] == 404


def test_concurrent_updates_never_lose_a_version(service: ShadowService) -> None:
    versions: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(50):
            payload = json.dumps({"state": {"reported": {f"k{n}": i}}}).encode()
            if n % 2:
                accepted = json.loads(service.handle_mqtt(f"{PREFIX}/update", payload)[0].payload)
            else:
                accepted = json.loads(service.http_update("lys", payload)[1])
            with lock:
                versions.append(accepted["version"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions) == list(range(1, 201))
    assert json.loads(service.http_get("lys")[1])["state"]["reported"] == {f"k{n}": 49 for n in range(4)}


def test_an_internal_fault_becomes_a_500_reply_not_an_exception(
        service: ShadowService, monkeypatch: pytest.MonkeyPatch) -> None:
    import kurs.sky.shadow as shadow_module

    def broken(*args: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(shadow_module, "_merge", broken)
    assert publish(service, "update", {"state": {"reported": {"on": True}}}) == [
        (f"{PREFIX}/update/rejected", {"code": 500, "message": "Internal service failure"})]
    monkeypatch.undo()
    # The failed request left no half-written shadow behind, and the lock was released.
    assert service.http_get("lys")[0] == 404
    assert service.http_update("lys", memoryview(b'{"state":{"reported":{"on":true}}}'))[0] == 200
