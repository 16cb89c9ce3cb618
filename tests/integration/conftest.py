"""Real MQTT clients against the local cloud's broker (issue 10, item 10).

One local cloud per test module (``cloud``), in its own KURS_HOME; certificates and IoT
policies are made through boto3 against it, exactly as a learner would (``identity``).
Every client and socket a test opens is closed in teardown (``closing``).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.integration.rawmqtt import RawClient
from tests.waiting import eventually

CLOUD_ENV = ("KURS_HOME", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "KURS_MQTT_HOST", "KURS_MQTT_PORT", "KURS_MQTTS_PORT", "KURS_CA_FILE")

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def cloud() -> Iterator:
    """A local cloud of this module's own (private KURS_HOME, free ports); boto3 points at it."""
    from kurs import sky as sky_mod
    from kurs.sky.process import free_port, terminate

    saved = {k: os.environ.get(k) for k in CLOUD_ENV}
    home = tempfile.mkdtemp(prefix="kurs-broker-tests-")
    os.environ["KURS_HOME"] = home
    info = sky_mod.start(http_port=free_port(), mqtt_port=free_port(), mqtts_port=free_port(), quiet=True)
    try:
        yield info
    finally:
        terminate(info)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        import boto3

        boto3.DEFAULT_SESSION = None
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def iot(cloud):  # noqa: ANN001 - fixture
    import boto3

    return boto3.client("iot")


@pytest.fixture(scope="module")
def iot_data(cloud):  # noqa: ANN001 - fixture
    import boto3

    return boto3.client("iot-data")


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


@pytest.fixture
def identity(cloud, iot, tmp_path) -> Callable[..., Identity]:  # noqa: ANN001 - fixture
    """make(policy=ALLOW_ALL | dict | None, active=True): a new certificate with that policy attached."""

    def make(policy: dict | None = ALLOW_ALL, *, active: bool = True) -> Identity:
        r = iot.create_keys_and_certificate(setAsActive=active)
        tag = uuid.uuid4().hex[:8]
        cert, key = tmp_path / f"{tag}.cert.pem", tmp_path / f"{tag}.key.pem"
        cert.write_text(r["certificatePem"])
        key.write_text(r["keyPair"]["PrivateKey"])
        key.chmod(0o600)
        name = None
        if policy is not None:
            name = f"policy-{tag}"
            iot.create_policy(policyName=name, policyDocument=json.dumps(policy))
            iot.attach_policy(policyName=name, target=r["certificateArn"])
        return Identity(r["certificateId"], r["certificateArn"], str(cert), str(key), cloud.ca_file, name)

    return make


@pytest.fixture
def closing() -> Iterator[list]:
    """Things to close after the test: paho clients, RawClients, SDK clients, processes."""
    things: list = []
    yield things
    for thing in reversed(things):
        try:
            if isinstance(thing, Paho):
                thing.close()
            elif isinstance(thing, RawClient):
                thing.close()
            elif hasattr(thing, "kill"):  # subprocess.Popen
                thing.kill()
                thing.wait(5)
            elif callable(thing):
                thing()
        except Exception:  # noqa: BLE001 - teardown goes on
            pass


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
