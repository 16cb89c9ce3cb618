"""The device shadow in the running local cloud: MQTT and HTTP (boto3) share one truth."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from kurs import mqtt

pytestmark = pytest.mark.integration


def _shadow(thing: str, suffix: str) -> str:
    return f"$aws/things/{thing}/shadow/{suffix}"


def test_mqtt_update_gives_accepted_delta_and_documents_with_versions(sky):
    thing = "skygge-mqtt"
    with mqtt.Monitor(_shadow(thing, "update/#")) as mon:
        mqtt.publish(_shadow(thing, "update"), {"state": {"desired": {"on": True}}, "clientToken": "t1"})
        accepted = mon.wait(topic=_shadow(thing, "update/accepted")).json()
        delta = mon.wait(topic=_shadow(thing, "update/delta")).json()
        documents = mon.wait(topic=_shadow(thing, "update/documents")).json()
    assert accepted["state"] == {"desired": {"on": True}}
    assert accepted["version"] == 1 and accepted["clientToken"] == "t1"
    assert delta["state"] == {"on": True} and delta["version"] == 1
    assert documents["current"]["state"]["desired"] == {"on": True}
    assert documents["current"]["version"] == 1


def test_boto3_update_sends_mqtt_delta_and_get_matches(sky, iot_data):
    thing = "skygge-http"
    with mqtt.Monitor(_shadow(thing, "update/delta")) as mon:
        iot_data.update_thing_shadow(thingName=thing,
                                     payload=json.dumps({"state": {"desired": {"on": True}}}))
        delta = mon.wait().json()
    assert delta["state"] == {"on": True}
    # The board reports the same value: the delta is gone, and HTTP and MQTT agree on it.
    mqtt.publish(_shadow(thing, "update"), {"state": {"reported": {"on": True}}})
    with mqtt.Monitor(_shadow(thing, "get/accepted")) as mon:
        mqtt.publish(_shadow(thing, "get"), "")
        via_mqtt = mon.wait().json()
    via_http = json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())
    assert via_http["state"] == via_mqtt["state"] == {"desired": {"on": True}, "reported": {"on": True}}
    assert via_http["version"] == via_mqtt["version"] == 2


def test_malformed_json_is_rejected_with_400_and_the_cloud_keeps_serving(sky, iot_data):
    thing = "skygge-feil"
    with mqtt.Monitor(_shadow(thing, "update/rejected")) as mon:
        mqtt.publish(_shadow(thing, "update"), b"{ikke json")
        rejected = mon.wait().json()
    assert rejected["code"] == 400
    with pytest.raises(ClientError) as err:
        iot_data.update_thing_shadow(thingName=thing, payload=b"{ikke json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"ok": 1}}}))
    assert json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())["state"]["reported"] == {"ok": 1}


def test_version_conflict_and_missing_shadow_errors(sky, iot_data):
    thing = "skygge-versjon"
    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"a": 1}}}))
    with pytest.raises(ClientError) as conflict:
        iot_data.update_thing_shadow(thingName=thing,
                                     payload=json.dumps({"state": {"reported": {"a": 2}}, "version": 7}))
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as missing:
        iot_data.get_thing_shadow(thingName="finnes-ikke")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_reset_empties_registry_and_shadows_but_keeps_serving(sky, iot, iot_data):
    from kurs import sky as sky_mod

    iot.create_thing(thingName="foer-reset")
    iot_data.update_thing_shadow(thingName="foer-reset", payload=json.dumps({"state": {"reported": {"a": 1}}}))
    iot_data.publish(topic="foer-reset/beholdt", retain=True, payload=b"1")
    sky_mod.reset(quiet=True)
    assert iot.list_things()["things"] == []
    assert iot_data.list_retained_messages()["retainedTopics"] == []  # retained messages go too
    with pytest.raises(ClientError):
        iot_data.get_thing_shadow(thingName="foer-reset")
    with mqtt.Monitor("etter/reset") as mon:
        mqtt.publish("etter/reset", b"ok")
        assert mon.wait().payload == b"ok"
