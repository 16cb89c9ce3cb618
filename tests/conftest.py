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
