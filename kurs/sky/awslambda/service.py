"""Lambda in the local cloud: functions deployed through boto3 really run.

moto stores functions (zip, handler, runtime, timeout, environment) but runs them in docker,
which a course machine does not have. Here the same deployed zip runs through
:func:`kurs.sky.awslambda.runner.run_lambda` in warm Python worker processes:

- boto3 ``lambda.invoke``: RequestResponse answers with the return value, or with AWS's
  error document and ``FunctionError: Unhandled``; Event is queued and answered 202 at once;
  DryRun runs nothing (204).
- the rules engine's ``lambda`` action: like AWS IoT it invokes asynchronously, after checking
  that the function exists and that its resource policy lets ``iot.amazonaws.com`` invoke it.
  An error inside the handler is logged (and written to CloudWatch Logs) but, as on AWS, does
  not reach the rule's errorAction;
- asynchronous invocations that fail are run twice more (after 1 and 2 minutes), or as often as
  the function's MaximumRetryAttempts says, then dropped with a log line, as Lambda does.

The function's boto3 reaches this local cloud: the runtime environment points
``AWS_ENDPOINT_URL`` here with the local cloud's dummy keys, whatever the process around it has.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import logging
import math
import os
import threading
from collections.abc import Callable
from typing import Any

from kurs.sky.awslambda.runner import LambdaResult, run_lambda, shutdown
from kurs.sky.info import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)

IOT_PRINCIPAL = "iot.amazonaws.com"
MAX_LOG_LINES = 40  # of a function's output, in the cloud log (CloudWatch Logs keeps all of it)
TAIL_BYTES = 4096  # LogType=Tail returns the last 4 KB of the log, as AWS does
# A failed asynchronous invocation is run "two more times, with a one-minute wait between the first
# two attempts, and two minutes between the second and third" (Lambda developer guide, "How Lambda
# handles errors and retries with asynchronous invocation"); MaximumRetryAttempts (0-2) lowers it.
RETRY_DELAYS_S = (60.0, 120.0)
DEFAULT_RETRIES = 2
RULE_NOTE = "IoT-regler kaller Lambda asynkront, så en feil inne i funksjonen går ikke til regelens errorAction."


class InvokeRefused(Exception):
    """AWS IoT could not invoke the function; shaped like a botocore ClientError for the log."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.response = {"Error": {"Code": code, "Message": message}}


def _error_result(error_type: str, message: str) -> LambdaResult:
    return LambdaResult(ok=False, payload=None, error={"errorMessage": message, "errorType": error_type,
                                                      "stackTrace": []},
                        log="", request_id="", duration_ms=0)


def _arn_location(name_or_arn: str) -> tuple[str, str]:
    """(account, region) named by a function ARN; the local cloud's own for a bare name."""
    parts = name_or_arn.split(":")
    if name_or_arn.startswith("arn:") and len(parts) >= 7:
        return parts[4] or ACCOUNT_ID, parts[3] or REGION
    return ACCOUNT_ID, REGION


def _allows_iot(statement: dict[str, Any]) -> bool:
    if statement.get("Effect", "Allow") != "Allow":
        return False
    principal = statement.get("Principal")
    services = principal.get("Service") if isinstance(principal, dict) else principal
    services = services if isinstance(services, list) else [services]
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    return IOT_PRINCIPAL in services and any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions)


class LambdaService:
    """Runs functions from moto's Lambda backend; ``endpoint()`` is this cloud's HTTP address."""

    def __init__(self, endpoint: Callable[[], str], *, workers: int = 2,
                 retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self._endpoint = endpoint
        # Whose key a function runs with (a room's learner's, by the function's name); None: the cloud's.
        self.owner_credentials: Callable[[str], tuple[str, str] | None] = lambda name: None
        self.in_room = False
        # Asynchronous invocations (rules, InvocationType=Event) run here, never on the rules
        # worker: a slow function must not hold up the next message.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda")
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._retry_delays = tuple(retry_delays_s)
        self._timers: set[threading.Timer] = set()  # retries waiting for their turn
        self._lock = threading.Lock()

    # --- finding functions ---------------------------------------------------------------------

    def function(self, name_or_arn: str) -> Any:
        """moto's LambdaFunction; raises moto's UnknownFunctionException (AWS's 404) if missing."""
        from moto.awslambda.models import lambda_backends

        account, region = _arn_location(name_or_arn)
        return lambda_backends[account][region].get_function(name_or_arn)

    # --- running -------------------------------------------------------------------------------

    def _environment(self, fn: Any) -> dict[str, str]:
        from kurs.paths import state_dir
        from kurs.sky.credentials import ensure

        env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
        # Last, so a function deployed here can only ever reach this local cloud. Like on AWS
        # (where they are the execution role's), the function gets credentials in its environment.
        # In a room a learner's function runs with that learner's key, so what it does with boto3
        # passes the same per-learner checks as the learner's notebook (on AWS: the role's rights).
        owner = self.owner_credentials(fn.function_name)
        if owner is None:
            own = ensure()  # the state folder's own (made by `kurs sky start`; here only if run alone)
            owner = (own.access_key_id, own.secret_access_key)
        env.update({
            "AWS_ENDPOINT_URL": self._endpoint(),
            "AWS_ACCESS_KEY_ID": owner[0],
            "AWS_SECRET_ACCESS_KEY": owner[1],
            "AWS_SESSION_TOKEN": "",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            # Lambda has no ~/.aws: the cloud user's profiles (and real keys) stay out of reach.
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # For sandbox.py: what the function may not read, and whether it runs in a room.
            "KURS_LAMBDA_SKJULT": str(state_dir()),
            "KURS_LAMBDA_ROM": "1" if self.in_room else "0",
        })
        return env

    @staticmethod
    def iot_may_invoke(fn: Any) -> bool:
        """Does the function's resource policy let AWS IoT (iot.amazonaws.com) invoke it?"""
        return any(_allows_iot(s) for s in fn.policy.statements)

    def run(self, fn: Any, event: Any, *, caller: str, timeout_s: float | None = None) -> LambdaResult:
        """Run one invocation now, log it in Norwegian and keep its log in CloudWatch Logs.

        ``timeout_s`` shortens the function's own timeout (the rules engine waits 2 s for aws_lambda())."""
        name = fn.function_name
        runtime = str(fn.run_time or "")
        if not runtime.startswith("python"):
            result = _error_result("Runtime.Unsupported", f"Den lokale skyen kan bare kjøre Python-funksjoner, "
                                   f"men «{name}» har runtime «{runtime or fn.package_type}».")
        elif not getattr(fn, "code_bytes", b""):
            result = _error_result("Runtime.Unsupported", f"Funksjonen «{name}» har ingen zip-pakke "
                                   "som den lokale skyen kan kjøre.")
        else:
            try:
                result = run_lambda(fn.code_bytes, str(fn.handler or ""), event, function_name=name,
                                    timeout_s=timeout_s if timeout_s is not None else float(fn.timeout or 3),
                                    environment=self._environment(fn),
                                    memory_mb=int(fn.memory_size or 128), region=fn.region,
                                    account_id=fn.account_id)
            except Exception as exc:  # a broken package (CourseError) or a failure to start Python
                result = _error_result("Runtime.ExitError", str(exc))
        self._record(fn, result, caller)
        return result

    def _record(self, fn: Any, result: LambdaResult, caller: str) -> None:
        name = fn.function_name
        log.info("%s (kalt av %s).", result.summary(name), caller)
        lines = [line for line in result.log.splitlines() if line.strip()]
        for line in lines[:MAX_LOG_LINES]:
            log.info("  [%s] %s", name, line)
        if len(lines) > MAX_LOG_LINES:
            log.info("  [%s] … %d linjer til i CloudWatch-loggen %s", name, len(lines) - MAX_LOG_LINES,
                     fn.logs_group_name)
        try:  # CloudWatch Logs, where AWS puts it too (logs.filter_log_events reads it back)
            fn.logs_backend.ensure_log_group(fn.logs_group_name)
            fn.save_logs(self.full_log(fn, result) or "(ingen utskrift)")
        except Exception:
            log.exception("Kunne ikke lagre Lambda-loggen for «%s» i CloudWatch Logs", name)

    @staticmethod
    def full_log(fn: Any, result: LambdaResult) -> str:
        """The function's log with AWS's REPORT line at the end."""
        report = (f"REPORT RequestId: {result.request_id}\tDuration: {result.duration_ms:.2f} ms\t"
                  f"Billed Duration: {max(1, math.ceil(result.duration_ms))} ms\t"
                  f"Memory Size: {fn.memory_size} MB")
        if result.max_memory_mb is not None:
            report += f"\tMax Memory Used: {result.max_memory_mb} MB"
        return result.log.rstrip("\n") + "\n" + report + "\n"

    def submit(self, fn: Any, event: Any, *, caller: str, note: str = "") -> None:
        """Queue an asynchronous invocation (AWS answers 202 and runs it later, retrying on errors)."""
        self._queue_attempt(fn, event, caller, note, attempt=1)

    def _queue_attempt(self, fn: Any, event: Any, caller: str, note: str, *, attempt: int) -> None:
        def job() -> None:
            shown = caller if attempt == 1 else f"{caller}, forsøk {attempt}"
            result = self.run(fn, event, caller=shown)
            if not result.ok:
                self._after_failure(fn, event, caller, note, attempt)

        try:
            future = self._pool.submit(job)
        except RuntimeError:  # the cloud is stopping: nothing more runs
            return
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    @staticmethod
    def max_retries(fn: Any) -> int:
        """MaximumRetryAttempts from put_function_event_invoke_config (the newest), else AWS's 2."""
        configs = getattr(fn, "event_invoke_config", None) or []
        if configs:
            value = configs[-1].config.get("MaximumRetryAttempts")
            if value is not None:
                return max(0, min(DEFAULT_RETRIES, int(value)))
        return DEFAULT_RETRIES

    def _after_failure(self, fn: Any, event: Any, caller: str, note: str, attempt: int) -> None:
        name, total = fn.function_name, 1 + self.max_retries(fn)
        if attempt == 1 and note:
            log.info("%s", note)
        if attempt >= total:
            log.info("Lambda «%s»: det asynkrone kallet feilet på %s; hendelsen forkastes, som i AWS (AWS sender "
                     "den videre bare hvis funksjonen har en dead-letter-kø eller en on-failure-destinasjon).", name,
                     "det eneste forsøket" if total == 1 else f"alle {total} forsøkene")
            return
        delay = self._retry_delays[min(attempt - 1, len(self._retry_delays) - 1)]
        log.info("Lambda «%s»: det asynkrone kallet feilet (forsøk %d av %d); prøver igjen om %s, som AWS gjør.",
                 name, attempt, total, f"{delay / 60:g} min" if delay >= 60 else f"{delay:g} s")
        timer = threading.Timer(delay, self._retry, (fn, event, caller, note, attempt + 1))
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _retry(self, fn: Any, event: Any, caller: str, note: str, attempt: int) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
        self._queue_attempt(fn, event, caller, note, attempt=attempt)

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    # --- the rules engine's lambda action --------------------------------------------------------

    def invoke_from_rule(self, function_arn: str, event: Any) -> None:
        """What AWS IoT's lambda action does: check, then invoke asynchronously.

        Raises when AWS IoT could not invoke (the rule's errorAction then gets the message).
        """
        try:
            fn = self.function(function_arn)
        except Exception as exc:
            raise InvokeRefused("ResourceNotFoundException", f"Funksjonen finnes ikke ({function_arn}). "
                                "Er den slettet, eller er navnet feil i regelen?") from exc
        if not self.iot_may_invoke(fn):
            raise InvokeRefused(
                "AccessDeniedException",
                f"AWS IoT har ikke lov til å kalle «{fn.function_name}». Gi tillatelsen med "
                f"lambda.add_permission(FunctionName='{fn.function_name}', StatementId='iot-regel', "
                f"Action='lambda:InvokeFunction', Principal='{IOT_PRINCIPAL}', SourceArn=<regelens ARN>).")
        self.submit(fn, event, caller="en IoT-regel", note=RULE_NOTE)

    # --- boto3 lambda.invoke -------------------------------------------------------------------------

    def invoke_api(self, fn: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        """The Invoke API (boto3 ``lambda.invoke``) for moto's function ``fn``: run the code here."""
        from moto.awslambda.exceptions import LambdaClientError

        try:
            event = json.loads(body) if body else {}
        except ValueError as exc:
            raise LambdaClientError("InvalidRequestContentException",
                                    f"Could not parse request body into json: {exc}") from exc
        kind = request_headers.get("x-amz-invocation-type", "RequestResponse")
        response_headers["x-amz-executed-version"] = str(fn.version)
        if kind == "DryRun":
            return b""
        if kind == "Event":
            self.submit(fn, event, caller="invoke (Event)")
            return b""
        result = self.run(fn, event, caller="invoke (RequestResponse)")
        tail = self.full_log(fn, result).encode("utf-8")[-TAIL_BYTES:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        if result.ok:
            return json.dumps(result.payload).encode("utf-8")
        response_headers["x-amz-function-error"] = "Unhandled"
        error = dict(result.error or {})
        error.setdefault("requestId", result.request_id)
        return json.dumps(error).encode("utf-8")

    def _cancel_retries(self) -> None:
        with self._lock:
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()

    def reset(self) -> None:
        """Drop queued invocations and waiting retries (the instructor's reset); running ones finish."""
        self._cancel_retries()
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.cancel()

    def close(self) -> None:
        self._cancel_retries()
        self._pool.shutdown(wait=False, cancel_futures=True)
        shutdown()  # the warm worker processes
