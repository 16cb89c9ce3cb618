"""Notebook-facing helpers for ESP32 boards on USB (and virtual boards on a pseudo-terminal).

Everything here prints friendly Norwegian text. ``show_ports()`` and ``check_port()`` never
raise: on a machine with no board they print the advice for the learner's operating system.
The rest raise :class:`~kurs.errors.CourseError` (shown without a traceback in notebooks).
The ``kurs kort`` command uses the same texts, so a notebook and a terminal say the same thing.

    import kurs.board_tools as kort
    kort.show_ports()                  # which port is the board, or what to do
    kort.check_port("/dev/ttyUSB0")    # can it be opened? (busy, permission, missing)
    kort.show_info()                   # Sys.GetInfo: app, firmware, MAC, thing name
    kort.wait_for_wifi(ssid="Kontoret")
    kort.put_credentials(kurs.provisioning.provision("esp32_F7F2AD"))
    kort.follow_console(seconds=10)    # the board's log
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.hardware import ports

DEFAULT_RPC_TIMEOUT = 5.0

# What learners may call their operating system, mapped to ``sys.platform`` values.
_SYSTEM_NAMES = {"macos": "darwin", "mac": "darwin", "linux": "linux", "windows": "win32"}
_SYSTEM_LABELS = {"macos": "macOS", "linux": "Linux", "windows": "Windows", "other": "ditt operativsystem"}


def platform_for(system: str | None) -> str:
    """A ``sys.platform`` value for ``"macos"``, ``"linux"``, ``"windows"`` (or a platform value)."""
    if system is None:
        return sys.platform
    return _SYSTEM_NAMES.get(system.lower(), system)


def ports_overview(
    platform: str = sys.platform, *, scan: Iterable[Any] | None = None, include_other: bool = False
) -> tuple[str, list[ports.PortInfo]]:
    """The Norwegian overview of serial ports and the ESP32 boards among them.

    Returns ``(text, boards)``. Ports that are not USB (built-in serial ports, Bluetooth) are
    left out unless ``include_other``: an ESP32 dev board is always on USB. ``scan`` replaces
    pyserial's port scan.
    """
    all_ports = ports.list_ports(scan)
    boards = [p for p in all_ports if p.bridge is not None]
    shown = all_ports if include_other else [p for p in all_ports if p.is_usb]
    family = ports.os_family(platform)
    lines: list[str] = []
    if shown:
        lines.append("Serieporter på maskinen:" if include_other else "USB-serieporter på maskinen:")
        for p in shown:
            mark = "  – ESP32-kort" if p.bridge is not None else ""
            lines.append(f"  • {p}{mark}")
        lines.append("")
    if len(boards) == 1:
        board = boards[0]
        lines.append(f"ESP32-kortet ditt er på porten {board.device}.")
        lines.append(_wrap(f"Om USB-brikken ({_SYSTEM_LABELS[family]}): {board.advice(platform)}"))
    elif boards:
        lines.append(_wrap(f"Fant {len(boards)} ESP32-kort. Oppgi porten til det du vil bruke "
                           "(port=\"…\" eller --port …), eller koble fra de andre."))
    else:
        unknown = [p for p in all_ports if p.is_usb]
        if unknown:
            lines.append(_wrap("Fant ikke noe kjent ESP32-kort. Er en av USB-portene over kortet ditt, "
                               "oppgi den selv (port=\"…\" eller --port …)."))
        else:
            lines.append("Fant ingen USB-serieporter, altså ikke noe ESP32-kort.")
        lines.append(_wrap(f"Slik finner du kortet ({_SYSTEM_LABELS[family]}): {ports.driver_advice(None, platform)}"))
    for board in boards:
        problem = port_problem(board.device, platform, probe=False)
        if problem is not None:
            lines.append("")
            lines.append(_wrap(f"Porten {board.device} finnes, men: {problem}"))
    return "\n".join(lines), boards


def _wrap(text: str, width: int = 100) -> str:
    """Wrap a long paragraph for terminals and notebook output, keeping explicit line breaks."""
    import textwrap

    return "\n".join(
        textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) for line in text.splitlines()
    )


def show_ports(system: str | None = None, *, include_other: bool = False) -> None:
    """Print which serial port is the ESP32 board, or, when none is found, what to do on this OS.

    ``system`` ("macos", "linux", "windows") shows the advice for another operating system
    than the one this runs on. Never raises for a missing board.
    """
    text, _ = ports_overview(platform_for(system), include_other=include_other)
    print(text)


def show_driver_advice(system: str | None = None, chip: str | None = None) -> None:
    """Print the driver advice for a bridge chip (``"CP2102"``, ``"CH340"``, ``"CH9102"``, …) on an OS."""
    platform = platform_for(system)
    bridge = None
    if chip:
        wanted = chip.upper().replace("-", "")
        bridge = next(
            (b for b in ports.KNOWN_BRIDGES.values() if wanted in b.chip.upper().replace("-", "")), None
        )
        if bridge is None and wanted.startswith("CP210"):
            bridge = ports.KNOWN_BRIDGES[(0x10C4, 0xEA60)]
        if bridge is None:
            known = ", ".join(sorted({b.chip for b in ports.KNOWN_BRIDGES.values()}))
            print(f"Kjenner ikke brikken «{chip}». Kjente brikker: {known}.")
            return
    label = _SYSTEM_LABELS[ports.os_family(platform)]
    what = bridge.chip if bridge is not None else "Finner ikke kortet"
    print(f"{what} på {label}:\n{_wrap(ports.driver_advice(bridge, platform))}")


def port_problem(path: str, platform: str = sys.platform, *, probe: bool = True) -> CourseError | None:
    """What stops us from using serial port ``path`` (missing, no permission, busy), or None.

    With ``probe`` the port is really opened (and closed again at once), which is the only way
    to see that another program holds it; without, only existence and permission are checked.
    """
    if not probe:
        if not os.path.exists(path):
            return ports.explain_open_error(FileNotFoundError(2, "No such file or directory"), path, platform)
        if not os.access(path, os.R_OK | os.W_OK):
            return ports.explain_open_error(PermissionError(13, "Permission denied"), path, platform)
        return None
    try:
        port = ports.open_port(path, platform=platform)
    except CourseError as exc:
        return exc
    port.close()
    return None


def check_port(path: str, system: str | None = None) -> None:
    """Print whether serial port ``path`` can be opened, and what to do if not. Never raises."""
    problem = port_problem(path, platform_for(system))
    if problem is None:
        print(f"✅ Porten {path} kan åpnes: ingen andre bruker den, og du har tilgang.")
    else:
        print(_wrap(f"⚠️  {problem}"))


def thing_name(info: dict[str, Any]) -> str:
    """The thing name from a ``Sys.GetInfo`` answer: ``device.id``, else derived from the MAC."""
    from kurs.hardware.flash import thing_name_from_mac

    device_id = str(info.get("id") or "")
    if device_id and "?" not in device_id:
        return device_id
    mac = info.get("mac")
    if mac:
        try:
            return thing_name_from_mac(str(mac), str(info.get("arch") or "esp32"))
        except CourseError:
            pass
    return device_id or "ukjent"


def describe_info(info: dict[str, Any], port: str) -> str:
    """A short Norwegian summary of a ``Sys.GetInfo`` answer."""
    from kurs.hardware.flash import format_mac

    mac_raw = info.get("mac")
    try:
        mac = format_mac(str(mac_raw)) if mac_raw else "ukjent"
    except CourseError:
        mac = str(mac_raw)
    app = str(info.get("app") or "ukjent")
    lines = [
        f"Kortet på {port}:",
        f"  Dingsnavn:       {thing_name(info)}",
        f"  App:             {app}",
        f"  Fastvareversjon: {info.get('fw_version') or 'ukjent'}"
        + (f" (bygg {info['fw_id']})" if info.get("fw_id") else ""),
        f"  MAC-adresse:     {mac}",
        f"  Brikke:          {info.get('arch') or 'ukjent'}",
    ]
    if isinstance(info.get("uptime"), (int, float)):
        lines.append(f"  Oppetid:         {int(info['uptime'])} s")
    wifi = info.get("wifi")
    if isinstance(wifi, dict):
        if wifi.get("sta_ip"):
            lines.append(f"  Wi-Fi:           koblet til «{wifi.get('ssid', '')}», IP {wifi['sta_ip']}")
        elif wifi.get("ssid"):
            lines.append(f"  Wi-Fi:           satt opp for «{wifi['ssid']}», ikke tilkoblet ({wifi.get('status') or 'ukjent'})")
        else:
            lines.append("  Wi-Fi:           ikke satt opp")
    if info.get("virtual"):
        lines.append("  (et virtuelt kort)")
    return "\n".join(lines)


def board_ready(*, firmware: str | os.PathLike | None = None, scan: Iterable[Any] | None = None) -> bool:
    """True when an ESP32 board is on USB (and ``firmware``, if given, exists); else a short note.

    Cells that need a real board start with ``if kort.board_ready():``. JupyterLab's Run All
    ignores nbval's skip tags and stops at the first error, so such a cell must not raise
    on a laptop without a board. ``scan`` replaces pyserial's port scan (tests).
    """
    if firmware is not None and not Path(firmware).exists():
        print(f"ℹ️  Hopper over: fant ikke {Path(firmware).name}. Den lager du med «mos build» (se over); "
              "uten et ekte kort trenger du den ikke.")
        return False
    if not ports.find_boards(scan):
        print("ℹ️  Hopper over: ingen ESP32-kort er koblet til. Denne cellen er for et ekte kort; "
              "resten av notatboka virker uten.")
        return False
    return True


def board_info(port: str | None = None, *, timeout: float = DEFAULT_RPC_TIMEOUT) -> dict[str, Any]:
    """``Sys.GetInfo`` from the board on ``port`` (or the one connected board) over RPC."""
    from kurs.hardware.rpc import RpcClient

    with RpcClient(port, timeout=timeout) as client:
        return client.get_info()


def show_info(port: str | None = None, *, timeout: float = DEFAULT_RPC_TIMEOUT) -> None:
    """Print the board's app, firmware version, MAC and thing name (``Sys.GetInfo``)."""
    from kurs.hardware.rpc import RpcClient

    with RpcClient(port, timeout=timeout) as client:
        info = client.get_info()
        print(describe_info(info, client.port))


_WIFI_FIX = (
    "Sjekk nettnavnet og passordet (store og små bokstaver teller). ESP32 kan bare bruke 2,4 GHz-nett, "
    "ikke 5 GHz. Nett med innloggingsside eller brukernavn (mange skole- og bedriftsnett) virker ikke: "
    "del heller nett fra mobilen. Se hva kortet sier med «kurs kort konsoll»."
)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _server_for_a_real_board(server: str) -> str:
    """``mqtt.server`` as a real board must have it: the local cloud's network address, not localhost.

    To a board, "localhost" is the board itself. With ``kurs sky start --lan`` the local cloud's
    mutual-TLS port also listens on this machine's network address, so that is where it goes.
    """
    host, _, port = server.rpartition(":")
    if host not in _LOCAL_HOSTS:
        return server
    from kurs import sky

    running = sky.status()
    if running is None or not running.lan_host:
        raise CourseError(
            f"Et ekte kort kan ikke nå {host}: det betyr kortet selv, ikke maskinen din med den lokale skyen.",
            "Start den lokale skyen for nettverket med «kurs sky stop» og «kurs sky start --lan» (kortet og "
            "maskinen må være på samme Wi-Fi), bruk aws-modus (se notatbok 01 og 03), eller bruk et virtuelt kort.",
        )
    return f"{running.lan_host}:{port or running.mqtts_port}"


def wait_for_wifi(port: str | None = None, *, ssid: str | None = None, timeout: float = 30.0,
                  settle: float = 1.0) -> None:
    """Wait until the board has an IP address on Wi-Fi, and say so (a CourseError with tips if not).

    Asks ``Sys.GetInfo`` every second; a board that is rebooting after ``set_wifi`` answers
    nothing for a moment, which is expected. ``settle`` seconds pass first, so a board about to
    reboot is not read in its old state; with ``ssid`` only that network counts. A virtual
    board uses this machine's network and needs no Wi-Fi: it is accepted at once.
    """
    from kurs.hardware.rpc import RpcClient

    deadline = time.monotonic() + timeout
    status, seen = "ukjent", ssid or ""
    with RpcClient(port, timeout=min(3.0, timeout)) as client:
        time.sleep(min(settle, timeout))
        while True:
            try:
                info = client.get_info()
            except CourseError:
                info = None  # rebooting, or busy starting up
            if info is not None:
                if info.get("virtual"):
                    print("Et virtuelt kort bruker maskinens eget nett; det trenger ikke Wi-Fi.")
                    return
                wifi = info.get("wifi") if isinstance(info.get("wifi"), dict) else {}
                status = str(wifi.get("status") or status)
                on = str(wifi.get("ssid") or "")
                if wifi.get("sta_ip") and (ssid is None or not on or on == ssid):
                    print(f"Kortet er på Wi-Fi-nettet «{on or seen}» med IP-adressen {wifi['sta_ip']}.")
                    return
                seen = seen or on
            if time.monotonic() >= deadline:
                net = f"«{seen}»" if seen else "(ikke satt)"
                raise CourseError(
                    f"Kortet på {client.port} kom seg ikke på Wi-Fi-nettet {net} innen {timeout:g} s "
                    f"(status: {status}).",
                    _WIFI_FIX,
                )
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def put_credentials(device: Any, port: str | None = None, *, wait: float = 30.0,
                    timeout: float = DEFAULT_RPC_TIMEOUT) -> None:
    """Put a provisioned device's certificate, key and CA on the board over RPC, with its settings.

    ``device`` is what ``kurs.provisioning.provision()`` returned (its ``thing_name``,
    ``cert_file``, ``key_file``, ``ca_file`` and ``device_config``). This is the board side of
    ``mos aws-iot-setup``: ``FS.Put`` of the three files, then ``Config.Set`` with saving and a
    reboot. Then, for up to ``wait`` seconds (0: not at all), the board's log is watched until
    it has connected to its MQTT server with the new certificate. The key is never printed.
    """
    from kurs.hardware.rpc import RpcClient

    config = dict(device.device_config)
    files = [
        (Path(device.cert_file), str(config.get("mqtt.ssl_cert") or Path(device.cert_file).name)),
        (Path(device.key_file), str(config.get("mqtt.ssl_key") or Path(device.key_file).name)),
        (Path(device.ca_file), str(config.get("mqtt.ssl_ca_cert") or Path(device.ca_file).name)),
    ]
    for local, _ in files:
        if not local.is_file():
            raise CourseError(f"Finner ikke {local.name} for «{device.thing_name}» på maskinen din.",
                              "Kjør kurs.provisioning.provision(...) for dingsen på nytt.")
    server = str(config.get("mqtt.server", ""))
    with RpcClient(port, timeout=timeout) as client:
        info = client.get_info()
        name = thing_name(info)
        if name != device.thing_name:
            raise CourseError(
                f"Kortet på {client.port} heter «{name}», men sertifikatet er laget for «{device.thing_name}».",
                "MQTT-klient-ID-en må være dingsens navn, ellers nekter policyen tilkoblingen. Provisjoner "
                f"«{name}» i stedet: kurs.provisioning.provision(\"{name}\").",
            )
        if not info.get("virtual"):
            server = _server_for_a_real_board(server)
            config["mqtt.server"] = server
        if "mqtt.client_id" not in config and _room_client_id(client):
            # Back to the default, device.id ("Defaults to device.id.", mongoose-os-libs/mqtt mos.yml):
            # a board that was in a room (kurs.room.real_board) connected as the room's thing, which
            # this certificate's policy would refuse. Only then, so other boards' settings stay as they were.
            config["mqtt.client_id"] = ""
        for local, remote in files:
            client.fs_put(remote, local.read_bytes())
            print(f"• Lastet opp {remote}")
        first_new_line = len(client.console_lines)
        client.config_set(config, save=True, reboot=True)
        print("• Lagret konfigurasjonen:")
        for key, value in config.items():
            print(f"    {key} = {json.dumps(value)}")
        print(f"• Kortet på {client.port} starter på nytt og kobler seg til som «{device.thing_name}».")
        if wait > 0:
            _wait_for_mqtt(client, server, first_new_line, wait)
            print(f"✅ Kortet er koblet til {server} med sitt eget sertifikat.")


def _room_client_id(client: Any) -> str:
    try:
        value = client.config_get("mqtt.client_id")
    except Exception:  # noqa: BLE001 - firmware without the key: nothing to undo
        return ""
    return value if isinstance(value, str) else ""


def _wait_for_mqtt(client: Any, server: str, start: int, timeout: float) -> None:
    """Watch the board's log for ``connecting to <server>`` and then ``CONNACK <code>``."""
    deadline = time.monotonic() + timeout
    while True:
        lines = list(client.console_lines)[start:]
        connecting = False
        for line in lines:
            if f"connecting to {server}" in line:
                connecting = True
                continue
            code = re.search(r"CONNACK (\d+)", line)
            if connecting and code:
                if code.group(1) == "0":
                    return
                raise CourseError(
                    f"MQTT-serveren {server} nektet kortet å koble til (CONNACK {code.group(1)}).",
                    "Sertifikatet er ikke godkjent, eller policyen mangler: kjør "
                    "kurs.provisioning.provision(...) og put_credentials(...) på nytt.",
                )
        if time.monotonic() >= deadline:
            tail = "\n".join(f"    {line}" for line in lines[-5:]) or "    (ingenting)"
            raise CourseError(
                f"Kortet koblet seg ikke til {server} innen {timeout:g} s. Det siste kortet skrev:\n{tail}",
                "Sjekk at kortet er på Wi-Fi (kurs kort info), og se hele loggen med «kurs kort konsoll». "
                "Står det noe om TLS eller sertifikat, provisjoner dingsen på nytt.",
            )
        time.sleep(0.1)


def follow_console(
    port: str | None = None,
    *,
    seconds: float | None = None,
    on_line: Callable[[str], None] = print,
    on_open: Callable[[str], None] | None = None,
    platform: str = sys.platform,
) -> None:
    """Print the board's log lines as they come, for ``seconds`` (or until Ctrl-C).

    Opening the port does not reset the board (DTR and RTS stay released), so this shows
    what it prints from now on; RPC frames on the same line are left out. ``on_open`` is
    called with the port's name once it is open.
    """
    import serial

    from kurs.hardware import framing

    device = port or ports.find_board(platform).device
    ports.refuse_native_usb(device)
    deadline = None if seconds is None else time.monotonic() + seconds
    parser = framing.HostStreamParser()
    link = ports.open_port(device, timeout=0.1, platform=platform)
    if on_open is not None:
        on_open(device)
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                data = link.read(max(1, link.in_waiting or 0))
            except (serial.SerialException, OSError) as exc:
                raise CourseError(
                    f"Forbindelsen til kortet på {device} ble brutt.",
                    "Sjekk at kabelen sitter i, og start konsollen på nytt.",
                ) from exc
            if not data:
                continue
            data, _ = framing.strip_flow_control(data)
            for kind, value in parser.feed(data):
                if kind == "console":
                    on_line(value)
    finally:
        link.close()


def looks_like_pty(path: str) -> bool:
    """Whether ``path`` names a pseudo-terminal (what a virtual board's port is)."""
    return bool(re.fullmatch(r"/dev/(pts/\d+|ttys\d+|ttyp\w+)", path))


def open_pseudo_terminal() -> tuple[str, Callable[[], None]]:
    """A pseudo-terminal to try serial ports on without a board: ``(path, close)``.

    It behaves like a board's port that nothing answers on (no firmware), which is all the
    demonstrations of busy and silent ports need.
    """
    if not hasattr(os, "openpty"):
        raise CourseError(
            "Pseudoterminaler (late-som-serieporter) finnes bare på macOS og Linux.",
            "På Windows kan du hoppe over denne demonstrasjonen, eller kjøre kurset i WSL.",
        )
    master, slave = os.openpty()
    path = os.ttyname(slave)

    def close() -> None:
        for fd in (master, slave):
            try:
                os.close(fd)
            except OSError:
                pass

    return path, close
