"""Real MQTT clients against the local cloud's broker (issue 10, item 10).

One local cloud per test module (``cloud``), in its own KURS_HOME; certificates and IoT
policies are made through boto3 against it, exactly as a learner would (``identity``).
Every client and socket a test opens is closed in teardown (``closing``).

Run: ``KURS_HOME=$(mktemp -d) .venv/bin/python -m pytest tests/integration -q`` (about two minutes).
Each case's docstring names the AWS page (and section) or the MQTT clause it checks; the suite is an
oracle for the broker, so nothing in it is marked xfail. Modules: identity and policy over mutual TLS
(test_broker_identity), MQTT 5 (test_broker_mqtt5), delivery, retained messages and sessions
(test_broker_delivery), hostile input (test_broker_hostile), lifecycle events (test_broker_lifecycle),
persistence across stop/start and kill -9 (test_broker_persistence), and the real client libraries:
awsiotsdk, AWSIoTPythonSDK, mosquitto_pub/sub (test_broker_clients). ``rawmqtt`` encodes packets by
hand for what no library sends; ``clients`` has the recording paho client and certificate files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.integration.clients import ALLOW_ALL, Identity, Paho
from tests.integration.rawmqtt import RawClient

CLOUD_ENV = ("KURS_HOME", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "KURS_MQTT_HOST", "KURS_MQTT_PORT", "KURS_MQTTS_PORT", "KURS_CA_FILE")


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


