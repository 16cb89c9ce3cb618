"""Run a deployed Lambda function's Python handler in warm worker processes, as Lambda does.

``run_lambda(zip_bytes, handler, event, ...)`` unpacks the deployment package once (cached
by its SHA-256) and returns a :class:`LambdaResult`: the handler's return value, or the error
the AWS Python runtime would report, plus everything the function printed in that call.

The code runs in ``bootstrap.py`` workers, each a long-lived interpreter with the code
folder first on ``sys.path`` that imports the handler module once (module-level code runs once,
like a warm Lambda container; importing may take up to 10 s, as Lambda's init phase may) and
then serves invocations. Workers are pooled by function, code and configuration: new code or
configuration gets a new worker; an overlapping call gets a second worker; an idle worker is
stopped after ``IDLE_LIMIT_S``; a worker that timed out or crashed is discarded, so the next
call starts afresh. :func:`shutdown` stops them all.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from kurs.errors import CourseError

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
INIT_ALLOWANCE_S = 10.0  # Lambda's init phase limit
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda's limit for an unzipped package
MAX_LOG_BYTES = 256 * 1024
IDLE_LIMIT_S = 300.0  # an idle warm worker is stopped after this long, as Lambda recycles idle ones
RESPONSE_GRACE_S = 0.1  # for the answer to cross the pipe after the handler's own time limit
DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT = "123456789012"
# Passed through from the local cloud so the handler's boto3 reaches it (endpoint, region, keys).
_PASSTHROUGH_PREFIXES = ("AWS_",)
_PASSTHROUGH_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "KURS_HOME")
_FENCE_VARIABLES = ("HOME", "TMPDIR", "TEMP", "TMP")
_NEVER_PASSED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")  # a profile of the cloud user's own, maybe real AWS


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
    max_memory_mb: int | None = None  # peak resident memory of the worker ("Max Memory Used")

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
        if self.error.get("errorType") == "Runtime.OutOfMemory":
            return (f"Lambda «{function_name}» ble stoppet fordi den brukte mer minne enn de {self.max_memory_mb} MB "
                    f"funksjonen har (MemorySize), som i AWS: Runtime.OutOfMemory. Øk MemorySize med "
                    "update_function_configuration, eller bruk mindre minne")
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
        k: v for k, v in os.environ.items()
        if (k.startswith(_PASSTHROUGH_PREFIXES) or k in _PASSTHROUGH_NAMES) and k not in _NEVER_PASSED
    }
    # The function's own variables, but none that steer the fence or the loader: TMPDIR is where
    # sandbox.py lets it write, HOME where ~/.aws and ~/.ssh are, LD_PRELOAD native code loaded
    # before the fence is up. Those stay the cloud's own.
    env.update({str(k): str(v) for k, v in (environment or {}).items()
                if str(k) not in _FENCE_VARIABLES and not str(k).startswith(("LD_", "DYLD_"))})
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


class _WorkerGone(Exception):
    """The worker process ended (or stopped answering in time)."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "exited")
        self.timed_out = timed_out


class _Worker:
    """One warm execution environment: a bootstrap process serving invocations in turn."""

    def __init__(self, key: tuple[Any, ...], function_name: str, config_path: Path, code_dir: Path,
                 env: dict[str, str], first_log: Path) -> None:
        self.key = key
        self.function_name = function_name
        self.last_used = time.monotonic()
        request_read, self._request_fd = os.pipe()
        self._response_fd, response_write = os.pipe()
        self._pending = b""
        try:
            with open(first_log, "ab") as log_file:  # the init phase prints into the first call's log
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", "-u", str(BOOTSTRAP), str(config_path),
                     str(request_read), str(response_write)],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=code_dir,
                    env=env,
                    pass_fds=(request_read, response_write),
                    start_new_session=True,  # its own process group, so a timeout kills all of it
                )
        except BaseException:
            os.close(self._request_fd)
            os.close(self._response_fd)
            raise
        finally:
            os.close(request_read)
            os.close(response_write)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def receive(self, timeout_s: float) -> dict[str, Any]:
        """The worker's next JSON line; raises :class:`_WorkerGone` at EOF or after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._response_fd], [], [], max(0.0, left))
            if not ready:
                raise _WorkerGone(timed_out=True)
            chunk = os.read(self._response_fd, 1 << 16)
            if not chunk:
                raise _WorkerGone(timed_out=False)
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode("utf-8")
        try:
            while data:
                data = data[os.write(self._request_fd, data):]
        except OSError as exc:  # BrokenPipeError: it is gone
            raise _WorkerGone(timed_out=False) from exc

    def exit_status(self) -> int:
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.proc.kill()
        self.proc.wait()
        for fd in (self._request_fd, self._response_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._request_fd = self._response_fd = -1


class _Pool:
    """Idle warm workers by configuration; a busy worker is never shared, so an overlapping
    call to the same function gets a second worker (as Lambda scales out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[Any, ...], list[_Worker]] = {}
        self._busy: set[_Worker] = set()
        self._reaper: threading.Thread | None = None
        self._wake = threading.Event()

    def take(self, key: tuple[Any, ...]) -> _Worker | None:
        now = time.monotonic()
        with self._lock:
            workers = self._idle.get(key, [])
            while workers:
                worker = workers.pop()
                if worker.alive() and now - worker.last_used < IDLE_LIMIT_S:
                    self._busy.add(worker)
                    return worker
                worker.kill()
        return None

    def add_busy(self, worker: _Worker) -> None:
        """A new worker; idle workers of an older version of the same function are stopped."""
        stale = []
        with self._lock:
            self._busy.add(worker)
            for key in [k for k, ws in self._idle.items() if ws and ws[0].function_name == worker.function_name]:
                if key != worker.key:
                    stale.extend(self._idle.pop(key))
            if self._reaper is None or not self._reaper.is_alive():
                self._wake.clear()
                self._reaper = threading.Thread(target=self._reap, name="lambda-reaper", daemon=True)
                self._reaper.start()
        for old in stale:
            old.kill()

    def give_back(self, worker: _Worker) -> None:
        worker.last_used = time.monotonic()
        with self._lock:
            self._busy.discard(worker)
            self._idle.setdefault(worker.key, []).append(worker)

    def drop(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()

    def _reap(self) -> None:
        """Stop workers idle for longer than IDLE_LIMIT_S; end when there are none."""
        while not self._wake.wait(max(1.0, min(30.0, IDLE_LIMIT_S))):
            now = time.monotonic()
            expired = []
            with self._lock:
                for key, workers in list(self._idle.items()):
                    keep = [w for w in workers if now - w.last_used < IDLE_LIMIT_S and w.alive()]
                    expired.extend(w for w in workers if w not in keep)
                    if keep:
                        self._idle[key] = keep
                    else:
                        del self._idle[key]
                done = not self._idle and not self._busy
                if done:
                    self._reaper = None
            for worker in expired:
                worker.kill()
            if done:
                break

    def shutdown(self) -> None:
        with self._lock:
            workers = [w for ws in self._idle.values() for w in ws] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
            self._wake.set()
            self._reaper = None
        for worker in workers:
            worker.kill()


_pool = _Pool()


def shutdown() -> None:
    """Stop every warm worker (the local cloud calls this when it stops)."""
    _pool.shutdown()


atexit.register(shutdown)


def _failure(error_type: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"errorType": error_type, "errorMessage": message, "stackTrace": []}}


def _exit_failure(status: int, prefix: str) -> dict[str, Any]:
    """What Lambda reports when the runtime process ended. A SIGKILL we did not send (timeouts are
    handled apart) is the worker's own memory limit, which AWS reports as Runtime.OutOfMemory
    ("Runtime exited with error: signal: killed"); see bootstrap.py."""
    if hasattr(signal, "SIGKILL") and status == -signal.SIGKILL:  # no SIGKILL on Windows
        return _failure("Runtime.OutOfMemory", f"{prefix}Error: Runtime exited with error: signal: killed")
    return _failure("Runtime.ExitError", f"{prefix}Error: Runtime exited with error: exit status {status}")


def _start_worker(key: tuple[Any, ...], function_name: str, handler: str, code_dir: Path, env: dict[str, str],
                  memory_mb: int, region: str, account_id: str, log_path: Path) -> tuple[_Worker | None, dict | None]:
    """A fresh worker past its init phase, or (None, the failed outcome) if the init failed."""
    config = {
        "code_dir": str(code_dir),
        "handler": handler,
        "function_name": function_name,
        "function_arn": f"arn:aws:lambda:{region}:{account_id}:function:{function_name}",
        "memory_mb": memory_mb,
        "log_stream_name": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
    }
    # The worker reads its config at start-up only, so a file per start is enough.
    fd, config_name = tempfile.mkstemp(prefix="kurs-lambda-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(config, f)
    try:
        worker = _Worker(key, function_name, Path(config_name), code_dir, env, log_path)
        _pool.add_busy(worker)
        try:
            ready = worker.receive(INIT_ALLOWANCE_S)
        except _WorkerGone as gone:
            status = None if gone.timed_out else worker.exit_status()
            _pool.drop(worker)
            if status is None:
                return None, _failure("Sandbox.Timedout",
                                      f"Error: Init phase timed out after {INIT_ALLOWANCE_S:.2f} seconds")
            return None, _exit_failure(status, "")
    finally:
        os.unlink(config_name)
    if not ready.get("ready"):
        _pool.drop(worker)
        return None, {"ok": False, "error": ready.get("error")}
    return worker, None


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

    Runs in a warm worker for this code and configuration when one is idle, else in a new one.
    Raises :class:`CourseError` only for a package that cannot be unpacked; everything the
    function does wrong comes back as a failed :class:`LambdaResult`.
    """
    code_dir = unpack(zip_bytes, cache_dir)
    env = _child_env(environment, function_name, memory_mb, region, code_dir)
    key = (function_name, str(code_dir), handler, memory_mb, region, account_id, float(timeout_s),
           tuple(sorted(env.items())))
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kurs-lambda-") as work:
        log_path = Path(work) / "log.txt"
        log_path.touch(mode=0o600)
        worker = _pool.take(key)
        outcome: dict[str, Any] | None = None
        if worker is None:
            worker, outcome = _start_worker(key, function_name, handler, code_dir, env, memory_mb, region,
                                            account_id, log_path)
        if worker is not None:
            try:
                worker.send({"event": event, "request_id": request_id, "timeout_s": float(timeout_s),
                             "log_path": str(log_path)})
                outcome = worker.receive(float(timeout_s) + RESPONSE_GRACE_S)
            except _WorkerGone as gone:
                if gone.timed_out:  # like Lambda after a timeout, the next call starts afresh
                    _pool.drop(worker)
                    outcome = _failure("Sandbox.Timedout",
                                       f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds")
                else:
                    status = worker.exit_status()
                    _pool.drop(worker)
                    outcome = _exit_failure(status, f"RequestId: {request_id} ")
            else:
                _pool.give_back(worker)
        assert outcome is not None
        duration_ms = int((time.monotonic() - started) * 1000)
        log = _read_log(log_path)
    error = outcome.get("error") or {}
    max_memory_mb = outcome.get("max_memory_mb")
    if error.get("errorType") == "Runtime.OutOfMemory":
        # The lines Lambda itself writes after a function killed for its memory.
        log = log.rstrip("\n") + f"\n{error['errorMessage']}\nRuntime.OutOfMemory\n"
        max_memory_mb = memory_mb
    return LambdaResult(
        ok=bool(outcome.get("ok")),
        payload=outcome.get("payload"),
        error=outcome.get("error"),
        log=log,
        request_id=request_id,
        duration_ms=duration_ms,
        max_memory_mb=max_memory_mb,
    )
