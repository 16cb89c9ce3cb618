"""Starting, finding and stopping the local cloud's background process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kurs.errors import CourseError
from kurs.sky.info import HOST, SkyInfo, log_file, sky_dir, start_error_file, state_file
from kurs.sky.lock import FileLock

DEFAULT_PORTS = {"http_port": 5055, "mqtt_port": 1883, "mqtts_port": 8883}
AWS_MQTTS_PORT = 8883  # what a client following AWS's docs connects to (describe-endpoint names the host only)
PORT_LABELS = {"http_port": "AWS-API-et", "mqtt_port": "MQTT", "mqtts_port": "MQTT med TLS"}
START_LOCK_TIMEOUT_S = 90.0  # longer than one spawn() may take, so a waiting start sees its result


class PortTaken(CourseError):
    """The cloud process could not bind a port (another program took it meanwhile)."""

    def __init__(self, name: str, port: int) -> None:
        self.name, self.port = name, port
        super().__init__(f"Port {port} for {PORT_LABELS.get(name, name)} på {HOST} er allerede i bruk av et "
                         "annet program, så den lokale skyen kunne ikke starte.",
                         "Velg en annen port (for eksempel «kurs sky start --"
                         f"{name.replace('_port', '').replace('_', '-')}-port 0» lar skyen velge en ledig), "
                         "eller stopp programmet som bruker den.")


def start_lock() -> FileLock:
    """Held around every start and stop: one at a time per state folder."""
    return FileLock(sky_dir() / "start.lock")


def server_lock() -> FileLock:
    """Held by the cloud process for its whole life: never two clouds on one state folder."""
    return FileLock(sky_dir() / "server.lock")


def validate_port(name: str, value: object) -> int | None:
    """None (choose one), or a port number 1–65535; a Norwegian error for anything else. 0 means choose."""
    if value is None:
        return None
    label = PORT_LABELS.get(name, name)
    try:
        port = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise CourseError(f"«{value}» er ikke et portnummer ({label}).", "Et portnummer er et heltall fra 1 til 65535.") \
            from None
    if port == 0:
        return None
    if not 1 <= port <= 65535 or isinstance(value, bool):
        raise CourseError(f"Port {value} for {label} finnes ikke.", "Et portnummer er et heltall fra 1 til 65535.")
    return port


def last_ports_file() -> Path:
    return sky_dir() / "porter.json"


def last_ports() -> dict[str, int]:
    """The ports the last cloud in this state folder used (a restart prefers them)."""
    try:
        data = json.loads(last_ports_file().read_text())
        return {name: int(data[name]) for name in DEFAULT_PORTS if isinstance(data.get(name), int)}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def remember_ports(info: SkyInfo) -> None:
    try:
        last_ports_file().write_text(json.dumps({name: getattr(info, name) for name in DEFAULT_PORTS}))
    except OSError:
        pass  # only a preference for the next start


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
    if is_cloud_process(info.pid) and _server_lock_held():
        return info, False
    return None, True


def _server_lock_held() -> bool:
    """The cloud process holds server.lock while it lives; the OS frees it when the process ends,
    however it ends (a reused pid, or Windows, where the pid alone says little)."""
    probe = server_lock()
    if probe.acquire(timeout=0):
        probe.release()
        return False
    return True


def choose_ports(requested: dict[str, int | None],
                 last: dict[str, int] | None = None) -> tuple[dict[str, int], list[str], list[str]]:
    """(ports, notes, warnings). A requested port as given (an error if taken). Otherwise the
    last cloud's port when free, so boards and clients keep working across restarts, then the
    default, then any free one. MQTT with TLS prefers 8883 over its last port: third-party
    clients assume 8883. ``warnings`` must be said loudly."""
    last = last or {}
    ports: dict[str, int] = {}
    notes: list[str] = []
    warnings: list[str] = []
    for name, default in DEFAULT_PORTS.items():
        want = requested.get(name)
        label = PORT_LABELS[name]
        if want:
            if want in ports.values():
                raise CourseError(f"Port {want} er valgt for to ting.", "Gi AWS-API-et, MQTT og MQTT med TLS hver "
                                                                         "sin port.")
            if not _port_free(want):
                raise CourseError(f"Port {want} på {HOST} ({label}) er allerede i bruk av et annet program.",
                                  "Velg en annen port, eller stopp programmet som bruker den.")
            ports[name] = want
            continue
        order = [default, last.get(name)] if name == "mqtts_port" else [last.get(name), default]
        candidates = [p for p in dict.fromkeys(order) if p and p not in ports.values() and p not in requested.values()]
        chosen = next((p for p in candidates if _port_free(p)), None) or free_port()
        ports[name] = chosen
        previous = last.get(name)
        if previous and chosen != previous and not (name == "mqtts_port" and chosen == default):
            notes.append(f"Port {previous} ({label}) fra forrige gang er opptatt, så {label} bruker nå port {chosen}. "
                         "Kort og notatbøker som kurs har startet, finner den nye porten selv; andre programmer "
                         "må få vite om den.")
        elif not previous and chosen != default and name != "mqtts_port":
            notes.append(f"Port {default} var opptatt, så {label} bruker port {chosen}.")
        if name == "mqtts_port" and chosen != AWS_MQTTS_PORT:
            warnings.append(mqtts_warning(chosen))
    return ports, notes, warnings


def mqtts_warning(port: int) -> str:
    return (f"⚠️  OBS: Port {AWS_MQTTS_PORT} er opptatt av et annet program, så MQTT med TLS i den lokale skyen "
            f"bruker port {port}.\n"
            f"    Programmer som følger AWS sin dokumentasjon, kobler seg til port {AWS_MQTTS_PORT} på adressen fra "
            "«aws iot describe-endpoint» – og treffer da det andre programmet, ikke skyen.\n"
            f"    Kort og notatbøker som kurs starter, bruker riktig port. Andre klienter må få port {port}, "
            f"eller stopp programmet på {AWS_MQTTS_PORT} og start skyen på nytt («kurs sky stop», «kurs sky start»).")


def spawn(ports: dict[str, int], timeout: float = 60.0, *, lan_host: str | None = None,
          room: str | None = None) -> SkyInfo:
    """Start the cloud process detached from this one and wait until it is ready."""
    log = log_file()
    start_error_file().unlink(missing_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kurs.sky.server", "--http-port", str(ports["http_port"]),
             "--mqtt-port", str(ports["mqtt_port"]), "--mqtts-port", str(ports["mqtts_port"]),
             *(["--lan", lan_host] if lan_host else []), *(["--rom", room] if room else [])],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the notebook kernel, ignores its Ctrl-C
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _raise_start_error()
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


def _raise_start_error() -> None:
    """The cloud process said why it stopped (a taken port, another cloud): a Norwegian error."""
    try:
        data = json.loads(start_error_file().read_text())
    except (OSError, ValueError):
        return
    if data.get("reason") == "port" and data.get("name") in DEFAULT_PORTS:
        raise PortTaken(str(data["name"]), int(data["port"]))
    if data.get("reason") == "room":
        raise CourseError("Rommet som skulle startes, finnes ikke i denne mappa (eller har en annen adresse).",
                          "Start rommet med «kurs rom start».")
    if data.get("reason") == "running":
        raise CourseError("En annen lokal sky kjører allerede fra den samme mappa.",
                          "Bruk den («kurs sky status»), eller stopp den med «kurs sky stop» først.")


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
