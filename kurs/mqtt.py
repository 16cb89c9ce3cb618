"""MQTT for notebooks and tests: the mode-free client (kurs.mqtt_client) pointed where the mode says
(kurs.mqtt_target).

    client = kurs.mqtt.connect("min-klient")                 # local cloud, plain TCP
    client = kurs.mqtt.connect("esp32_ABCDEF", tls=True, cert_file=..., key_file=...)
    with kurs.mqtt.Monitor("devices/#") as mon: ...           # see what arrives

In ``aws`` mode a ``connect()`` without ``host`` goes to the confirmed account's AWS IoT endpoint
as the notebook's own identity (see kurs.mqtt_target). ``Monitor``, ``publish`` and ``MqttConsole``
follow, so the same notebook cells work in both modes. ``mode="lokal"`` pins a client to the
local cloud whatever the settings say (the exercise checks do that).
"""

from __future__ import annotations

import os
from typing import Any

from kurs.mqtt_client import (
    CONNACK_REASONS_NO,
    Message,
    Subscription,
    close_client,
    open_client,
    publish_with,
)
from kurs.mqtt_target import resolve

__all__ = ["CONNACK_REASONS_NO", "Message", "Monitor", "connect", "publish"]


def connect(client_id: str | None = None, *, mode: str | None = None, host: str | None = None,
            port: int | None = None, tls: bool = False, cert_file: str | os.PathLike | None = None,
            key_file: str | os.PathLike | None = None, ca_file: str | os.PathLike | None = None,
            alpn: str | None = None, timeout: float = 5.0, clean_session: bool = True) -> Any:
    """A connected paho-mqtt 2.x client with its network loop running.

    Defaults to the running local cloud (plain TCP; ``tls=True`` for mutual TLS on "localhost").
    In aws mode, without ``host``: AWS IoT's ATS endpoint over mutual TLS, as the notebook's own
    thing ``kurs-notatbok`` unless ``cert_file``/``key_file`` are given.
    ``alpn="x-amzn-mqtt-ca"`` with port 443 is how AWS IoT is reached through firewalls.
    """
    target = resolve(client_id, mode=mode, host=host, port=port, tls=tls, cert_file=cert_file,
                     key_file=key_file, ca_file=ca_file, alpn=alpn)
    return open_client(target, timeout=timeout, clean_session=clean_session)


class Monitor(Subscription):
    """Subscribe to a topic filter and collect what arrives (a tiny version of AWS's test client)."""

    def __init__(self, topic_filter: str | list[str], *, qos: int = 0, echo: bool = False,
                 client: Any = None, **connect_args: Any) -> None:
        super().__init__(client or connect(**connect_args), topic_filter, qos=qos, echo=echo,
                         owns_client=client is None)


def publish(topic: str, payload: Any, *, qos: int = 1, client: Any = None, **connect_args: Any) -> None:
    """Publish one message (dicts become JSON) and wait until the broker has it."""
    own = client is None
    client = client or connect(**connect_args)
    try:
        publish_with(client, topic, payload, qos=qos)
    finally:
        if own:
            close_client(client)
