"""kurs.shadow_view: the shadow helper notebooks 05 and 06 use to read, show and wait for a shadow."""

from __future__ import annotations

import json
import uuid

import pytest

from kurs import shadow_view
from kurs.errors import CourseError

DOCUMENT = {
    "state": {
        "desired": {"on": True},
        "reported": {"on": False, "btnCount": 3, "uptime": 12.5},
        "delta": {"on": True},
    },
    "metadata": {"desired": {"on": {"timestamp": 1700000000}}},
    "version": 7,
    "timestamp": 1700000001,
}


def test_describe_shows_each_part_on_its_own_line_with_only_the_chosen_keys():
    text = shadow_view.describe(DOCUMENT, keys=["on", "btnCount"])
    assert text.splitlines() == [
        'desired:  {"on": true}',
        'reported: {"btnCount": 3, "on": false}',
        'delta:    {"on": true}',
    ]
    assert "uptime" not in text and "versjon" not in text


def test_describe_marks_missing_parts_and_can_show_the_version():
    document = {"state": {"reported": {"uptime": 1}}, "version": 4}
    assert shadow_view.describe(document, keys=["on"], version=True).splitlines() == [
        "desired:  (ingen)", "reported: (ingen)", "delta:    (ingen)", "versjon:  4"]
    assert shadow_view.describe(None) == "Dingsen har ingen skygge ennå."


def test_in_sync_waits_for_the_delta_of_the_chosen_keys_only():
    assert shadow_view.in_sync("on")(DOCUMENT) is False
    assert shadow_view.in_sync("btnCount")(DOCUMENT) is True  # a delta, but not for btnCount
    assert shadow_view.in_sync()(DOCUMENT) is False
    agreed = {"state": {"desired": {"on": True}, "reported": {"on": True}}}
    assert shadow_view.in_sync()(agreed) is True
    assert shadow_view.in_sync("on")(None) is False  # no shadow: nothing is in sync yet
    assert shadow_view.delta(agreed) == {} and shadow_view.delta(DOCUMENT) == {"on": True}


@pytest.mark.integration
def test_read_and_wait_until_against_the_local_cloud(sky, iot_data):  # noqa: ANN001 - fixtures
    thing = f"skyggevisning-{uuid.uuid4().hex[:8]}"
    assert shadow_view.read(thing) is None  # no shadow yet: None, not an exception

    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"desired": {"on": True}}}))
    document = shadow_view.read(thing)
    assert document["state"]["desired"] == {"on": True} and document["state"]["delta"] == {"on": True}

    with pytest.raises(CourseError) as err:  # nobody reports, so the delta stays
        shadow_view.wait_until(thing, shadow_view.in_sync("on"), timeout=0.5, interval=0.1)
    assert f"Skyggen til {thing} ble ikke slik vi ventet" in str(err.value)
    assert 'delta:    {"on": true}' in str(err.value)

    iot_data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"on": True}}}))
    settled = shadow_view.wait_until(thing, shadow_view.in_sync("on"), timeout=5, client=iot_data)
    assert settled["state"]["reported"] == {"on": True} and "delta" not in settled["state"]
