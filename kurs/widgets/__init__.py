"""Notebook widgets: the MQTT console (like AWS IoT's MQTT test client) and the board panel."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "MqttConsole":
        from kurs.widgets.mqtt_console import MqttConsole

        return MqttConsole
    if name == "BoardPanel":
        from kurs.widgets.board_panel import BoardPanel

        return BoardPanel
    raise AttributeError(name)
