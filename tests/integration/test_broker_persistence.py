"""What the broker accepted survives the cloud process: ``kurs sky stop``/``start`` on the same ports,
and a kill -9 (item 10.6).

AWS IoT keeps a persistent session's queued QoS 1 messages for its expiry time (1 hour by default,
https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-persistent-sessions) and
retained messages until replaced or deleted (mqtt.html#mqtt-retain); the local cloud's README promises
"alt skyen har tatt imot, er der igjen ved neste start", and DESIGN.md "nothing already accepted is lost".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration import rawmqtt as mq
from tests.integration.clients import Paho, uid
from tests.ports import steady_port
from tests.waiting import eventually

pytestmark = pytest.mark.integration

CLOUD_ENV = ("KURS_HOME", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "KURS_MQTT_HOST", "KURS_MQTT_PORT", "KURS_MQTTS_PORT", "KURS_CA_FILE")


@pytest.fixture
def clouds(tmp_path, monkeypatch):  # noqa: ANN001 - fixture
    """Start, stop and kill clouds in a private KURS_HOME on fixed ports below the ephemeral range."""
    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    for key in CLOUD_ENV[1:]:
        monkeypatch.delenv(key, raising=False)
    ports = {"http_port": steady_port(), "mqtt_port": steady_port(), "mqtts_port": steady_port()}
    started: list = []

    class Clouds:
        def start(self, **env: str):  # noqa: ANN202 - SkyInfo
            from kurs import sky

            for key, value in env.items():
                monkeypatch.setenv(key, value)  # the cloud process inherits it
            info = sky.start(**ports, quiet=True)
            started.append(info)
            return info

        def stop(self) -> None:
            """``kurs sky stop``, the command a learner runs."""
            env = {**os.environ, "KURS_HOME": str(tmp_path)}
            kurs = Path(sys.executable).with_name("kurs")
            out = subprocess.run([str(kurs), "sky", "stop"], env=env,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr

        def kill(self, info) -> None:  # noqa: ANN001
            os.kill(info.pid, signal.SIGKILL)
            assert eventually(lambda: not _alive(info.pid), 10), "the cloud survived SIGKILL"

    yield Clouds()
    from kurs.sky.process import terminate

    for info in started:
        if _alive(info.pid):
            terminate(info)
    import boto3

    boto3.DEFAULT_SESSION = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours counts as gone
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _leave_messages(info, closing) -> tuple[str, str, str]:  # noqa: ANN001
    """A persistent QoS 1 subscriber that goes away, a QoS 1 message queued for it, and a retained one."""
    cid, topic, retained = uid("vedvarende"), f"kurs/lagret/{uid('ko')}", f"kurs/lagret/{uid('beholdt')}"
    sub = mq.RawClient(info.mqtt_port)
    closing.append(sub)
    assert sub.handshake(cid, clean=False).reason == 0
    sub.send(mq.subscribe(1, [(topic, 1)]))
    assert sub.expect(mq.SUBACK).reasons == [1]
    sub.send(mq.disconnect())
    sub.close()
    pub = Paho(info.mqtt_port, uid("pub"))
    closing.append(pub)
    pub.wait_connected()
    pub.publish(topic, b"i koen", qos=1)
    pub.publish(retained, b"beholdt", qos=1, retain=True)
    pub.disconnect()
    return cid, topic, retained


def _check_messages(info, closing, cid: str, topic: str, retained: str) -> None:  # noqa: ANN001
    back = mq.RawClient(info.mqtt_port)
    closing.append(back)
    ack = back.handshake(cid, clean=False)
    assert ack.reason == 0 and ack.session_present, "the persistent session was lost"
    got = back.publishes(1)
    assert [(p.topic, p.payload, p.qos) for p in got] == [(topic, b"i koen", 1)], "the queued QoS 1 message was lost"
    back.send(mq.puback(got[0].packet_id))

    late = mq.RawClient(info.mqtt_port)
    closing.append(late)
    assert late.handshake(uid("sen")).reason == 0
    late.send(mq.subscribe(1, [(retained, 1)]))
    late.expect(mq.SUBACK)
    replay = late.expect(mq.PUBLISH, timeout=5)
    assert (replay.topic, replay.payload, replay.retain) == (retained, b"beholdt", True), "the retained message was lost"


def test_queued_and_retained_messages_survive_stop_and_start(clouds, closing):
    """`kurs sky stop` then `kurs sky start` on the same ports."""
    first = clouds.start()
    left = _leave_messages(first, closing)
    clouds.stop()
    second = clouds.start()
    assert second.pid != first.pid
    _check_messages(second, closing, *left)


def test_queued_and_retained_messages_survive_kill_9(clouds, closing):
    """The cloud process killed with SIGKILL right after the PUBACKs (a laptop that loses power):
    what the broker acknowledged is there after the next start."""
    first = clouds.start()
    left = _leave_messages(first, closing)
    clouds.kill(first)
    second = clouds.start()
    _check_messages(second, closing, *left)


def test_persistent_session_expires(clouds, closing):
    """A persistent session (clean_session=0) not resumed within the expiry period is discarded with
    its queued messages; a later resume gets Session Present 0 (mqtt.html#mqtt-persistent-sessions,
    "Ending a persistent session" and "Reconnection after a persistent session has expired"). AWS's
    period is 1 hour; the cloud's ``KURS_SESSION_EXPIRY_S`` (the broker's hook for tests and
    workshops) makes it 2 s here."""
    info = clouds.start(KURS_SESSION_EXPIRY_S="2")
    cid, topic, _ = _leave_messages(info, closing)
    time.sleep(3.5)
    back = mq.RawClient(info.mqtt_port)
    closing.append(back)
    ack = back.handshake(cid, clean=False)
    assert ack.reason == 0 and not ack.session_present, "the session outlived its expiry period"
    assert not [p for p in back.collect(quiet=1.0) if p.type == mq.PUBLISH]
