"""Provisioning: give a device its identity in AWS IoT, like ``mos aws-iot-setup`` does.

    dings = kurs.provisioning.provision("esp32_F7F2AD")      # thing, key + certificate, policy
    dings.apply_to(board)                                     # files + config onto a VirtualBoard
    client = dings.connect()                                  # mutual TLS as the thing

Works the same against the local cloud (``lokal``) and real AWS (``aws``, after the opt-in
in kurs.aws_mode). See setup.py for the steps and device_policy.py for the policy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["provision", "Provisioned", "verify", "device_policy", "notebook"]
_HOME = {"provision": "setup", "Provisioned": "setup", "verify": "check"}


def __getattr__(name: str) -> Any:  # lazy: cryptography and boto3 load on first use
    if name in _HOME:
        return getattr(importlib.import_module(f"kurs.provisioning.{_HOME[name]}"), name)
    if name in ("device_policy", "notebook"):  # notebook: the notebook's own identity in aws mode
        return importlib.import_module(f"kurs.provisioning.{name}")
    raise AttributeError(f"module 'kurs.provisioning' has no attribute {name!r}")
