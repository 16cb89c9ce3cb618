"""A learner's Lambda deployment package run by real (warm) Python worker processes."""

from __future__ import annotations

import io
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from kurs.errors import CourseError
from kurs.sky.awslambda import runner as lambda_runner
from kurs.sky.awslambda.runner import run_lambda, shutdown, unpack

HANDLER_CODE = """
import os
import sys
import time

import helper


def lambda_handler(event, context):
    print("Knappen ble trykket:", event["trykk"])
    print("advarsel på stderr", file=sys.stderr)
    return {
        "lys": "på" if event["trykk"] == "kort" else "av",
        "navn": context.function_name,
        "id": context.aws_request_id,
        "tid_igjen": context.get_remaining_time_in_millis(),
        "farge": os.environ.get("FARGE"),
        "region": os.environ.get("AWS_REGION"),
        "hjelper": helper.NAME,
    }


def feiler(event, context):
    return {"svar": 1 / event["deler"]}


def sover(event, context):
    print("sovner", flush=True)
    time.sleep(30)


def sett(event, context):
    return {1, 2}


def avslutter(event, context):
    sys.exit(3)
"""


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


ZIP = package({"lambda_function.py": HANDLER_CODE, "helper.py": "NAME = 'hjelpemodul'\n"})


@pytest.fixture
def invoke(tmp_path):
    def call(handler: str, event, *, timeout_s: float = 5.0, zip_bytes: bytes = ZIP, **kw):
        return run_lambda(
            zip_bytes,
            handler,
            event,
            function_name="knappVarsel",
            timeout_s=timeout_s,
            cache_dir=tmp_path / "cache",
            **kw,
        )

    return call


def test_handler_result_context_environment_and_printed_log(invoke):
    result = invoke("lambda_function.lambda_handler", {"trykk": "kort"}, environment={"FARGE": "grønn"})
    assert result.ok and result.error is None
    payload = result.payload
    assert payload["lys"] == "på"
    assert payload["navn"] == "knappVarsel"
    assert payload["id"] == result.request_id
    assert 0 < payload["tid_igjen"] <= 5000
    assert payload["farge"] == "grønn"
    assert payload["region"]
    assert payload["hjelper"] == "hjelpemodul"  # other modules in the package import
    assert "Knappen ble trykket: kort" in result.log
    assert "advarsel på stderr" in result.log
    assert (
        result.log.index("START RequestId") < result.log.index("Knappen") < result.log.index("END RequestId")
    )
    assert "returnerte" in result.summary("knappVarsel")


def test_raising_handler_returns_the_error_and_traceback(invoke):
    result = invoke("lambda_function.feiler", {"deler": 0})
    assert not result.ok
    assert result.error["errorType"] == "ZeroDivisionError"
    assert result.error["errorMessage"] == "division by zero"
    assert any("1 / event" in frame for frame in result.error["stackTrace"])
    assert "[ERROR] ZeroDivisionError: division by zero" in result.log
    assert "Traceback (most recent call last):" in result.log
    assert "feilet: ZeroDivisionError" in result.summary("knappVarsel")


def test_handler_that_runs_too_long_is_stopped(invoke):
    result = invoke("lambda_function.sover", {}, timeout_s=1.0)
    assert result.timed_out and not result.ok
    assert "Task timed out after 1.00 seconds" in result.error["errorMessage"]
    assert "sovner" in result.log
    assert "for lang tid" in result.summary("knappVarsel")


def test_result_that_is_not_json_is_a_marshal_error(invoke):
    result = invoke("lambda_function.sett", {})
    assert result.error["errorType"] == "Runtime.MarshalError"


def test_exit_from_handler_is_a_runtime_exit_error(invoke):
    result = invoke("lambda_function.avslutter", {})
    assert result.error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result.error["errorMessage"]


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "lambda_function.finnes_ikke",
            "Runtime.HandlerNotFound",
            "Handler 'finnes_ikke' missing on module 'lambda_function'",
        ),
        ("feil_fil.lambda_handler", "Runtime.ImportModuleError", "Unable to import module 'feil_fil'"),
        ("lambda_handler", "Runtime.MalformedHandlerName", "Bad handler 'lambda_handler'"),
    ],
)
def test_wrong_handler_setting_gives_the_lambda_runtime_error(invoke, handler, error_type, message):
    result = invoke(handler, {})
    assert result.error["errorType"] == error_type
    assert message in result.error["errorMessage"]


def test_syntax_error_in_the_package_is_reported(invoke):
    broken = package({"lambda_function.py": "def lambda_handler(event, context)\n    return 1\n"})
    result = invoke("lambda_function.lambda_handler", {}, zip_bytes=broken)
    assert result.error["errorType"] == "Runtime.UserCodeSyntaxError"


def test_handler_in_a_subfolder(invoke):
    nested = package(
        {"app/__init__.py": "", "app/main.py": "def handler(event, context):\n    return event['x'] + 1\n"}
    )
    assert invoke("app/main.handler", {"x": 41}, zip_bytes=nested).payload == 42


def test_module_names_of_the_local_cloud_do_not_shadow_the_learners(invoke):
    # bootstrap.py lives in the kurs package; a learner's sql.py must win.
    own = package(
        {
            "sql.py": "WHO = 'elevens'\n",
            "lambda_function.py": "import sql\ndef h(e, c):\n    return sql.WHO\n",
        }
    )
    assert invoke("lambda_function.h", {}, zip_bytes=own).payload == "elevens"


def test_package_is_unpacked_once_per_content(tmp_path):
    first = unpack(ZIP, tmp_path)
    assert unpack(ZIP, tmp_path) == first
    assert (first / "lambda_function.py").is_file()
    other = unpack(package({"lambda_function.py": "x = 1\n"}), tmp_path)
    assert other != first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, other.name])


def test_not_a_zip_is_a_course_error(tmp_path):
    with pytest.raises(CourseError) as info:
        unpack(b"dette er ingen zip", tmp_path)
    assert "zip" in info.value.message


def test_zip_with_path_escape_stays_inside_its_folder(tmp_path):
    sneaky = package({"../../utenfor.py": "x = 1\n", "lambda_function.py": "def h(e, c):\n    return 1\n"})
    folder = unpack(sneaky, tmp_path / "cache")
    assert not (tmp_path / "utenfor.py").exists()
    assert all(str(p.resolve()).startswith(str(folder.resolve())) for p in folder.rglob("*"))
    assert os.listdir(tmp_path) == ["cache"]


COUNTER_CODE = """
import time

CALLS = 0


def handler(event, context):
    global CALLS
    CALLS += 1
    print("kall nummer", CALLS, "for", event["hvem"])
    if event.get("sov"):
        time.sleep(event["sov"])
    return CALLS
"""


def test_second_call_is_warm_module_state_persists(invoke):
    counter = package({"lambda_function.py": COUNTER_CODE})
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=counter).payload == 1
    assert invoke("lambda_function.handler", {"hvem": "b"}, zip_bytes=counter).payload == 2


def test_new_code_gets_fresh_module_state(invoke):
    first = package({"lambda_function.py": COUNTER_CODE})
    second = package({"lambda_function.py": COUNTER_CODE + "\n# ny versjon\n"})
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=first).payload == 1
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=first).payload == 2
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=second).payload == 1


def test_next_call_after_a_timeout_starts_afresh(invoke):
    counter = package({"lambda_function.py": COUNTER_CODE})
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=counter).payload == 1
    stopped = invoke("lambda_function.handler", {"hvem": "a", "sov": 30}, zip_bytes=counter, timeout_s=1.0)
    assert stopped.timed_out
    after = invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=counter, timeout_s=1.0)
    assert after.ok and after.payload == 1


def test_next_call_after_a_crash_works(invoke):
    assert invoke("lambda_function.avslutter", {}).error["errorType"] == "Runtime.ExitError"
    assert invoke("lambda_function.avslutter", {}).error["errorType"] == "Runtime.ExitError"
    assert invoke("lambda_function.lambda_handler", {"trykk": "lang"}).payload["lys"] == "av"


def test_print_output_is_captured_per_call(invoke):
    counter = package({"lambda_function.py": "print('init kjører')\n" + COUNTER_CODE})
    first = invoke("lambda_function.handler", {"hvem": "første"}, zip_bytes=counter)
    second = invoke("lambda_function.handler", {"hvem": "andre"}, zip_bytes=counter)
    assert "init kjører" in first.log and "for første" in first.log
    assert "init kjører" not in second.log and "for første" not in second.log
    assert "kall nummer 2 for andre" in second.log
    assert second.request_id in second.log and first.request_id not in second.log


def test_overlapping_calls_to_one_function_both_run(invoke):
    counter = package({"lambda_function.py": COUNTER_CODE})
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(invoke, "lambda_function.handler", {"hvem": who, "sov": 0.5}, zip_bytes=counter)
                 for who in ("en", "to")]
        results = [c.result() for c in calls]
    assert all(r.ok for r in results)
    assert "for en" in results[0].log and "for to" not in results[0].log
    assert "for to" in results[1].log and "for en" not in results[1].log


def test_shutdown_stops_warm_workers(invoke):
    counter = package({"lambda_function.py": COUNTER_CODE})
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=counter).payload == 1
    shutdown()
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=counter).payload == 1


def test_worker_idle_past_the_limit_is_replaced(invoke, monkeypatch):
    counter = package({"lambda_function.py": COUNTER_CODE})
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=counter).payload == 1
    monkeypatch.setattr(lambda_runner, "IDLE_LIMIT_S", 0.0)
    assert invoke("lambda_function.handler", {"hvem": "a"}, zip_bytes=counter).payload == 1


# --- MemorySize ------------------------------------------------------------------------------------

MEMORY_CODE = """
def spiser(event, context):
    blocks = [b"x" * (1024 * 1024) for _ in range(event["mb"])]
    return {"mb": len(blocks)}


def stor_blokk(event, context):
    return {"mb": len(b"x" * (event["mb"] * 1024 * 1024)) // (1024 * 1024)}
"""
MEMORY_ZIP = package({"lambda_function.py": MEMORY_CODE})
needs_posix_memory_limit = pytest.mark.skipif(os.name != "posix", reason="MemorySize is enforced on POSIX only")


@needs_posix_memory_limit
@pytest.mark.parametrize("handler", ["spiser", "stor_blokk"])  # many small blocks, and one big one
def test_function_over_its_memory_size_is_killed_with_aws_out_of_memory_error(invoke, handler):
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html (the function gets MemorySize);
    # AWS reports {"errorType": "Runtime.OutOfMemory", "errorMessage": "RequestId: … Error: Runtime exited
    # with error: signal: killed"} (as seen in e.g. adobe/helix-html2md-service#1001).
    result = invoke(f"lambda_function.{handler}", {"mb": 400}, zip_bytes=MEMORY_ZIP, memory_mb=128, timeout_s=20)
    assert not result.ok
    assert result.error["errorType"] == "Runtime.OutOfMemory"
    assert result.error["errorMessage"] == f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"
    assert result.log.rstrip().endswith("Runtime.OutOfMemory")
    assert result.max_memory_mb == 128
    assert "mer minne enn de 128 MB" in result.summary("knappVarsel")


@needs_posix_memory_limit
def test_function_within_its_memory_size_runs_and_reports_max_memory_used(invoke):
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    small = invoke("lambda_function.spiser", {"mb": 40}, zip_bytes=MEMORY_ZIP, memory_mb=128)
    assert small.ok and small.payload == {"mb": 40}
    assert 40 < small.max_memory_mb <= 128
    big = invoke("lambda_function.spiser", {"mb": 400}, zip_bytes=MEMORY_ZIP, memory_mb=1024, timeout_s=20)
    assert big.ok and big.payload == {"mb": 400}


@needs_posix_memory_limit
def test_next_call_after_out_of_memory_starts_afresh(invoke):
    assert invoke("lambda_function.spiser", {"mb": 400}, zip_bytes=MEMORY_ZIP, memory_mb=128).error["errorType"] == (
        "Runtime.OutOfMemory")
    assert invoke("lambda_function.spiser", {"mb": 1}, zip_bytes=MEMORY_ZIP, memory_mb=128).ok
