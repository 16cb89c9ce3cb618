"""A learner's REAL ESP32 board in the room: set up over USB (serial RPC), as ``mos aws-iot-setup`` and
``mos put`` would, but for the room's thing ``<prefix>-<role>`` and the room's MQTT server.

    kurs.room.real_board("knapp", pair="ida-ola")           # the one board on USB
    kurs.room.real_board("lys", "/dev/ttyUSB0", pair="ida-ola")

The board keeps its own ``device.id`` (``esp32_F7F2AD``): what makes it the room's thing is the
MQTT client id and the AWS thing name, which Mongoose OS takes from config when they are set:

* ``mqtt.client_id``: "ClientID t send to the broker. Defaults to device.id." (mongoose-os-libs/mqtt,
  mos.yml config_schema; its README: ``"client_id": "", // If not set, device.id is used``). The room's
  policy allows ``iot:Connect`` only as the thing the certificate is attached to (device_policy.py).
* ``aws.thing_name``: "Set thing name. If not specified, device.id is used" (mongoose-os-libs/aws,
  mos.yml config_schema): the shadow topics ``$aws/things/<thing>/shadow/...`` use it.

Leaving ``device.id`` alone means ``kurs.board_tools.put_credentials`` (notebook 03) still knows the
board afterwards; it sets ``mqtt.client_id`` back to empty, which takes the board out of the room.

The order is chosen so that every check that can fail (member of a room, room reachable, a board on
the port, on Wi-Fi, code that the room allows) comes before anything is written to the board. Only
uploading and Config.Set can then fail half-way; that error says so and how to recover (run again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.room import device_policy, devices
from kurs.room.membership import Membership, current

DEFAULT_WAIT_S = 60.0
# The learner's own code for each role, as notebook 04's room cell uses it (Oppgave 1 and 4).
ROLE_APPS = {"knapp": "oppgave1", "lys": "oppgave4"}


@dataclass(frozen=True)
class RealRoomBoard:
    """What was set up: the room's thing on the board on ``port``, connected to ``server``."""

    thing_name: str
    port: str
    server: str
    device_id: str
    topic: str | None

    def __repr__(self) -> str:
        topic = f", emne {self.topic}" if self.topic else ""
        return f"<ekte kort {self.device_id} på {self.port} som «{self.thing_name}» i rommet ({self.server}){topic}>"


def board_config(thing: devices.RoomThing, membership: Membership) -> dict[str, Any]:
    """The room's settings for a real board: the room thing's (RoomThing.device_config), plus the
    client id (the board's own ``device.id`` is not the room's thing name, see the module doc)."""
    config = thing.device_config(membership)
    config["mqtt.client_id"] = thing.thing_name
    return config


def real_board(role: str, port: str | None = None, *, pair: str | None = None, app: str | Path | None = None,
               wait: float = DEFAULT_WAIT_S, timeout: float = 5.0) -> RealRoomBoard:
    """Set up the real board on ``port`` (or the one on USB) as ``<prefix>-<role>`` in the room.

    Puts the thing's certificate, key and the room's CA on the board, with the room's MQTT server and
    the thing's name as client id, saves and reboots. With ``pair`` (or ``app``) the board also gets
    code: ``app``, by default your own code from Oppgave 1 (``knapp``) or Oppgave 4 (``lys``), with
    ``'state'`` as the pair's topic ``kurs/par/<pair>/state`` (as kurs.room.board does). Then waits up
    to ``wait`` seconds until the board says it has connected, and tells the instructor's overview.
    """
    from kurs.hardware.rpc import RpcClient

    membership = current()
    devices.thing_name(membership, role)  # a bad role is refused before anything else
    code = _code(role, pair, app)
    membership.reachable()
    with RpcClient(port, timeout=timeout) as client:
        info = client.get_info()
        _check_wifi(info, client.port, membership)
        if code is None:
            _check_code_on_board(client, pair)
        thing = devices.provision(role, membership)
        config = board_config(thing, membership)
        server = str(config["mqtt.server"])
        uploads = [(p.name, p.read_bytes()) for p in (thing.cert_file, thing.key_file, thing.ca_file)]
        if code is not None:
            uploads.append(("init.js", code.encode("utf-8")))
        device_id = str(info.get("id") or "")
        print(f"Setter opp kortet {device_id} på {client.port} som «{thing.thing_name}» i rommet på "
              f"{membership.host}:")
        start = len(client.console_lines)
        try:
            for name, data in uploads:
                client.fs_put(name, data)
                print(f"• Lastet opp {name}")
            client.config_set(config, save=True, reboot=True)
        except CourseError as exc:
            raise CourseError(
                f"{exc.message} Kortet er bare delvis satt opp for rommet: det bruker de gamle innstillingene "
                "til oppsettet er gjort ferdig.",
                f"{exc.fix + ' ' if exc.fix else ''}Kjør {_again(role, pair)} på nytt; det gjør hele oppsettet "
                "om igjen.",
            ) from None
        print(f"• Lagret innstillingene (mqtt.server = {server}, mqtt.client_id = {thing.thing_name}); "
              "kortet starter på nytt.")
        if wait > 0:
            print(f"Venter på at kortet kobler seg til rommet (høyst {wait:g} s) …", flush=True)
            _wait_connected(client, server, start, wait, role, pair)
            print(f"✅ Kortet er koblet til rommet som «{thing.thing_name}».")
    topic = device_policy.pair_topic(pair) if pair is not None and code and f"'{device_policy.pair_topic(pair)}'" in code \
        else None
    if wait > 0:
        _report(thing.thing_name, device_id)
    print("Vil du bruke kortet utenfor rommet igjen, setter du det opp som i notatbok 03 "
          "(kurs.provisioning.provision og kort.put_credentials).")
    return RealRoomBoard(thing.thing_name, client.port, server, device_id, topic)


def _again(role: str, pair: str | None) -> str:
    return f"kurs.room.real_board({role!r}" + (f", pair={pair!r}" if pair else "") + ")"


def _code(role: str, pair: str | None, app: str | Path | None) -> str | None:
    """The init.js to put on the board (``'state'`` as the pair's topic), or None to leave the board's code."""
    import tempfile

    from kurs.esp32.app import resolve_app

    if app is None and pair is None:
        return None
    if app is None:
        from kurs.exercises import workspace

        name = ROLE_APPS.get(role)
        if name is None:
            raise CourseError(f"Kurset vet ikke hvilken kode et kort med rollen «{role}» skal ha.",
                              "Bruk rollen «knapp» (koden fra Oppgave 1) eller «lys» (koden fra Oppgave 4), "
                              "eller oppgi koden selv med app=\"mappe\".")
        if workspace.read_code(name) is None:
            raise CourseError(f"Du har ikke lagret koden til {name.replace('oppgave', 'Oppgave ')} ennå.",
                              f"Kjør %%mjs {name}-cellen i notatbok 04 (eller {name}.bruk_fasit()) først, "
                              "eller oppgi koden med app=\"mappe\".")
        app = workspace.app_dir(name)
    source = Path(resolve_app(app).path)
    try:
        devices._check_topic(source, pair)
    except CourseError as exc:
        raise CourseError(f"{exc.message} Ingenting er endret på kortet.",
                          "Gi kortet et parnavn som makkeren din bruker også, for eksempel "
                          "kurs.room.real_board(..., pair=\"ida-ola\").") from None
    with tempfile.TemporaryDirectory() as folder:
        # The same copy kurs.room.board runs: 'state' becomes the pair's topic.
        copy = devices._room_copy(source, Path(folder) / "app", pair)
        return (copy / "fs" / "init.js").read_text(encoding="utf-8")


def _check_wifi(info: dict[str, Any], port: str, membership: Membership) -> None:
    if info.get("virtual"):
        return  # a virtual board on a pseudo-terminal uses this machine's network
    wifi = info.get("wifi") if isinstance(info.get("wifi"), dict) else {}
    if not wifi.get("sta_ip"):
        net = f"«{wifi['ssid']}»" if wifi.get("ssid") else "(ikke satt)"
        raise CourseError(
            f"Kortet på {port} er ikke på Wi-Fi (nett: {net}, status: {wifi.get('status') or 'ukjent'}), så det "
            f"når ikke rommet på {membership.host}. Ingenting er endret på kortet.",
            "Sett Wi-Fi med «kurs kort wifi NETTNAVN PASSORD» (samme nett som instruktørens maskin, 2,4 GHz), "
            "og prøv igjen.",
        )


def _check_code_on_board(client: Any, pair: str | None) -> None:
    """Without new code the board keeps its init.js; one that says 'state' would be refused by the room."""
    try:
        text = client.fs_get("init.js").decode("utf-8", "replace")
    except CourseError:
        return  # no init.js (or no FS.Get): nothing the room would refuse
    if pair is None and "'state'" in text:
        raise CourseError(
            "Koden på kortet bruker emnet «state», men i rommet ville alle delt det, så rommet nekter det. "
            "Ingenting er endret på kortet.",
            "Gi kortet et parnavn som makkeren din bruker også, for eksempel kurs.room.real_board(..., "
            "pair=\"ida-ola\"); da får kortet koden din med emnet kurs/par/ida-ola/state.",
        )


def _wait_connected(client: Any, server: str, start: int, wait: float, role: str, pair: str | None) -> None:
    from kurs.board_tools import _wait_for_mqtt

    try:
        _wait_for_mqtt(client, server, start, wait)
    except CourseError as exc:
        refused = "CONNACK" in exc.message
        raise CourseError(
            f"{exc.message}\nKortet er satt opp for rommet og prøver videre av seg selv.",
            ("Rommet godtok ikke sertifikatet: kjør " + _again(role, pair) + " på nytt (det lager tingen og "
             "sertifikatet igjen); spør instruktøren om du fortsatt er med i rommet.") if refused else
            ("Kortet må være på et nett der det når instruktørens maskin (samme Wi-Fi som rommet): sjekk med "
             "«kurs kort info» og sett nettet med «kurs kort wifi». Se loggen med «kurs kort konsoll». Kjør så "
             + _again(role, pair) + " på nytt for å vente igjen."),
        ) from None


def _report(thing: str, device_id: str) -> None:
    """Tell the instructor's overview about the board (retained, like a virtual room board's report).

    The notebook does not keep the serial port open afterwards, so it cannot see the LED or the button:
    the report says the board is real, and the room's lifecycle events keep «tilkoblet» up to date."""
    try:
        devices.publish_status(f"kort/{thing}", {"kort": thing, "lys": None, "trykk": None, "tilkoblet": True,
                                                  "ekte": True, "enhet": device_id, "tid": time.time()})
    except Exception:  # noqa: BLE001 - the overview is extra; the board is set up
        pass
