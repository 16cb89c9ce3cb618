"""Runs one Lambda invocation inside a child Python process (started by lambda_runner).

Usage: ``python -I -u lambda_bootstrap.py <config.json>``; the event arrives on stdin.
Imports the handler module from the unpacked code folder (the function's "/var/task"),
calls ``handler(event, context)``, and writes ``{"ok": ..., "payload"|"error": ...}`` to the
result file named in the config. Whatever the function prints is its log. Error types and
messages follow the AWS Lambda Python runtime, so learners see what real Lambda says.

Only the standard library is used here: this file runs before the learner's code.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from typing import Any


class LambdaContext:
    """The ``context`` argument of a Python Lambda handler."""

    def __init__(self, config: dict[str, Any], deadline_ms: float) -> None:
        self.function_name = config["function_name"]
        self.function_version = config.get("function_version", "$LATEST")
        self.invoked_function_arn = config["function_arn"]
        self.memory_limit_in_mb = str(config.get("memory_mb", 128))
        self.aws_request_id = config["request_id"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = config.get("log_stream_name", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _write_result(path: str, result: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, path)


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []},
    }


def _load_handler(handler: str) -> tuple[Any, dict[str, Any] | None]:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
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


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    result_path = config["result_path"]
    event = json.loads(sys.stdin.read() or "null")
    sys.path.insert(0, config["code_dir"])

    fn, failure = _load_handler(config["handler"])
    if failure is not None:
        _write_result(result_path, failure)
        return 1

    timeout_s = float(config["timeout_s"])
    context = LambdaContext(config, time.time() * 1000 + timeout_s * 1000)
    print(f"START RequestId: {context.aws_request_id} Version: {context.function_version}", flush=True)

    def on_timeout() -> None:
        _write_result(
            result_path,
            _error(
                "Sandbox.Timedout",
                f"RequestId: {context.aws_request_id} Error: Task timed out after {timeout_s:.2f} seconds",
            ),
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(124)

    watchdog = threading.Timer(timeout_s, on_timeout)
    watchdog.daemon = True
    watchdog.start()
    try:
        payload = fn(event, context)
    except Exception as exc:
        watchdog.cancel()
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])  # without main()
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        print("Traceback (most recent call last):", file=sys.stderr)
        print("".join(stack), end="", file=sys.stderr, flush=True)
        _write_result(result_path, _error(type(exc).__name__, str(exc), stack))
        print(f"END RequestId: {context.aws_request_id}", flush=True)
        return 1
    try:
        text = json.dumps(payload)
    except (TypeError, ValueError) as exc:
        watchdog.cancel()
        _write_result(result_path, _error("Runtime.MarshalError", f"Unable to marshal response: {exc}"))
        print(f"END RequestId: {context.aws_request_id}", flush=True)
        return 1
    watchdog.cancel()
    _write_result(result_path, {"ok": True, "payload": json.loads(text)})
    print(f"END RequestId: {context.aws_request_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
