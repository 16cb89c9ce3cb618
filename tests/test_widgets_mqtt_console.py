"""The MQTT console widget, driven as a learner would: type a filter, subscribe, publish."""

from __future__ import annotations

import pytest
from waiting import eventually

pytestmark = pytest.mark.integration


def test_console_subscribes_publishes_and_shows_messages(sky):
    from kurs.widgets.mqtt_console import MqttConsole

    console = MqttConsole("konsoll/#")
    try:
        console._pub_topic.value = "konsoll/lys"
        console._pub_payload.value = '{"on": true}'
        console._pub_button.click()
        assert eventually(lambda: len(console.messages) == 1)
        assert "konsoll/lys" in console._log.value and "&quot;on&quot;: true" in console._log.value
        assert "Publiserte" in console._status.value
    finally:
        console.close()


def test_console_refuses_wildcards_when_publishing_and_empty_filters(sky):
    from kurs.widgets.mqtt_console import MqttConsole

    console = MqttConsole()
    try:
        console._pub_topic.value = "devices/#"
        console._pub_button.click()
        assert "jokertegn" in console._status.value
        console._filter.value = "   "
        console._sub_button.click()
        assert "tomt" in console._status.value
        console._filter.value = "andre/+"
        console._sub_button.click()
        assert console.filters == ["andre/+"]
        assert "Abonnerer på" in console._subs_label.value
    finally:
        console.close()


def test_console_text_repr_is_stable_for_stored_notebooks(sky):
    from kurs.widgets.mqtt_console import MqttConsole

    console = MqttConsole("state")
    try:
        bundle = console._repr_mimebundle_()
        assert bundle["text/plain"] == "MQTT-konsoll (abonnerer på state)"
        assert "application/vnd.jupyter.widget-view+json" in bundle
    finally:
        console.close()
