"""Client helpers for the real-client broker suite: certificates as files, a recording paho client."""

from __future__ import annotations

import queue
import ssl
import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.waiting import eventually

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}


def arn(cloud, kind: str, name: str) -> str:  # noqa: ANN001
    """An IoT resource ARN in the local cloud's account: kind is topic, topicfilter or client."""
    return f"arn:aws:iot:{cloud.region}:{cloud.account_id}:{kind}/{name}"


@dataclass
class Identity:
    """A device certificate made with CreateKeysAndCertificate, its files, and its policy (if any)."""

    cert_id: str
    cert_arn: str
    cert_file: str
    key_file: str
    ca_file: str
    policy: str | None

    def tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Paho:
    """A paho-mqtt 2.x client (MQTT 3.1.1 or 5) that records everything it sees, for assertions."""

    def __init__(self, port: int, client_id: str, *, v5: bool = False, identity: Identity | None = None,
                 ca_file: str | None = None, clean: bool = True, session_expiry: int | None = None,
                 connect_properties: Properties | None = None, connect: bool = True) -> None:
        self.v5 = v5
        protocol = paho.MQTTv5 if v5 else paho.MQTTv311
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                                  clean_session=None if v5 else clean)
        self.port, self.clean, self.session_expiry = port, clean, session_expiry
        self.connect_properties = connect_properties
        self.messages: queue.Queue = queue.Queue()
        self.connacks: list[tuple[object, object, object]] = []  # (flags, reason, properties)
        self.disconnects: list[tuple[object, object]] = []  # (reason, properties)
        self.subacks: dict[int, list[int]] = {}
        self.pubacks: dict[int, int] = {}
        self.connected = threading.Event()
        self.gone = threading.Event()
        c = self.client
        c.reconnect_delay_set(min_delay=120, max_delay=120)  # a close stays visible
        if identity is not None:
            c.tls_set_context(identity.tls())
        elif ca_file is not None:
            c.tls_set_context(ssl.create_default_context(cafile=ca_file))
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = lambda _c, _u, m: self.messages.put(m)
        c.on_subscribe = self._on_subscribe
        c.on_publish = self._on_publish
        if connect:
            self.start()

    def start(self) -> None:
        kw = {}
        if self.v5:
            props = self.connect_properties or Properties(PacketTypes.CONNECT)
            if self.session_expiry is not None:
                props.SessionExpiryInterval = self.session_expiry
            kw = {"clean_start": self.clean, "properties": props}
        self.client.connect_async("localhost", self.port, keepalive=60, **kw)
        self.client.loop_start()

    def _on_connect(self, c, u, flags, reason, properties) -> None:  # noqa: ANN001
        self.connacks.append((flags, reason, properties))
        if not reason.is_failure:
            self.connected.set()

    def _on_disconnect(self, c, u, flags, reason, properties) -> None:  # noqa: ANN001
        self.disconnects.append((reason, properties))
        self.gone.set()

    def _on_subscribe(self, c, u, mid, reasons, properties) -> None:  # noqa: ANN001
        self.subacks[mid] = [r.value for r in reasons]

    def _on_publish(self, c, u, mid, reason, properties) -> None:  # noqa: ANN001
        self.pubacks[mid] = reason.value

    def wait_connected(self, timeout: float = 10.0) -> Paho:
        assert self.connected.wait(timeout), f"no successful CONNACK: {self.connacks} {self.disconnects}"
        return self

    @property
    def session_present(self) -> bool:
        return bool(self.connacks[-1][0].session_present)

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = 10.0) -> list[int]:
        _, mid = self.client.subscribe(topic_filter, qos=qos)
        assert eventually(lambda: mid in self.subacks, timeout), f"no SUBACK for {topic_filter!r}"
        return self.subacks[mid]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
                properties: Properties | None = None, wait: bool = True) -> int:
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if wait and qos:
            assert eventually(lambda: info.mid in self.pubacks, 10), f"no PUBACK for {topic!r}"
        return info.mid

    def next_message(self, timeout: float = 5.0):  # noqa: ANN201 - paho MQTTMessage or None
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait_messages(self, count: int, timeout: float = 10.0, settle: float = 0.3) -> list:
        """The first ``count`` messages (waiting up to ``timeout``), plus any that follow within ``settle``."""
        out, deadline = [], time.monotonic() + timeout
        while len(out) < count and (m := self.next_message(max(0.0, deadline - time.monotonic()))) is not None:
            out.append(m)
        return out + self.drain(settle)

    def drain(self, quiet: float = 1.0) -> list:
        out = []
        while (m := self.next_message(quiet)) is not None:
            out.append(m)
        return out

    def disconnect(self, timeout: float = 5.0) -> None:
        self.client.disconnect()
        self.gone.wait(timeout)
        self.client.loop_stop()

    def close(self) -> None:
        try:
            if self.connected.is_set() and not self.gone.is_set():
                self.client.disconnect()
                self.gone.wait(3)
        finally:
            self.client.loop_stop()


def v5_props(packet_type: int = PacketTypes.PUBLISH, **values: object) -> Properties:
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p
