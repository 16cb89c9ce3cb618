"""Wires the services (shadow, rules, policies) into the data plane and moto's HTTP side.

moto's iot-data only records publishes and keeps its own shadow copy. Through
:mod:`kurs.sky.moto_patches` its HTTP handlers are pointed at our data plane, so HTTP and MQTT
share one truth: a boto3 ``publish`` reaches MQTT subscribers and rules, and a boto3 shadow
update is the same document, with the same MQTT replies, as an MQTT one.
"""

from __future__ import annotations

import logging

from kurs.sky.broker.dataplane import DataPlane

log = logging.getLogger(__name__)


def build() -> DataPlane:
    plane = DataPlane(shadow=_shadow_service(), rules=None, policies=_policy_enforcer())
    plane.rules = _rules_engine(plane)
    plane.has_rules = _has_rules
    return plane


def _has_rules() -> bool:
    from kurs.sky.controlplane import iot_backend

    return bool(iot_backend().rules)


def _rules_engine(plane: DataPlane):  # noqa: ANN202 - optional service
    try:
        from kurs.sky.rules import wiring as rules_wiring
    except ImportError:
        log.warning("Regelmotoren mangler; emneregler lagres, men kjører ikke.")
        return None
    return rules_wiring.build(plane)


def _policy_enforcer():  # noqa: ANN202 - optional service
    from kurs.sky.broker.policy import PolicyEnforcer
    from kurs.sky.controlplane import iot_backend
    from kurs.sky.info import ACCOUNT_ID, REGION

    return PolicyEnforcer(iot_backend, REGION, ACCOUNT_ID)


def _shadow_service():  # noqa: ANN202 - optional service
    try:
        from kurs.sky.shadow import ShadowService
    except ImportError:
        log.warning("Skyggetjenesten (shadow) mangler; bare MQTT og kontrollplanet kjører.")
        return None
    return ShadowService()


def attach_http(plane: DataPlane) -> None:
    """Point moto's HTTP side (iot-data, reset, topic rules, Lambda Invoke) at our services."""
    from kurs.sky import moto_patches

    moto_patches.iot_data(plane)
    moto_patches.moto_reset(plane.reset)
    if plane.rules is not None:  # SQL checks on create_topic_rule, Lambda Invoke runs the code
        from kurs.sky.rules import wiring as rules_wiring

        rules_wiring.attach_http(plane.rules)
