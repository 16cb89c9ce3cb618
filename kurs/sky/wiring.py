"""Wires the optional services (shadow, rules, policies) into the data plane and moto's HTTP side."""

from __future__ import annotations

import logging

from kurs.sky.services import DataPlane

log = logging.getLogger("kurs.sky.wiring")


def build() -> DataPlane:
    return DataPlane()


def attach_http(plane: DataPlane) -> None:
    """Make moto's iot-data endpoints use our services (filled in as services land)."""
