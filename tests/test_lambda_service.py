"""LambdaService (the local cloud's Lambda) with real worker processes and a stand-in for moto's
function object: retries of failed asynchronous invocations and the MemorySize limit, as AWS
documents them. Each test cites its AWS page."""

from __future__ import annotations

import io
import logging
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from kurs.sky.awslambda.service import LambdaService

CODE = '''
import os
import time


def teller(event, context):
    with open(os.environ["TELLER"], "a") as f:
        f.write(f"{time.monotonic()}\\n")
    with open(os.environ["TELLER"]) as f:
        attempts = len(f.read().splitlines())
    if attempts <= int(event.get("feil_ganger", 99)):
        raise RuntimeError(f"feiler på forsøk {attempts}")
    return {"forsok": attempts}


def spiser(event, context):
    blocks = [b"x" * (1024 * 1024) for _ in range(event["mb"])]
    return {"mb": len(blocks)}
'''


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", CODE)
    return buffer.getvalue()


def fake_function(tmp_path: Path, handler: str, *, memory_mb: int = 128, retries: int | None = None,
                  timeout: int = 10) -> SimpleNamespace:
    """What LambdaService reads of moto's LambdaFunction."""
    configs = [SimpleNamespace(config={"MaximumRetryAttempts": retries})] if retries is not None else []
    return SimpleNamespace(
        function_name="knappTeller", run_time="python3.12", package_type="Zip", code_bytes=_zip(),
        handler=f"lambda_function.{handler}", timeout=timeout, memory_size=memory_mb,
        environment_vars={"TELLER": str(tmp_path / "forsok.txt")}, region="eu-west-1", account_id="123456789012",
        version="$LATEST", event_invoke_config=configs, logs_group_name="/aws/lambda/knappTeller",
        logs_backend=SimpleNamespace(ensure_log_group=lambda name: None), save_logs=lambda text: None,
        policy=SimpleNamespace(statements=[]))


@pytest.fixture
def service(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    monkeypatch.setenv("KURS_HOME", str(tmp_path / "home"))
    lambdas = LambdaService(lambda: "http://127.0.0.1:9", retry_delays_s=(0.3, 0.6))
    yield lambdas
    lambdas.close()


def _attempts(tmp_path: Path, wanted: int, timeout: float = 30) -> list[float]:
    path = tmp_path / "forsok.txt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= wanted:
            return [float(x) for x in lines]
        time.sleep(0.05)
    raise AssertionError(f"only {len(lines)} attempts, wanted {wanted}")


def test_failed_async_invocation_is_run_twice_more_with_growing_waits_then_dropped(service, tmp_path, caplog):  # noqa: ANN001
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html ("by default Lambda
    # attempts to run it two more times, with a one-minute wait between the first two attempts, and two
    # minutes between the second and third"); waits are shortened here to 0.3 s and 0.6 s.
    caplog.set_level(logging.INFO, logger="kurs.sky.awslambda.service")
    service.submit(fake_function(tmp_path, "teller"), {}, caller="en IoT-regel")
    times = _attempts(tmp_path, 3)
    assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.6
    deadline = time.monotonic() + 10
    while "forkastes" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # no fourth attempt
    assert len((tmp_path / "forsok.txt").read_text().splitlines()) == 3
    assert "forsøk 1 av 3" in caplog.text and "forsøk 2 av 3" in caplog.text
    assert "feilet på alle 3 forsøkene; hendelsen forkastes" in caplog.text


def test_a_retry_that_succeeds_ends_the_retries(service, tmp_path, caplog):  # noqa: ANN001
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
    caplog.set_level(logging.INFO, logger="kurs.sky.awslambda.service")
    service.submit(fake_function(tmp_path, "teller"), {"feil_ganger": 1}, caller="invoke (Event)")
    _attempts(tmp_path, 2)
    deadline = time.monotonic() + 10
    while "returnerte" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    assert len((tmp_path / "forsok.txt").read_text().splitlines()) == 2
    assert 'returnerte {"forsok": 2}' in caplog.text and "forkastes" not in caplog.text


def test_maximum_retry_attempts_zero_means_one_attempt(service, tmp_path, caplog):  # noqa: ANN001
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html (MaximumRetryAttempts 0-2)
    caplog.set_level(logging.INFO, logger="kurs.sky.awslambda.service")
    service.submit(fake_function(tmp_path, "teller", retries=0), {}, caller="invoke (Event)")
    _attempts(tmp_path, 1)
    deadline = time.monotonic() + 10
    while "forkastes" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    assert len((tmp_path / "forsok.txt").read_text().splitlines()) == 1
    assert "det eneste forsøket" in caplog.text


def test_reset_cancels_waiting_retries(tmp_path, monkeypatch, caplog):  # noqa: ANN001
    # The instructor's reset drops what is queued, waiting retries included.
    monkeypatch.setenv("KURS_HOME", str(tmp_path / "home"))
    caplog.set_level(logging.INFO, logger="kurs.sky.awslambda.service")
    service = LambdaService(lambda: "http://127.0.0.1:9", retry_delays_s=(1.0, 1.0))
    service.submit(fake_function(tmp_path, "teller"), {}, caller="invoke (Event)")
    deadline = time.monotonic() + 20
    while "forsøk 1 av 3" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    service.reset()
    time.sleep(1.5)
    service.close()
    assert len((tmp_path / "forsok.txt").read_text().splitlines()) == 1
