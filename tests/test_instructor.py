"""The instructor's overview: sees who is connected and what is registered; resets in place."""

from __future__ import annotations

import pytest
from waiting import eventually

from kurs import mqtt

pytestmark = pytest.mark.integration


def test_overview_lists_connected_clients_and_things_and_resets(sky, iot):
    from kurs.instructor import Overview, connected_clients

    board = mqtt.connect("esp32_0A0B0C")
    iot.create_thing(thingName="esp32_0A0B0C")
    assert eventually(lambda: "esp32_0A0B0C" in connected_clients())
    overview = Overview(refresh_s=60)
    try:
        assert "esp32_0A0B0C" in overview._clients.value
        assert "esp32_0A0B0C" in overview._things.value
        board.publish("devices/esp32_0A0B0C/events", b'{"btnCount": 1}', qos=1).wait_for_publish(5)
        assert eventually(lambda: any(t == "devices/esp32_0A0B0C/events" for _, t, _ in overview.console.messages))
        overview._reset_button.click()
        assert "tømt" in overview._status.value
        assert iot.list_things()["things"] == []
        assert "Dingser i registeret (0)" in overview._things.value
    finally:
        overview.close()
        board.disconnect()
        board.loop_stop()
    assert eventually(lambda: "esp32_0A0B0C" not in connected_clients())
