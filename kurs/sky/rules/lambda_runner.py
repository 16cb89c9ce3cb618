"""Run a deployed Lambda function's Python handler in its own Python process.

``run_lambda(zip_bytes, handler, event, ...)`` unpacks the deployment package once (cached
by its SHA-256), starts ``lambda_bootstrap.py`` in a fresh interpreter with the code folder
first on ``sys.path``, and returns a :class:`LambdaResult`: the handler's return value, or
the error the AWS Python runtime would report, plus everything the function printed. The
handler's own time limit is ``timeout_s``; importing the module may take up to 10 s more,
as Lambda's init phase may.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from kurs.errors import CourseError

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
INIT_ALLOWANCE_S = 10.0  # Lambda's init phase limit
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda's limit for an unzipped package
MAX_LOG_BYTES = 256 * 1024
DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT = "123456789012"
# Passed through from the local cloud so the handler's boto3 reaches it (endpoint, region, keys).
_PASSTHROUGH_PREFIXES = ("AWS_",)
_PASSTHROUGH_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "KURS_HOME")


@dataclass
class LambdaResult:
    """One invocation. ``payload`` is the return value when ``ok``; else ``error`` is AWS's
    ``{"errorMessage", "errorType", "stackTrace"}``. ``log`` is what the function printed."""

    ok: bool
    payload: Any
    error: dict[str, Any] | None
    log: str
    request_id: str
    duration_ms: int

    @property
    def timed_out(self) -> bool:
        return bool(self.error and self.error.get("errorType") == "Sandbox.Timedout")

    def summary(self, function_name: str) -> str:
        """One Norwegian line for the local cloud's log."""
        if self.ok:
            shown = json.dumps(self.payload, ensure_ascii=False)
            if len(shown) > 200:
                shown = shown[:200] + " …"
            return f"Lambda «{function_name}» kjørte ferdig på {self.duration_ms} ms og returnerte {shown}"
        assert self.error is not None
        if self.timed_out:
            return f"Lambda «{function_name}» ble stoppet fordi den brukte for lang tid ({self.error['errorMessage']})"
        return f"Lambda «{function_name}» feilet: {self.error['errorType']}: {self.error['errorMessage']}"


def _default_cache_dir() -> Path:
    from kurs.paths import private_dir

    return private_dir("lambda-kode")


def unpack(zip_bytes: bytes, cache_dir: Path | None = None) -> Path:
    """The folder holding this deployment package's files, unpacked once and reused."""
    root = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / sha256(zip_bytes).hexdigest()[:32]
    if target.is_dir():
        return target
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise CourseError(
            "Lambda-pakken er ikke en gyldig zip-fil.",
            "Pakk koden med zipfile (eller «zip») og last den opp på nytt med update_function_code.",
        ) from exc
    with archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
            raise CourseError(
                "Lambda-pakken er større enn 250 MB utpakket, som er grensen i AWS Lambda.",
                "Ta bare med koden funksjonen trenger.",
            )
        staging = Path(tempfile.mkdtemp(prefix=".utpakking-", dir=root))
        try:
            archive.extractall(staging)  # extractall keeps every file inside staging
            try:
                os.rename(staging, target)
            except OSError:  # another invocation unpacked the same package first
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _child_env(
    environment: dict[str, str] | None, function_name: str, memory_mb: int, region: str, code_dir: Path
) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k.startswith(_PASSTHROUGH_PREFIXES) or k in _PASSTHROUGH_NAMES
    }
    env.update({str(k): str(v) for k, v in (environment or {}).items()})
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_REGION": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or region,
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION") or region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


def _read_log(path: Path) -> str:
    with open(path, "rb") as f:
        data = f.read(MAX_LOG_BYTES + 1)
    text = data[:MAX_LOG_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_LOG_BYTES:
        text += "\n… (loggen er kortet ned)\n"
    return text


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def run_lambda(
    zip_bytes: bytes,
    handler: str,
    event: Any,
    *,
    function_name: str,
    timeout_s: float = 3.0,
    environment: dict[str, str] | None = None,
    memory_mb: int = 128,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT,
    cache_dir: Path | None = None,
) -> LambdaResult:
    """Invoke ``handler`` (e.g. ``"lambda_function.lambda_handler"``) from the zip with ``event``.

    Raises :class:`CourseError` only for a package that cannot be unpacked; everything the
    function does wrong comes back as a failed :class:`LambdaResult`.
    """
    code_dir = unpack(zip_bytes, cache_dir)
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kurs-lambda-") as work:
        work_dir = Path(work)
        result_path, log_path = work_dir / "result.json", work_dir / "log.txt"
        config = {
            "code_dir": str(code_dir),
            "handler": handler,
            "result_path": str(result_path),
            "timeout_s": float(timeout_s),
            "function_name": function_name,
            "function_arn": f"arn:aws:lambda:{region}:{account_id}:function:{function_name}",
            "request_id": request_id,
            "memory_mb": memory_mb,
            "log_stream_name": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        }
        (work_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-u", str(BOOTSTRAP), str(work_dir / "config.json")],
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,  # one log, in the order it was written
                cwd=code_dir,
                env=_child_env(environment, function_name, memory_mb, region, code_dir),
                start_new_session=True,  # its own process group, so a timeout kills all of it
            )
            killed = False
            try:
                proc.communicate(json.dumps(event).encode("utf-8"), timeout=INIT_ALLOWANCE_S + timeout_s + 2)
            except subprocess.TimeoutExpired:  # stuck where the child's own watchdog cannot act
                _kill_group(proc)
                killed = True
        duration_ms = int((time.monotonic() - started) * 1000)
        log = _read_log(log_path)
        if result_path.exists():
            outcome = json.loads(result_path.read_text(encoding="utf-8"))
        elif killed:
            outcome = {
                "ok": False,
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
                    "stackTrace": [],
                },
            }
        else:
            outcome = {
                "ok": False,
                "error": {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                    f"exit status {proc.returncode}",
                    "stackTrace": [],
                },
            }
    return LambdaResult(
        ok=bool(outcome.get("ok")),
        payload=outcome.get("payload"),
        error=outcome.get("error"),
        log=log,
        request_id=request_id,
        duration_ms=duration_ms,
    )
