"""MQTT clients for notebooks and tests: one factory for the local cloud and for AWS IoT.

    client = kurs.mqtt.connect("min-klient")                 # local cloud, plain TCP
    client = kurs.mqtt.connect("esp32_ABCDEF", tls=True, cert_file=..., key_file=...)
    with kurs.mqtt.Monitor("devices/#") as mon: ...           # see what arrives

In ``aws`` mode (kurs.config) a ``connect()`` without ``host`` goes to the confirmed account's
ATS endpoint instead: mutual TLS on the port from the settings (8883, or 443 with ALPN
``x-amzn-mqtt-ca``), Amazon Root CA 1, and, unless a device's certificate is given, the
notebook's own identity ``kurs-notatbok`` (kurs.provisioning.notebook). ``Monitor``,
``publish`` and ``MqttConsole`` follow, so the same notebook cells work in both modes.
"""

from __future__ import annotations

import json
import os
import queue
import ssl
import threading
import time
import uuid
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


def _sky_defaults() -> tuple[str, int, int, str | None]:
    host = os.environ.get("KURS_MQTT_HOST")
    if host:
        return (host, int(os.environ["KURS_MQTT_PORT"]), int(os.environ["KURS_MQTTS_PORT"]),
                os.environ.get("KURS_CA_FILE"))
    from kurs import sky

    info = sky.info()
    return info.host, info.mqtt_port, info.mqtts_port, info.ca_file


_announced: set[tuple[str, int, str | None]] = set()


def _local_cloud_behind_aws() -> Any:
    """The running local cloud if aws mode's calls go to it (AWS_ENDPOINT_URL), else None."""
    url = (os.environ.get("AWS_ENDPOINT_URL_IOT") or os.environ.get("AWS_ENDPOINT_URL") or "").rstrip("/")
    if not url:
        return None
    from kurs import sky

    current = sky.status()
    return current if current is not None and current.endpoint_url == url else None


def _aws_broker(settings: Any) -> tuple[str, int, str, str | None]:
    """(host, port, CA file, ALPN) of AWS IoT for the confirmed account. Sends nothing before the opt-in."""
    from kurs import aws_mode
    from kurs.provisioning import endpoint

    aws_mode.require_confirmation(settings)
    host = aws_mode._ats_endpoint(settings)
    port = settings.aws_mqtt_port
    alpn = endpoint.AWS_ALPN if port == 443 else None
    endpoint.amazon_root_ca()  # refuses a file that is not Amazon Root CA 1
    local = _local_cloud_behind_aws()
    if local is not None:
        # The one difference when aws mode is tested against the local cloud: its broker
        # listens on its own TLS port with a certificate from its own CA.
        return host, local.mqtts_port, local.ca_file, alpn
    return host, port, str(endpoint.AWS_ROOT_CA_FILE), alpn


def _aws_defaults(client_id: str | None, port: int | None, cert_file: Any, key_file: Any, ca_file: Any,
                  alpn: str | None) -> tuple[str, str, int, Any, Any, Any, str | None] | None:
    """aws mode without a host: where to connect and as whom. None in lokal mode."""
    from kurs import config

    settings = config.load()
    if settings.mode != "aws":
        return None
    from kurs.provisioning import notebook

    host, d_port, d_ca, d_alpn = _aws_broker(settings)
    if cert_file is None and key_file is None:  # the notebook itself, not a device
        client_id = notebook.check_client_id(client_id) if client_id else notebook.new_client_id()
        identity = notebook.identity(settings)
        cert_file, key_file = identity.cert_file, identity.key_file
        where = (host, port or d_port, alpn or d_alpn)
        if where not in _announced:
            _announced.add(where)
            print(f"MQTT i aws-modus: notatboka kobler til {host}:{where[1]}"
                  + (f" (ALPN {where[2]})" if where[2] else "")
                  + f" som «{notebook.THING}» (eget sertifikat og egen policy; se "
                  "kurs.provisioning.notebook.explain()).")
    return (client_id or f"kurs-{uuid.uuid4().hex[:8]}", host, port or d_port, cert_file, key_file,
            ca_file or d_ca, alpn or d_alpn)


def connect(client_id: str | None = None, *, host: str | None = None, port: int | None = None,
            tls: bool = False, cert_file: str | os.PathLike | None = None,
            key_file: str | os.PathLike | None = None, ca_file: str | os.PathLike | None = None,
            alpn: str | None = None, timeout: float = 5.0, clean_session: bool = True) -> Any:
    """A connected paho-mqtt 2.x client with its network loop running.

    Defaults to the running local cloud (plain TCP; ``tls=True`` for mutual TLS on "localhost").
    In aws mode, without ``host``: AWS IoT's ATS endpoint over mutual TLS, as the notebook's own
    thing ``kurs-notatbok`` unless ``cert_file``/``key_file`` are given (see the module docstring).
    ``alpn="x-amzn-mqtt-ca"`` with port 443 is how AWS IoT is reached through firewalls.
    """
    import paho.mqtt.client as mqtt

    aws = _aws_defaults(client_id, port, cert_file, key_file, ca_file, alpn) if host is None else None
    if aws is not None:
        client_id, host, port, cert_file, key_file, ca_file, alpn = aws
        tls = True  # AWS IoT speaks MQTT only over TLS
    client_id = client_id or f"kurs-{uuid.uuid4().hex[:8]}"
    if host is None or port is None or (tls and ca_file is None):
        d_host, d_port, d_tls_port, d_ca = _sky_defaults()
        if host is None:
            host = "localhost" if tls else d_host  # the broker's certificate names "localhost"
        port = port or (d_tls_port if tls else d_port)
        ca_file = ca_file or d_ca
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv311, clean_session=clean_session)
    if tls:
        if not cert_file or not key_file:
            raise CourseError("TLS-tilkobling trenger både sertifikat og privat nøkkel.",
                              "Oppgi cert_file= og key_file= (filene som provisjoneringen lagde).")
        for label, path in (("sertifikatet", cert_file), ("nøkkelen", key_file), ("CA-filen", ca_file)):
            if path and not os.path.exists(path):
                raise CourseError(f"Finner ikke {label}: {path}", "Sjekk filstien, eller provisjoner dingsen på nytt.")
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None)
        ctx.load_cert_chain(str(cert_file), str(key_file))
        if alpn:
            ctx.set_alpn_protocols([alpn])
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
                          "Sjekk nettverket. Stenger nettverket port 8883, bruk 443: KURS_AWS_MQTT_PORT=443."
                          if aws is not None else "Kjører den lokale skyen? Start den med kurs.sky.start().") from exc
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
                          "Sjekk at sertifikatet er registrert og aktivt (ACTIVE), og at policyen tillater "
                          "iot:Connect med denne klient-ID-en. "
                          + ("kurs.provisioning.verify(<ting>) finner de vanligste feilene." if aws is not None
                             else "Loggen til den lokale skyen sier mer: kurs sky logg."))
    rc = result["rc"]
    if rc.is_failure:
        client.loop_stop()
        raise CourseError(f"Megleren avviste tilkoblingen: {CONNACK_REASONS_NO.get(rc.value, str(rc))}.",
                          "Sjekk sertifikat, policy og klient-ID.")
    client.on_connect = None
    client.on_disconnect = None
    return client


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


class Monitor:
    """Subscribe to a topic filter and collect what arrives (a tiny version of AWS's test client)."""

    def __init__(self, topic_filter: str | list[str], *, qos: int = 0, echo: bool = False,
                 client: Any = None, **connect_args: Any) -> None:
        self.filters = [topic_filter] if isinstance(topic_filter, str) else list(topic_filter)
        self.echo = echo
        self.messages: list[Message] = []
        self._queue: queue.Queue[Message] = queue.Queue()
        self._own_client = client is None
        self.client = client or connect(**connect_args)
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
            self.client.disconnect()
            self.client.loop_stop()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def publish(topic: str, payload: Any, *, qos: int = 1, client: Any = None, **connect_args: Any) -> None:
    """Publish one message (dicts become JSON) and wait until the broker has it."""
    data = json.dumps(payload) if isinstance(payload, dict | list) else payload
    own = client is None
    client = client or connect(**connect_args)
    try:
        info = client.publish(topic, data, qos=qos)
        info.wait_for_publish(timeout=5)
        if qos > 0 and not info.is_published():  # AWS IoT drops a client that may not publish here
            raise CourseError(f"Megleren bekreftet ikke meldingen på «{topic}».",
                              "Sjekk emnet, og at policyen tillater iot:Publish på det.")
    finally:
        if own:
            client.disconnect()
            client.loop_stop()
