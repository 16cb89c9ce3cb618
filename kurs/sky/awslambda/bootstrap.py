"""A warm Lambda execution environment: one child Python process (started by runner.py).

Usage: ``python -I -u bootstrap.py <config.json> <request fd> <response fd>``.

Like a real Lambda container, it imports the handler module once (the init phase, whose
output goes to the log the process was started with) and then serves invocations one at a
time. The protocol is JSON lines on two pipes of its own, so nothing the function prints can
corrupt it:

- response ``{"ready": true}`` or ``{"ready": false, "error": ...}`` once, after the import
  (then the process exits on failure, as Lambda does not keep a failed init);
- request ``{"event", "request_id", "timeout_s", "log_path"}``; while it runs, fd 1 and fd 2
  point at ``log_path``, so prints (and output of child processes) land in that invocation's log;
- response ``{"ok": ..., "payload"|"error": ...}``.

The runner enforces the time limit and kills the process group when it is exceeded. A
handler that calls ``sys.exit`` ends the process with that status, which the runner reports
as ``Runtime.ExitError``.

The function's MemorySize is enforced here, as Lambda's sandbox does: when the process's peak
resident memory (VmHWM, what Lambda reports as "Max Memory Used") exceeds it, or an allocation
fails (MemoryError), the process kills itself with SIGKILL, which the runner reports as AWS
does: ``Runtime.OutOfMemory``, "Runtime exited with error: signal: killed". A watchdog thread
samples the peak every few milliseconds; RLIMIT_DATA (MemorySize plus headroom for untouched
reservations such as thread stacks, which Lambda does not count) stops a single huge
allocation before it can hurt the machine. Linux has both; other POSIX systems have the
limit and a watchdog on ``ru_maxrss``; Windows has neither (and the runner needs POSIX pipes). Error types and messages follow the AWS Lambda Python runtime, so
learners see what real Lambda says.

Only the standard library is used here: this file runs before the learner's code.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

# Exit when no request came for this long: a backstop for the runner's own idle limit.
IDLE_EXIT_S = 900.0
MIB = 1024 * 1024
DATA_HEADROOM_MB = 256  # RLIMIT_DATA above MemorySize: thread stacks and untouched reservations
WATCH_INTERVAL_S = 0.005
# Set while the function's code runs (init and invocations): the watchdog sleeps in between,
# so an idle warm worker costs no CPU.
RUNNING = threading.Event()


def _peak_rss_bytes() -> int | None:
    """The process's peak resident memory. Linux: VmHWM of this process (ru_maxrss would
    include the parent's peak from before exec)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def out_of_memory() -> None:
    """Die as Lambda's sandbox kills a function over its memory: SIGKILL, nothing more runs."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)


def limit_memory(memory_mb: int) -> None:
    """Enforce MemorySize (see the module docstring)."""
    limit = memory_mb * MIB
    if resource is not None and hasattr(resource, "RLIMIT_DATA"):
        ceiling = (memory_mb + DATA_HEADROOM_MB) * MIB
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard == resource.RLIM_INFINITY or hard >= ceiling:
            resource.setrlimit(resource.RLIMIT_DATA, (ceiling, hard))
    start = _peak_rss_bytes()
    if start is None or start >= limit:
        return  # no way to measure here (or the measure includes more than this process)

    def watch() -> None:
        while RUNNING.wait():
            peak = _peak_rss_bytes()
            if peak is not None and peak > limit:
                out_of_memory()
            time.sleep(WATCH_INTERVAL_S)

    old = threading.stack_size()
    threading.stack_size(256 * 1024)  # the watchdog's own stack counts towards RLIMIT_DATA
    try:
        threading.Thread(target=watch, name="minnevakt", daemon=True).start()
    finally:
        threading.stack_size(old)


def peak_memory_mb() -> int | None:
    peak = _peak_rss_bytes()
    return None if peak is None else -(-peak // MIB)


class LambdaContext:
    """The ``context`` argument of a Python Lambda handler."""

    def __init__(self, config: dict[str, Any], request_id: str, deadline_ms: float) -> None:
        self.function_name = config["function_name"]
        self.function_version = config.get("function_version", "$LATEST")
        self.invoked_function_arn = config["function_arn"]
        self.memory_limit_in_mb = str(config.get("memory_mb", 128))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = config.get("log_stream_name", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


def _load_handler(handler: str) -> tuple[Any, dict[str, Any] | None]:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except MemoryError:
        out_of_memory()
    except SyntaxError as exc:
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
    except ImportError as exc:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:  # code at module level that raised
        traceback.print_exc()
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__))
        return None, _error(type(exc).__name__, str(exc), stack)
    fn = getattr(module, function_name, None)
    if not callable(fn):
        return None, _error(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return fn, None


class _Channel:
    """JSON lines: requests read from one pipe, responses written to another."""

    def __init__(self, request_fd: int, response_fd: int) -> None:
        self._request_fd = request_fd
        self._response_fd = response_fd
        self._pending = b""

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self._response_fd, data):]

    def receive(self, idle_s: float) -> dict[str, Any] | None:
        """The next request; None when the runner has gone away or nothing came for ``idle_s``."""
        while b"\n" not in self._pending:
            ready, _, _ = select.select([self._request_fd], [], [], idle_s)
            if not ready:
                return None
            chunk = os.read(self._request_fd, 1 << 16)
            if not chunk:
                return None
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)


def _point_output_at(path: str) -> None:
    """Make fd 1 and 2 (print, stderr, child processes) write to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)


def _invoke(fn: Any, config: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    request_id = request["request_id"]
    context = LambdaContext(config, request_id, time.time() * 1000 + float(request["timeout_s"]) * 1000)
    print(f"START RequestId: {request_id} Version: {context.function_version}", flush=True)
    try:
        payload = fn(request.get("event"), context)
    except MemoryError:
        out_of_memory()
    except Exception as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])  # without _invoke()
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        print("Traceback (most recent call last):", file=sys.stderr)
        print("".join(stack), end="", file=sys.stderr, flush=True)
        result: dict[str, Any] = {"ok": False, "error": _error(type(exc).__name__, str(exc), stack)}
    else:
        try:
            result = {"ok": True, "payload": json.loads(json.dumps(payload))}
        except (TypeError, ValueError) as exc:
            result = {"ok": False, "error": _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")}
    print(f"END RequestId: {request_id}", flush=True)
    sys.stderr.flush()
    result["max_memory_mb"] = peak_memory_mb()
    return result


def _load_sandbox() -> Any:
    """sandbox.py beside this file (``-I`` keeps this folder off sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_kurs_lambda_sandbox", Path(__file__).with_name("sandbox.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    channel = _Channel(int(sys.argv[2]), int(sys.argv[3]))
    limit_memory(int(config.get("memory_mb", 128)))
    _load_sandbox().install_from_environment(config["code_dir"])
    sys.path.insert(0, config["code_dir"])

    RUNNING.set()
    fn, failure = _load_handler(config["handler"])
    RUNNING.clear()
    sys.stdout.flush()
    sys.stderr.flush()
    if failure is not None:
        channel.send({"ready": False, "error": failure})
        return 1
    channel.send({"ready": True})

    devnull = os.devnull
    while True:
        _point_output_at(devnull)  # between invocations, stray output of threads goes nowhere
        request = channel.receive(IDLE_EXIT_S)
        if request is None:
            return 0
        _point_output_at(request["log_path"])
        RUNNING.set()
        try:
            response = _invoke(fn, config, request)
        finally:
            RUNNING.clear()
        channel.send(response)


if __name__ == "__main__":
    sys.exit(main())
