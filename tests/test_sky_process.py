"""Starting and stopping the local cloud from a terminal, as a learner or instructor would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from kurs.sky.process import free_port, is_cloud_process
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "KURS_HOME": str(tmp_path)}
    for key in ("AWS_ENDPOINT_URL", "KURS_MQTT_HOST"):
        env.pop(key, None)
    ports = ["--http-port", str(free_port()), "--mqtt-port", str(free_port()), "--mqtts-port", str(free_port())]

    def run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "kurs", *args]
        if args[:2] == ("sky", "start"):
            argv += ports
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)

    yield run
    run("sky", "stop")


def _pid(tmp_path: Path) -> int:
    return json.loads((tmp_path / "sky" / "sky.json").read_text())["pid"]


def test_start_status_stop_and_second_start(cli, tmp_path):
    started = cli("sky", "start")
    assert started.returncode == 0, started.stderr
    assert "startet" in started.stdout
    first_pid = _pid(tmp_path)

    again = cli("sky", "start")
    assert again.returncode == 0
    assert "kjører allerede" in again.stdout
    assert _pid(tmp_path) == first_pid, "a second start must reuse the running cloud"

    status = cli("sky", "status")
    assert status.returncode == 0 and f"prosess {first_pid}" in status.stdout

    stopped = cli("sky", "stop")
    assert "stoppet" in stopped.stdout
    assert not (tmp_path / "sky" / "sky.json").exists()
    assert not is_cloud_process(first_pid)

    not_running = cli("sky", "status")
    assert not_running.returncode == 1 and "kjører ikke" in not_running.stdout
    assert "kjørte ikke" in cli("sky", "stop").stdout


def test_status_says_where_the_saved_state_is(cli, tmp_path):
    assert cli("sky", "start").returncode == 0
    info = json.loads((tmp_path / "sky" / "sky.json").read_text())
    keys = json.loads((tmp_path / "sky" / "nokler.json").read_text())  # the cloud's own credentials
    iot = boto3.client("iot", endpoint_url=f"http://127.0.0.1:{info['http_port']}", region_name="eu-west-1",
                       **keys)
    iot.create_thing(thingName="esp32_STATUS")
    snapshot = tmp_path / "sky" / "tilstand.json"
    assert eventually(snapshot.exists, timeout=10), "the new thing should be saved within a second or so"
    running = cli("sky", "status")
    assert f"Lagret tilstand:   {snapshot}" in running.stdout

    cli("sky", "stop")
    stopped = cli("sky", "status")
    assert stopped.returncode == 1 and "Neste start henter fram" in stopped.stdout and str(snapshot) in stopped.stdout

    assert cli("sky", "start").returncode == 0
    assert "esp32_STATUS" in snapshot.read_text(), "the restarted cloud should have kept the thing"
    assert cli("sky", "reset").returncode == 0
    time.sleep(1.5)  # a snapshot written after the reset must not bring the thing back
    assert not snapshot.exists() or "esp32_STATUS" not in snapshot.read_text()


def test_killed_cloud_is_noticed_and_replaced(cli, tmp_path):
    assert cli("sky", "start").returncode == 0
    pid = _pid(tmp_path)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while is_cloud_process(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    status = cli("sky", "status")
    assert status.returncode == 1 and "kjører ikke" in status.stdout
    restarted = cli("sky", "start")
    assert restarted.returncode == 0, restarted.stderr
    assert "rydder opp" in restarted.stdout
    assert _pid(tmp_path) != pid


def test_env_prints_exports_that_reach_the_cloud(cli, tmp_path):
    assert cli("sky", "start").returncode == 0
    out = cli("sky", "env")
    assert out.returncode == 0
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    assert exports["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert Path(exports["KURS_CA_FILE"]).exists()


def test_env_without_a_running_cloud_says_how_to_start_it(cli):
    out = cli("sky", "env")
    assert out.returncode == 1
    assert "kjører ikke" in out.stderr and "kurs sky start" in out.stderr


def test_busy_port_gets_a_norwegian_message(cli, tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "KURS_HOME": str(tmp_path)}
        out = subprocess.run([sys.executable, "-m", "kurs", "sky", "start", "--mqtt-port", str(port)],
                             env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"Port {port}" in out.stderr and "i bruk" in out.stderr


def test_help_is_norwegian():
    out = subprocess.run([sys.executable, "-m", "kurs", "sky", "--help"], capture_output=True, text=True)
    assert "den lokale skyen" in out.stdout and "vis denne hjelpeteksten" in out.stdout
