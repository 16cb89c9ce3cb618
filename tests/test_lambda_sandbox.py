"""What a learner's function may touch on this machine (kurs/sky/awslambda/sandbox.py).

AWS: "The deployment package is read-only ... /tmp is the only writable directory" and writing
elsewhere fails with "[Errno 30] Read-only file system"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html,
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). Here the function is
a process of the cloud's own user, so it must also be kept away from the cloud's keys: in a room
another learner's code runs on the instructor's laptop.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
import zipfile
from pathlib import Path

import pytest

from kurs.sky.awslambda.runner import run_lambda
from kurs.sky.awslambda.sandbox import Rules

PROBE = r'''
import json, os, subprocess, tempfile

def _try(fn):
    try:
        return {"ok": fn()}
    except Exception as exc:
        return {"error": type(exc).__name__, "errno": getattr(exc, "errno", None), "text": str(exc)}

def handler(event, context):
    tmp = os.path.join(tempfile.gettempdir(), "kurs-sandbox-test-" + context.aws_request_id)
    def write_tmp():
        with open(tmp, "w") as f:
            f.write("ok")
        os.remove(tmp)
        return True
    return {
        "tmp": _try(write_tmp),
        "package": _try(lambda: open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "ny.txt"), "w")),
        "own_code": _try(lambda: len(open(__file__).read()) > 0),
        "secret": _try(lambda: open(event["secret"]).read()),
        "listing": _try(lambda: os.listdir(event["state"])),
        "delete": _try(lambda: os.remove(event["secret"])),
        "program": _try(lambda: subprocess.run(["true"]).returncode),
        "profile": os.environ.get("AWS_PROFILE"),
        "config": os.environ.get("AWS_CONFIG_FILE"),
    }
'''


def _zip(code: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("probe.py", code)
    return buffer.getvalue()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    (folder / "sky").mkdir(parents=True)
    (folder / "sky" / "nokler.json").write_text('{"secret": "instruktorens"}')
    return folder


def _probe(state: Path, *, room: bool, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("AWS_PROFILE", "ekte-konto")  # a profile the cloud's user happens to have set
    env = {"KURS_LAMBDA_SKJULT": str(state), "KURS_LAMBDA_ROM": "1" if room else "0",
           "AWS_CONFIG_FILE": os.devnull}
    result = run_lambda(_zip(PROBE), "probe.handler", {"secret": str(state / "sky" / "nokler.json"),
                                                       "state": str(state)},
                        function_name="kurs-ola-spion", environment=env, timeout_s=10,
                        cache_dir=state / "lambda-kode")
    assert result.ok, result.error
    return result.payload


@pytest.mark.skipif(os.name == "nt", reason="the Lambda runner needs POSIX pipes")
def test_a_function_writes_only_to_tmp_and_never_reads_the_clouds_keys(state, monkeypatch):
    seen = _probe(state, room=False, monkeypatch=monkeypatch)
    assert seen["tmp"] == {"ok": True}
    assert seen["own_code"] == {"ok": True}  # its package lives in the state folder, and stays readable
    assert seen["package"]["errno"] == errno.EROFS and "Read-only file system" in seen["package"]["text"]
    assert seen["secret"]["error"] == "PermissionError"
    assert seen["listing"]["error"] == "PermissionError"
    assert seen["delete"]["errno"] == errno.EROFS
    assert (state / "sky" / "nokler.json").exists()
    assert seen["program"] == {"ok": 0}  # alone on one's own laptop, a function may start programs, as on AWS
    assert seen["profile"] is None and seen["config"] == os.devnull


@pytest.mark.skipif(os.name == "nt", reason="the Lambda runner needs POSIX pipes")
def test_in_a_room_a_function_cannot_start_programs(state, monkeypatch):
    seen = _probe(state, room=True, monkeypatch=monkeypatch)
    assert seen["program"]["error"] == "PermissionError"
    assert "klasserom" in seen["program"]["text"]
    assert seen["secret"]["error"] == "PermissionError"


def test_rules_other_processes_proc_entries_and_ctypes(tmp_path):
    rules = Rules(code_dir=str(tmp_path / "kode"), hidden=(str(tmp_path / "hemmelig"),),
                  writable=(tempfile.gettempdir(),), room=True)
    assert rules.may_read(f"/proc/{os.getpid()}/status")
    assert not rules.may_read("/proc/1/environ")
    assert rules.may_read("/proc/cpuinfo")
    with pytest.raises(PermissionError):
        rules.check("ctypes.dlopen", ("libc.so.6",))
    with pytest.raises(OSError) as refused:
        rules.check("os.rename", (str(tmp_path.parent / "x"), str(tmp_path / "hemmelig" / "y"), None, None))
    assert refused.value.errno == errno.EROFS
    rules.check("open", (0, "r", 0))  # a file descriptor was checked when it was opened


CONNECT = r'''
import os, socket

def handler(event, context):
    seen = {}
    for name, port in (("mqtt", event["mqtt"]), ("api", event["api"])):
        for host in ("127.0.0.1", "localhost", "0.0.0.0"):
            try:
                socket.create_connection((host, port), timeout=2).close()
                seen[f"{name} {host}"] = "ok"
            except OSError as exc:
                seen[f"{name} {host}"] = type(exc).__name__ + ": " + str(exc)
    return seen
'''


@pytest.mark.skipif(os.name == "nt", reason="the Lambda runner needs POSIX pipes")
def test_in_a_room_a_function_reaches_only_the_clouds_api_on_this_machine(state):
    """The cloud's plain MQTT listener on 127.0.0.1 takes any client id and checks no policy (it is
    the instructor's own, without TLS), so another learner's function must not connect to it: on AWS
    a function reaches IoT only through the API with its role's rights (iot-data Publish)."""
    import socket

    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    mqtt, api = (s.getsockname()[1] for s in listeners)
    try:
        env = {"KURS_LAMBDA_SKJULT": str(state), "KURS_LAMBDA_ROM": "1", "AWS_CONFIG_FILE": os.devnull,
               "AWS_ENDPOINT_URL": f"http://127.0.0.1:{api}"}
        result = run_lambda(_zip(CONNECT), "probe.handler", {"mqtt": mqtt, "api": api},
                            function_name="kurs-ola-spion", environment=env, timeout_s=10,
                            cache_dir=state / "lambda-kode")
    finally:
        for s in listeners:
            s.close()
    assert result.ok, result.error
    seen = result.payload
    assert seen["api 127.0.0.1"] == "ok"
    for host in ("127.0.0.1", "localhost", "0.0.0.0"):
        assert seen[f"mqtt {host}"].startswith("PermissionError"), seen
    assert "klasserom" in seen["mqtt 127.0.0.1"]


AROUND = r'''
import os

def handler(event, context):
    seen = {}
    try:  # a directory as a file descriptor, then a path relative to it (the audit event has no dir_fd)
        root = os.open("/", os.O_RDONLY)
        seen["dir_fd"] = os.read(os.open(event["secret"].lstrip("/"), os.O_RDONLY, dir_fd=root), 100).decode()
    except OSError as exc:
        seen["dir_fd"] = type(exc).__name__
    link = os.path.join("/tmp", "kurs-lenke-" + context.aws_request_id)
    try:  # a hard link is the same file under a name outside the state folder
        os.link(event["secret"], link)
        seen["link"] = open(link).read()
    except OSError as exc:
        seen["link"] = type(exc).__name__
    finally:
        if os.path.lexists(link):
            os.remove(link)
    return seen
'''


@pytest.mark.skipif(os.name == "nt", reason="the Lambda runner needs POSIX pipes")
def test_in_a_room_a_function_cannot_go_around_the_fence_with_dir_fd_or_a_hard_link(state):
    """An audit hook sees os.open's path but not its dir_fd, and os.link's new name but not that the
    old one is hidden (PEP 578: "open" and "os.link" events), so both reached the room's roster."""
    env = {"KURS_LAMBDA_SKJULT": str(state), "KURS_LAMBDA_ROM": "1", "AWS_CONFIG_FILE": os.devnull}
    result = run_lambda(_zip(AROUND), "probe.handler", {"secret": str(state / "sky" / "nokler.json")},
                        function_name="kurs-ola-spion", environment=env, timeout_s=10,
                        cache_dir=state / "lambda-kode")
    assert result.ok, result.error
    assert result.payload == {"dir_fd": "PermissionError", "link": "PermissionError"}


NATIVE_SPAWN = r'''
import importlib.util, os

def handler(event, context):
    seen = {}
    def spawn(module):
        r, w = os.pipe()
        return module.fork_exec([b"/bin/true"], [b"/bin/true"], True, (), None, None, -1, -1, -1, -1, -1, -1,
                                r, w, False, False, -1, None, None, None, -1, None, False)
    try:  # what subprocess uses under its audited Popen
        import _posixsubprocess
        seen["fork_exec"] = spawn(_posixsubprocess)
    except Exception as exc:
        seen["fork_exec"] = type(exc).__name__
    try:  # a fresh copy of the extension module
        seen["fresh"] = spawn(importlib.util.module_from_spec(importlib.util.find_spec("_posixsubprocess")))
    except Exception as exc:
        seen["fresh"] = type(exc).__name__
    return seen
'''


@pytest.mark.skipif(os.name != "posix" or not __import__("sys").version_info[:2] == (3, 11),
                    reason="_posixsubprocess.fork_exec's arguments as in CPython 3.11")
def test_in_a_room_a_function_cannot_start_programs_under_subprocess(state):
    """_posixsubprocess.fork_exec raises no audit event (only subprocess.Popen does), so a function
    could start a shell and read anything on the instructor's laptop."""
    env = {"KURS_LAMBDA_SKJULT": str(state), "KURS_LAMBDA_ROM": "1", "AWS_CONFIG_FILE": os.devnull}
    result = run_lambda(_zip(NATIVE_SPAWN), "probe.handler", {}, function_name="kurs-ola-spion", environment=env,
                        timeout_s=10, cache_dir=state / "lambda-kode")
    assert result.ok, result.error
    assert result.payload == {"fork_exec": "PermissionError", "fresh": "PermissionError"}


STEER = r'''
import os, tempfile

def handler(event, context):
    seen = {"tmp": tempfile.gettempdir(), "home": os.environ.get("HOME"), "preload": os.environ.get("LD_PRELOAD")}
    try:
        with open(event["outside"], "w") as f:
            f.write("x")
        seen["write"] = "ok"
    except OSError as exc:
        seen["write"] = type(exc).__name__
    return seen
'''


@pytest.mark.skipif(os.name == "nt", reason="the Lambda runner needs POSIX pipes")
def test_a_functions_own_environment_cannot_move_the_fence(state):
    """A function's environment variables (CreateFunction's Environment) come from its author. TMPDIR
    is where the fence lets it write, HOME where it looks for ~/.aws and ~/.ssh, and LD_PRELOAD loads
    native code before the fence is up: none of them may come from the function."""
    import shutil

    if not os.path.isdir("/var/tmp") or os.path.realpath(tempfile.gettempdir()).startswith("/var/tmp"):
        pytest.skip("needs a folder outside the temp folder")
    outside = Path(tempfile.mkdtemp(dir="/var/tmp")) / "skrevet.txt"
    env = {"KURS_LAMBDA_SKJULT": str(state), "KURS_LAMBDA_ROM": "1", "AWS_CONFIG_FILE": os.devnull,
           "TMPDIR": str(outside.parent), "HOME": "/ingensteds", "LD_PRELOAD": "/ingensteds/lur.so"}
    try:
        result = run_lambda(_zip(STEER), "probe.handler", {"outside": str(outside)}, function_name="kurs-ola-spion",
                            environment=env, timeout_s=10, cache_dir=state / "lambda-kode")
    finally:
        shutil.rmtree(outside.parent)
    assert result.ok, result.error
    assert result.payload["tmp"] != str(outside.parent) and result.payload["home"] != "/ingensteds"
    assert result.payload["preload"] is None
    assert result.payload["write"] == "OSError"  # EROFS, as Lambda answers outside /tmp


def test_in_a_room_native_code_from_the_functions_package_or_tmp_is_refused(tmp_path):
    """An extension module (.so) in the function's zip runs native code when imported, before any
    check (a constructor ran a shell and read the room's roster); sqlite can load extensions too."""
    code, tmp = tmp_path / "kode", tmp_path / "tmp"
    rules = Rules(code_dir=str(code), hidden=(str(tmp_path / "hemmelig"),), writable=(str(tmp),), room=True)
    for folder in (code, tmp):
        with pytest.raises(PermissionError):
            rules.check("import", ("lur", str(folder / "lur.cpython-311-x86_64-linux-gnu.so"), [], [], []))
        with pytest.raises(PermissionError):
            rules.check("import", ("lur", str(folder / "lur.so"), [], [], []))
    rules.check("import", ("lur", str(code / "lur.py"), [], [], []))  # Python code is checked as it runs
    rules.check("import", ("_json", None, [], [], []))
    with pytest.raises(PermissionError):
        rules.check("sqlite3.load_extension", (None, str(tmp / "lur.so")))
