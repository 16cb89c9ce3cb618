"""Mongoose OS's global MQTT connection (the ``mqtt`` library), on the board's event loop.

What the firmware sees, as on a board:

* ``MQTT.sub`` subscriptions are remembered and (re)made after every CONNACK, so they survive
  a broker restart; QoS 1.
* ``MQTT.pub`` works as ``mgos_mqtt_conn_pub`` (mongoose-os-libs/mqtt ``src/mgos_mqtt_conn.c``):
  with MQTT enabled it returns a packet id (never 0), connected or not. Offline, a QoS 0
  message is lost, a QoS 1 message waits in a queue of at most ``mqtt.max_queue_length``
  (default 5; the oldest goes first, "queue overflow!") that is sent in order after CONNACK;
  until that queue is drained new QoS 1 messages join it instead of jumping ahead.
* CONNACK fires ``Event.CLOUD_CONNECTED``; losing the connection fires ``CLOUD_DISCONNECTED``.
* A message goes to the first subscription whose filter matches; only messages no
  subscription takes reach the global handlers (``MQTT.setEventHandler``, the AWS shadow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paho.mqtt.client import topic_matches_sub

from kurs.esp32 import events as ev
from kurs.esp32.console import LL_DEBUG, LL_ERROR, LL_INFO
from kurs.esp32.events import EV_CLOSE, EV_CONNACK, EV_PUBACK, EV_PUBLISH, EV_SUBACK
from kurs.esp32.ffi import byte_length, foreign
from kurs.esp32.mqtt_link import LinkSettings, MqttLink

if TYPE_CHECKING:
    from kurs.esp32.services import FirmwareServices

SUBSCRIBE_QOS = 1
_SRC = "mgos_mqtt.c"


@dataclass
class Subscription:
    topic: str
    callback: int          # JS callback id (-1 for a Python handler)
    python: Callable[[str, bytes], None] | None = None
    sub_id: int = 0
    acked: bool = False  # the broker has confirmed it (SUBACK) on the current connection


@dataclass
class Queued:
    packet_id: int
    topic: str
    data: bytes
    qos: int
    retain: bool


class MqttApi:
    def __init__(self, fw: FirmwareServices) -> None:
        self.fw = fw
        self.connected = False
        self.link: MqttLink | None = None
        self.subs: list[Subscription] = []
        self._global_js: list[int] = []
        self._global_py: list[Callable[[int, Any], None]] = []
        self._reconnect_ms = 0
        self._packet_id = 0
        self.queue: list[Queued] = []

    # -- configuration -> connection ---------------------------------------------------------
    def settings(self) -> LinkSettings | None:
        cfg = self.fw.config
        if not cfg.get("mqtt.enable"):
            return None
        server = str(cfg.get("mqtt.server") or "")
        if not server:
            self._log(LL_ERROR, "MQTT requires server name")
            return None
        ca = self._fs_path(cfg.get("mqtt.ssl_ca_cert"))
        cert = self._fs_path(cfg.get("mqtt.ssl_cert"))
        key = self._fs_path(cfg.get("mqtt.ssl_key"))
        tls = bool(cfg.get("mqtt.ssl_ca_cert") or cfg.get("mqtt.ssl_cert"))
        host, _, port_text = server.rpartition(":") if ":" in server else (server, "", "")
        try:
            port = int(port_text) if port_text else (8883 if cfg.get("mqtt.ssl_ca_cert") else 1883)
        except ValueError:
            self._log(LL_ERROR, f"Error: invalid server address {server}")
            return None
        for label, name, path in (("CA", cfg.get("mqtt.ssl_ca_cert"), ca), ("sertifikat", cfg.get("mqtt.ssl_cert"), cert),
                                  ("nøkkel", cfg.get("mqtt.ssl_key"), key)):
            if name and path is None and name != "ca.pem":
                self.fw.console.log("mg_ssl_if_mbedtls.c:1", LL_ERROR,
                                    f"Finner ikke filen «{name}» ({label}) på kortets filsystem; MQTT kobler ikke til. "
                                    "Last den opp eller kjør provisjoneringen på nytt.")
                return None
        client_id = str(cfg.get("mqtt.client_id") or "") or str(cfg.get("device.id"))
        return LinkSettings(
            client_id=client_id, host=host, port=port, keep_alive=int(cfg.get("mqtt.keep_alive") or 60),
            clean_session=bool(cfg.get("mqtt.clean_session")), user=str(cfg.get("mqtt.user") or ""),
            password=str(cfg.get("mqtt.pass") or ""), will_topic=str(cfg.get("mqtt.will_topic") or ""),
            will_message=str(cfg.get("mqtt.will_message") or ""), will_retain=bool(cfg.get("mqtt.will_retain")),
            ca_file=ca, cert_file=cert, key_file=key, tls=tls,
            reconnect_min_s=float(cfg.get("mqtt.reconnect_timeout_min") or 2.0),
            reconnect_max_s=float(cfg.get("mqtt.reconnect_timeout_max") or 60.0),
        )

    def _fs_path(self, name: Any) -> str | None:
        if not name:
            return None
        path = Path(str(name))
        if not path.is_absolute():
            path = self.fw.fs_dir / path
        return str(path) if path.is_file() else None

    def start(self) -> None:
        settings = self.settings()
        if settings is None:
            return
        self.link = MqttLink(settings, self, self.fw.post)
        self.link.start()

    def stop(self, wait: bool = True) -> None:
        if self.link is not None:
            self.link.stop(wait=wait)
            self.link = None
        self.connected = False

    # -- events from the link (on the event loop) ---------------------------------------------
    def _log(self, level: int, message: str, line: int = 135) -> None:
        self.fw.console.log(f"{_SRC}:{line}", level, message)

    def on_connecting(self) -> None:
        if self.link is not None:
            s = self.link.settings
            self._log(LL_INFO, f"MQTT connecting to {s.host}:{s.port}", 435)

    def on_connect_error(self) -> None:
        self._log(LL_INFO, "MQTT TCP connect error (-1)", 140)
        if self._follow_local_cloud():
            return
        self._schedule_log()

    def _follow_local_cloud(self) -> bool:
        """A board kurs pointed at the local cloud (it had no ``mqtt.server`` of its own) follows
        the cloud to its new port when a restart had to move it (kurs.sky.process.choose_ports)."""
        link = self.link
        if link is None or link.settings.tls:
            return False
        before = f"{link.settings.host}:{link.settings.port}"
        now = self.fw.board.local_cloud_now()
        if not now or now == before:
            return False
        host, _, port = now.rpartition(":")
        self.fw.console.log("kurs", LL_INFO, f"Den lokale skyen har flyttet fra {before} til {now}; kobler til der.")
        link.stop(wait=False)
        self.link = MqttLink(replace(link.settings, host=host, port=int(port)), self, self.fw.post)
        self.link.start()
        return True

    def _schedule_log(self) -> None:
        s = self.link.settings if self.link is not None else None
        if s is None:
            return
        if self._reconnect_ms <= 0:
            self._reconnect_ms = 1000
        self._reconnect_ms = int(min(max(self._reconnect_ms * 2, s.reconnect_min_s * 1000), s.reconnect_max_s * 1000))
        self._log(LL_INFO, f"MQTT connecting after {self._reconnect_ms} ms", 511)

    def on_connack(self, code: int) -> None:
        self._log(LL_INFO, "MQTT TCP connect ok (0)", 140)
        self._log(LL_INFO if code == 0 else LL_ERROR, f"MQTT CONNACK {code}", 185)
        if code != 0:
            return
        self.connected = True
        self._reconnect_ms = 0
        if self.fw.config.get("mqtt.cloud_events"):
            self.fw.events.trigger(ev.CLOUD_CONNECTED, {"type": "mqtt"})
        self._call_global(EV_CONNACK, {"code": code})
        for sub in list(self.subs):
            self._do_subscribe(sub)
        self._drain()

    def _drain(self) -> None:
        """Send what waited while offline, oldest first (mgos replays it one PUBACK at a time)."""
        while self.queue and self.connected and self.link is not None:
            item = self.queue.pop(0)
            self._send(item.packet_id, item.topic, item.data, item.qos, item.retain)

    def _next_packet_id(self) -> int:
        self._packet_id = self._packet_id % 0xFFFF + 1  # uint16, never 0
        return self._packet_id

    def _send(self, packet_id: int, topic: str, data: bytes, qos: int, retain: bool) -> None:
        assert self.link is not None
        self._log(LL_DEBUG, f"MQTT0 pub -> {packet_id} {topic} @ {qos}{' RETAIN' if retain else ''} "
                            f"({len(data)}): [{data.decode('utf-8', 'replace')}]", 157)
        self.link.publish(topic, data, qos, retain)

    def on_close(self) -> None:
        self._log(LL_INFO, "MQTT Disconnect", 167)
        was_connected = self.connected
        self.connected = False
        for sub in self.subs:
            sub.acked = False
        if was_connected:
            if self.fw.config.get("mqtt.cloud_events"):
                self.fw.events.trigger(ev.CLOUD_DISCONNECTED, {"type": "mqtt"})
            self._call_global(EV_CLOSE, None)
        if self._follow_local_cloud():  # e.g. another program on the old port hung up on us
            return
        self._schedule_log()

    def on_message(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        text = payload.decode("utf-8", errors="replace")
        self._log(LL_DEBUG, f"MQTT event: {EV_PUBLISH}", 135)
        for sub in list(self.subs):
            if _matches(sub.topic, topic):
                if sub.python is not None:
                    sub.python(topic, payload)
                else:
                    self.fw.invoke(sub.callback, [foreign(None), foreign(topic), byte_length(topic),
                                                  foreign(text), byte_length(text)])
                return
        self._call_global(EV_PUBLISH, {"topic": topic, "payload": payload, "qos": qos})

    def on_suback(self, mid: int, codes: list[int]) -> None:
        for sub in self.subs:
            if sub.sub_id == mid:
                sub.acked = bool(codes) and all(code < 128 for code in codes)
                return
        self._call_global(EV_SUBACK, {"message_id": mid, "codes": codes})

    def on_puback(self, mid: int) -> None:
        self._call_global(EV_PUBACK, {"message_id": mid})

    def _call_global(self, event: int, data: Any) -> None:
        for handler in list(self._global_py):
            handler(event, data)
        for callback in list(self._global_js):
            self.fw.invoke(callback, [foreign(None), event, foreign(None) if data is None else foreign(0)])

    # -- what the firmware and the libraries call ---------------------------------------------
    def _do_subscribe(self, sub: Subscription) -> None:
        if self.link is None:
            return
        qos = self._adjust_qos(SUBSCRIBE_QOS)
        sub.acked = False
        self._log(LL_INFO, f"Subscribing to '{sub.topic}' (QoS {qos})", 125)
        sub.sub_id = self.link.subscribe([(sub.topic, qos)])

    def _adjust_qos(self, qos: int) -> int:
        max_qos = int(self.fw.config.get("mqtt.max_qos") or 0)
        return max(0, min(int(qos), max_qos, 1))  # AWS IoT has no QoS 2

    def sub(self, topic: str, callback: int, _ud: Any = None) -> None:
        sub = Subscription(str(topic), int(callback))
        self.subs.insert(0, sub)  # mgos keeps them in a list that grows at the head
        if self.connected:
            self._do_subscribe(sub)

    def sub_python(self, topic: str, handler: Callable[[str, bytes], None]) -> None:
        sub = Subscription(topic, -1, python=handler)
        self.subs.insert(0, sub)
        if self.connected:
            self._do_subscribe(sub)

    def pub(self, topic: Any, message: Any, length: int, qos: int, retain: bool) -> int:
        if not self.fw.config.get("mqtt.enable"):
            return 0  # no global connection at all (mgos_mqtt_pub on a NULL connection)
        text = message if isinstance(message, str) else ("" if message is None else str(message))
        data = text.encode("utf-8")
        if 0 <= int(length) < len(data):
            data = data[: int(length)]
        q = self._adjust_qos(qos)
        packet_id = self._next_packet_id()
        if self.connected and self.link is not None and (q == 0 or not self.queue):
            self._send(packet_id, str(topic), data, q, bool(retain))
        elif q > 0:
            limit = int(self.fw.config.get("mqtt.max_queue_length") or 0)
            if limit > 0:
                while len(self.queue) >= limit:
                    self._log(LL_ERROR, "MQTT0 queue overflow!", 431)
                    self.queue.pop(0)
                self.queue.append(Queued(packet_id, str(topic), data, q, bool(retain)))
        return packet_id

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        """For the libraries (the shadow): the packet id, or 0 without a connection."""
        if not self.connected or self.link is None:
            return 0
        return self.link.publish(topic, payload, self._adjust_qos(qos), False)

    def subscribe_many(self, topics: list[str], qos: int = 1) -> int:
        if not self.connected or self.link is None:
            return 0
        return self.link.subscribe([(t, self._adjust_qos(qos)) for t in topics])

    def subscribed_topics(self) -> set[str]:
        return {sub.topic for sub in self.subs if sub.acked}

    def add_global_handler(self, callback: int, _ud: Any = None) -> None:
        self._global_js.append(int(callback))

    def add_python_handler(self, handler: Callable[[int, Any], None]) -> None:
        self._global_py.append(handler)

    def symbols(self) -> dict[str, Callable[..., Any]]:
        return {
            "mgos_mqtt_sub": self.sub,
            "mgos_mqtt_pub": self.pub,
            "mgos_mqtt_global_is_connected": lambda: self.connected,
            "mgos_mqtt_add_global_handler": self.add_global_handler,
        }


def _matches(sub_filter: str, topic: str) -> bool:
    try:
        return topic_matches_sub(sub_filter, topic)
    except (ValueError, TypeError):
        return False

