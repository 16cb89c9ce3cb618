"""An MQTT client that knows nothing of modes: it connects where a :class:`Target` says.

Where to connect and as whom is decided by kurs.mqtt_target (the local cloud, or AWS IoT in aws
mode); notebooks use the facade kurs.mqtt, which puts the two together.
"""

from __future__ import annotations

import json
import os
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kurs.errors import CourseError

CONNACK_REASONS_NO = {
    1: "feil protokollversjon",
    2: "ugyldig klient-ID",
    3: "megleren er ikke tilgjengelig",
    4: "feil brukernavn eller passord",
    5: "ikke autorisert",
}


@dataclass(frozen=True)
class Target:
    """Where to connect and as whom. ``unreachable_fix``/``refused_fix`` are the Norwegian advice for
    this kind of broker, since only the resolver knows whether it is the local cloud or AWS IoT."""

    host: str
    port: int
    client_id: str
    tls: bool = False
    cert_file: str | os.PathLike | None = None
    key_file: str | os.PathLike | None = None
    ca_file: str | os.PathLike | None = None
    alpn: str | None = None
    unreachable_fix: str = "Sjekk at megleren kjører og at adressen og porten stemmer."
    refused_fix: str = "Sjekk at sertifikatet er registrert og aktivt (ACTIVE), og at policyen tillater iot:Connect."


def open_client(target: Target, *, timeout: float = 5.0, clean_session: bool = True) -> Any:
    """A connected paho-mqtt 2.x client with its network loop running, or a Norwegian CourseError."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=target.client_id,
                         protocol=mqtt.MQTTv311, clean_session=clean_session)
    host, port = target.host, target.port
    if target.tls:
        if not target.cert_file or not target.key_file:
            raise CourseError("TLS-tilkobling trenger både sertifikat og privat nøkkel.",
                              "Oppgi cert_file= og key_file= (filene som provisjoneringen lagde).")
        for label, path in (("sertifikatet", target.cert_file), ("nøkkelen", target.key_file),
                            ("CA-filen", target.ca_file)):
            if path and not os.path.exists(path):
                raise CourseError(f"Finner ikke {label}: {path}", "Sjekk filstien, eller provisjoner dingsen på nytt.")
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cafile=str(target.ca_file) if target.ca_file else None)
        ctx.load_cert_chain(str(target.cert_file), str(target.key_file))
        if target.alpn:
            ctx.set_alpn_protocols([target.alpn])
        client.tls_set_context(ctx)

    connected = threading.Event()
    result: dict[str, Any] = {}

    def on_connect(c, userdata, flags, reason_code, properties):  # noqa: ANN001 - paho's signature
        result["rc"] = reason_code
        connected.set()

    def on_disconnect(c, userdata, flags, reason_code, properties):  # noqa: ANN001
        result.setdefault("closed", reason_code)
        connected.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(host, port, keepalive=30)
    except ssl.SSLError as exc:
        raise CourseError(f"TLS-tilkoblingen til {host}:{port} ble avvist: {exc.reason or exc}",
                          "Sjekk at sertifikatet er registrert og aktivt (ACTIVE), og at CA-filen stemmer.") from exc
    except OSError as exc:
        raise CourseError(f"Får ikke kontakt med MQTT-megleren på {host}:{port} ({exc.strerror or exc}).",
                          target.unreachable_fix) from exc
    client.loop_start()
    if not connected.wait(timeout):
        client.loop_stop()
        client.disconnect()
        raise CourseError(f"Megleren på {host}:{port} svarte ikke på tilkoblingen innen {timeout:.0f} s.",
                          "For TLS: sjekk at sertifikatet er aktivt og at policyen tillater iot:Connect "
                          "med denne klient-ID-en.")
    if "rc" not in result:  # closed before CONNACK: how AWS IoT refuses a certificate or policy
        client.loop_stop()
        raise CourseError(f"Megleren på {host}:{port} lukket forbindelsen uten å godta tilkoblingen.",
                          target.refused_fix)
    rc = result["rc"]
    if rc.is_failure:
        client.loop_stop()
        raise CourseError(f"Megleren avviste tilkoblingen: {CONNACK_REASONS_NO.get(rc.value, str(rc))}.",
                          "Sjekk sertifikat, policy og klient-ID.")
    client.on_connect = None
    client.on_disconnect = None
    return client


def close_client(client: Any) -> None:
    client.disconnect()
    client.loop_stop()


@dataclass
class Message:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    received: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.payload)

    def __str__(self) -> str:
        return f"{self.topic}: {self.text}"


class Subscription:
    """Subscribe a connected client to topic filters and collect what arrives.

    ``owns_client``: close the client too when the subscription closes.
    """

    def __init__(self, client: Any, topic_filter: str | list[str], *, qos: int = 0, echo: bool = False,
                 owns_client: bool = False) -> None:
        self.filters = [topic_filter] if isinstance(topic_filter, str) else list(topic_filter)
        self.echo = echo
        self.messages: list[Message] = []
        self._queue: queue.Queue[Message] = queue.Queue()
        self._own_client = owns_client
        self.client = client
        subscribed = threading.Event()
        pending = {"n": len(self.filters)}
        refused: list[Any] = []

        def on_subscribe(c, userdata, mid, reason_codes, properties):  # noqa: ANN001
            refused.extend(rc for rc in reason_codes if rc.is_failure)
            pending["n"] -= 1
            if pending["n"] <= 0:
                subscribed.set()

        self.client.on_subscribe = on_subscribe
        for f in self.filters:
            self.client.message_callback_add(f, self._on_message)
            self.client.subscribe(f, qos=qos)
        if not subscribed.wait(5) or refused:
            self.close()
            raise CourseError(f"Abonnementet på {self.filters} ble {'avvist' if refused else 'ikke bekreftet'} "
                              "av megleren.", "Sjekk emnefilteret og at policyen tillater iot:Subscribe.")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        m = Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain))
        self.messages.append(m)
        self._queue.put(m)
        if self.echo:
            print(m)

    def wait(self, timeout: float = 5.0, topic: str | None = None) -> Message:
        """The next message (optionally on exactly ``topic``); a Norwegian error on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CourseError(f"Ingen melding{' på ' + topic if topic else ''} innen {timeout:g} sekunder.",
                                  "Sjekk emnet og at noe faktisk publiserer.")
            try:
                m = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if topic is None or m.topic == topic:
                return m

    def close(self) -> None:
        for f in self.filters:
            self.client.message_callback_remove(f)
            self.client.unsubscribe(f)
        if self._own_client:
            close_client(self.client)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def publish_with(client: Any, topic: str, payload: Any, *, qos: int = 1) -> None:
    """Publish one message (dicts become JSON) on a connected client and wait until the broker has it."""
    data = json.dumps(payload) if isinstance(payload, dict | list) else payload
    info = client.publish(topic, data, qos=qos)
    info.wait_for_publish(timeout=5)
    if qos > 0 and not info.is_published():  # AWS IoT drops a client that may not publish here
        raise CourseError(f"Megleren bekreftet ikke meldingen på «{topic}».",
                          "Sjekk emnet, og at policyen tillater iot:Publish på det.")
