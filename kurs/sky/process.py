"""Starting, finding and stopping the local cloud's background process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kurs.errors import CourseError
from kurs.sky.info import HOST, SkyInfo, log_file, state_file

DEFAULT_PORTS = {"http_port": 5055, "mqtt_port": 1883, "mqtts_port": 8883}


def is_cloud_process(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # Linux: make sure the pid was not reused by another program
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        return b"kurs.sky.server" in text and b"<defunct>" not in text
    return True


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def running() -> tuple[SkyInfo | None, bool]:
    """(info, stale): the running cloud, or None and whether a stale state file was found."""
    info = SkyInfo.load()
    if info is None:
        return None, False
    if is_cloud_process(info.pid):
        return info, False
    return None, True


def choose_ports(requested: dict[str, int | None]) -> tuple[dict[str, int], list[str]]:
    """Requested ports as given; defaults when free, else a free port (with a note why)."""
    ports: dict[str, int] = {}
    notes: list[str] = []
    for name, default in DEFAULT_PORTS.items():
        want = requested.get(name)
        if want:
            if not _port_free(want):
                raise CourseError(f"Port {want} på {HOST} er allerede i bruk av et annet program.",
                                  "Velg en annen port, eller stopp programmet som bruker den.")
            ports[name] = want
        elif _port_free(default):
            ports[name] = default
        else:
            ports[name] = free_port()
            notes.append(f"Port {default} var opptatt, så {name.replace('_port', '').upper()} bruker port {ports[name]}.")
    return ports, notes


def spawn(ports: dict[str, int], timeout: float = 60.0, *, lan_host: str | None = None) -> SkyInfo:
    """Start the cloud process detached from this one and wait until it is ready."""
    log = log_file()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kurs.sky.server", "--http-port", str(ports["http_port"]),
             "--mqtt-port", str(ports["mqtt_port"]), "--mqtts-port", str(ports["mqtts_port"]),
             *(["--lan", lan_host] if lan_host else [])],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the notebook kernel, ignores its Ctrl-C
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CourseError(
                "Den lokale skyen stoppet rett etter oppstart.\n" + _tail(log),
                f"Les hele loggen i {log}. Kjør «kurs sky stop» og prøv igjen.",
            )
        info = SkyInfo.load()
        if info and info.pid == proc.pid:  # the server writes it only once every listener is up
            return info
        time.sleep(0.05)
    proc.terminate()
    raise CourseError(f"Den lokale skyen ble ikke klar på {timeout:.0f} sekunder.",
                      f"Se loggen i {log}, og prøv «kurs sky stop» og så «kurs sky start».")


def _forget(info: SkyInfo) -> None:
    """Remove the state file if it still describes this process (and not a newer cloud)."""
    current = SkyInfo.load()
    if current is not None and current.pid == info.pid:
        state_file().unlink(missing_ok=True)


def terminate(info: SkyInfo, timeout: float = 10.0) -> bool:
    """Stop the process cleanly (SIGTERM), forcefully after the timeout. True if it had to be killed."""
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        _forget(info)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_cloud_process(info.pid):
            _forget(info)
            return False
        time.sleep(0.05)
    os.kill(info.pid, signal.SIGKILL)
    _forget(info)
    return True


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
