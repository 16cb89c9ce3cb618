"""The board panel: pressing its button drives the real firmware; its LED follows the pin."""

from __future__ import annotations

import pytest
from waiting import eventually

pytestmark = pytest.mark.integration


def test_led_html_says_whether_it_is_lit():
    from kurs.widgets.board_panel import led_html

    assert "kurs-led-on" in led_html(True) and "PÅ" in led_html(True)
    assert "kurs-led-off" in led_html(False) and "AV" in led_html(False)


def test_panel_button_publishes_and_led_follows_the_cloud(sky):
    from kurs import mqtt
    from kurs.esp32 import VirtualBoard
    from kurs.widgets.board_panel import BoardPanel

    with VirtualBoard("lys", device_id="esp32_PANEL1") as board:
        board.start()
        panel = BoardPanel(board, led_pin=2, refresh_s=0.05)
        try:
            assert eventually(lambda: board.connected)
            assert eventually(lambda: "tilkoblet skyen" in panel._title.value)
            assert eventually(lambda: "state" in board.subscribed)
            mqtt.publish("state", {"on": True})
            assert eventually(lambda: "kurs-led-on" in panel._led.value), panel._led.value
            mqtt.publish("state", {"on": False})
            assert eventually(lambda: "kurs-led-off" in panel._led.value)
            assert "esp32_PANEL1" in panel._repr_mimebundle_()["text/plain"]
            assert eventually(lambda: "kurs-konsoll" not in panel._console.value and "<pre" in panel._console.value)
        finally:
            panel.close()


def test_panel_click_presses_the_boards_button(sky):
    from kurs import mqtt
    from kurs.esp32 import VirtualBoard
    from kurs.widgets.board_panel import BoardPanel

    with VirtualBoard("knapp", device_id="esp32_PANEL2") as board:
        board.start()
        panel = BoardPanel(board)
        try:
            assert eventually(lambda: board.connected)
            with mqtt.Monitor("state") as mon:
                panel._press.click()
                assert mon.wait(timeout=5).json()["btnCount"] == 1
        finally:
            panel.close()
