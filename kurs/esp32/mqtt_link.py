"""The board's network side: one paho MQTT connection, reconnecting with back-off by itself.

paho runs its own network thread; every event is *posted* to the board's event loop, where
the Mongoose OS side (:mod:`kurs.esp32.mqtt_api`) handles it, so firmware code never runs on
paho's thread. The back-off matches Mongoose OS: 2 s, doubling, at most
``mqtt.reconnect_timeout_max`` (60 s).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

# paho 2.x reports MQTT 3.1.1 CONNACK codes as MQTT 5 reason codes; Mongoose OS logs the 3.1.1 ones.
_V5_TO_V311 = {0: 0, 132: 1, 133: 2, 136: 3, 134: 4, 135: 5}


@dataclass(frozen=True)
class LinkSettings:
    client_id: str
    host: str
    port: int
    keep_alive: int = 60
    clean_session: bool = True
    user: str = ""
    password: str = ""
    will_topic: str = ""
    will_message: str = ""
    will_retain: bool = False
    ca_file: str | None = None      # verify the server with this CA bundle
    cert_file: str | None = None    # client certificate (mutual TLS)
    key_file: str | None = None
    tls: bool = False
    reconnect_min_s: float = 2.0
    reconnect_max_s: float = 60.0


class LinkListener(Protocol):
    def on_connecting(self) -> None: ...
    def on_connack(self, code: int) -> None: ...
    def on_connect_error(self) -> None: ...
    def on_close(self) -> None: ...
    def on_message(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...
    def on_suback(self, mid: int, codes: list[int]) -> None: ...
    def on_puback(self, mid: int) -> None: ...


class MqttLink:
    """A paho client driven by :class:`LinkSettings`; events go to ``post(callable)``."""

    def __init__(self, settings: LinkSettings, listener: LinkListener,
                 post: Callable[[Callable[[], Any]], None]) -> None:
        self.settings = settings
        self._listener = listener
        self._post = post
        self._client: paho.Client | None = None
        self._stopped = False

    def start(self) -> None:
        s = self.settings
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id, clean_session=s.clean_session,
                             protocol=paho.MQTTv311)
        client.reconnect_delay_set(min_delay=max(1, int(s.reconnect_min_s)), max_delay=max(1, int(s.reconnect_max_s)))
        if s.user:
            client.username_pw_set(s.user, s.password or None)
        if s.will_topic:
            client.will_set(s.will_topic, s.will_message, qos=0, retain=s.will_retain)
        if s.tls:
            context = ssl.create_default_context(cafile=s.ca_file) if s.ca_file else ssl.create_default_context()
            if not s.ca_file and not s.host.endswith("amazonaws.com"):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if s.cert_file:
                context.load_cert_chain(s.cert_file, s.key_file)
            if s.host.endswith("amazonaws.com") and s.port == 443:
                context.set_alpn_protocols(["x-amzn-mqtt-ca"])
            client.tls_set_context(context)
        client.on_pre_connect = lambda c, u: self._emit(self._listener.on_connecting)
        client.on_connect = self._on_connect
        client.on_connect_fail = lambda c, u: self._emit(self._listener.on_connect_error)
        client.on_disconnect = lambda c, u, flags, rc, props: self._emit(self._listener.on_close)
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = lambda c, u, mid, rc, props: self._emit(lambda: self._listener.on_puback(mid))
        self._client = client
        client.connect_async(s.host, s.port, keepalive=max(5, s.keep_alive))
        client.loop_start()

    def _emit(self, fn: Callable[[], Any]) -> None:
        if not self._stopped:
            self._post(fn)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any, props: Any) -> None:
        value = int(getattr(reason_code, "value", reason_code))
        code = _V5_TO_V311.get(value, value)
        self._emit(lambda: self._listener.on_connack(code))

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        topic, payload, qos, retain = message.topic, bytes(message.payload), message.qos, bool(message.retain)
        self._emit(lambda: self._listener.on_message(topic, payload, qos, retain))

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        values = [int(getattr(c, "value", c)) for c in codes]
        self._emit(lambda: self._listener.on_suback(mid, values))

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        """The packet id (QoS 1) or 1 (QoS 0) when handed to the socket; 0 when not possible."""
        client = self._client
        if client is None or self._stopped:
            return 0
        try:
            info = client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, OSError):
            return 0
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return 0
        return info.mid or 1

    def subscribe(self, topics: list[tuple[str, int]]) -> int:
        client = self._client
        if client is None or self._stopped:
            return 0
        try:
            rc, mid = client.subscribe(topics)
        except (ValueError, OSError):
            return 0
        return mid if rc == paho.MQTT_ERR_SUCCESS and mid is not None else 0

    def unsubscribe(self, topic: str) -> None:
        if self._client is not None and not self._stopped:
            self._client.unsubscribe(topic)

    def stop(self, wait: bool = True) -> None:
        """Disconnect and end paho's thread (no more events are posted after this returns)."""
        self._stopped = True
        client = self._client
        self._client = None
        if client is None:
            return
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001 - it may never have connected
            pass
        if wait:
            client.loop_stop()
        else:  # paho may sit in a reconnect wait for up to a second; let it finish elsewhere
            threading.Thread(target=client.loop_stop, name="mqtt-stop", daemon=True).start()
