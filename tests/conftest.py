"""Shared fixtures. ``sky``: one real local cloud for the session, in a private temp KURS_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Notebooks made to fail on purpose (tests/test_nbval_catches_failures.py runs them in a subprocess).
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(scope="session")
def kurs_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = str(tmp_path_factory.mktemp("kurs-home"))
    old = os.environ.get("KURS_HOME")
    os.environ["KURS_HOME"] = home
    yield home
    if old is None:
        os.environ.pop("KURS_HOME", None)
    else:
        os.environ["KURS_HOME"] = old


@pytest.fixture(scope="session")
def sky(kurs_home: str) -> Iterator:
    """A real local cloud on free ports; boto3 and kurs.mqtt in this process point at it."""
    from kurs import sky as sky_mod
    from kurs.sky.process import free_port

    info = sky_mod.start(http_port=free_port(), mqtt_port=free_port(), mqtts_port=free_port(), quiet=True)
    yield info
    # By pid, not by state file: a test may have pointed KURS_HOME elsewhere in the meantime.
    from kurs.sky.process import terminate

    terminate(info)


@pytest.fixture
def iot(sky):  # noqa: ANN001 - fixture
    import boto3

    return boto3.client("iot")


@pytest.fixture
def iot_data(sky):  # noqa: ANN001 - fixture
    import boto3

    return boto3.client("iot-data")


@pytest.fixture
def boards() -> Iterator[list]:
    """Virtual boards a test makes; closed afterwards, their consoles printed (shown on failure)."""
    made: list = []
    yield made
    for board in made:
        board.close()
        print(f"--- console of {board.device_id} ---\n{board.console}")


@pytest.fixture
def aws_env(sky, monkeypatch):  # noqa: ANN001 - fixture
    """aws mode, with credentials that are not the local cloud's, sent to the local cloud."""
    from kurs import aws_mode
    from kurs import sky as sky_mod
    from kurs.provisioning import notebook

    # An IAM user's key made in the local cloud: AWS-like credentials that are not the cloud's own
    # (the front door accepts active keys of the account, as AWS does).
    keys = sky_mod.user_keys("test-aws-modus")
    monkeypatch.setenv("KURS_MODUS", "aws")
    monkeypatch.setenv("KURS_AWS_REGION", "eu-west-1")
    monkeypatch.delenv("KURS_AWS_KONTO", raising=False)
    monkeypatch.delenv("KURS_AWS_MQTT_PORT", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", sky.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["AWS_SECRET_ACCESS_KEY"])
    import boto3

    boto3.DEFAULT_SESSION = None  # boto3.client() must read these credentials, not a session's old ones
    aws_mode.reset()
    notebook.reset()
    yield
    boto3.DEFAULT_SESSION = None
    aws_mode.reset()
    notebook.reset()


CLOUD_ENV = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
             "KURS_MQTT_HOST", "KURS_MQTT_PORT", "KURS_MQTTS_PORT", "KURS_CA_FILE")


@pytest.fixture
def own_cloud_home(tmp_path, monkeypatch):  # noqa: ANN001 - fixture
    """A private KURS_HOME for a test that starts its own clouds; whatever kurs.sky.start() sets in
    the environment (and any session cloud's settings) comes back afterwards."""
    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    for key in CLOUD_ENV:
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    yield tmp_path
    import boto3

    boto3.DEFAULT_SESSION = None
