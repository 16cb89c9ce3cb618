"""A learner's things in the room: provisioning with the room policy, virtual boards that connect
to the room over mutual TLS, and the notebook's own MQTT identity there (``<prefix>-notatbok``).

Provisioning is the course's own (kurs.provisioning.setup's steps, the same least-privilege policy
with the pair space, see device_policy.py), only aimed at the room's API with the learner's key.
Credentials go under the learner's KURS_HOME (``credentials/rom-<host>/<thing>/``, 0600).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.paths import private_dir, write_private
from kurs.room import device_policy
from kurs.room.membership import Membership, current

NOTEBOOK_ROLE = "notatbok"
_ROLE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass(frozen=True)
class RoomThing:
    thing_name: str
    cert_file: Path
    key_file: Path
    ca_file: Path

    def device_config(self, membership: Membership) -> dict[str, Any]:
        return {"mqtt.enable": True, "mqtt.server": f"{membership.host}:{membership.mqtts_port}",
                "mqtt.ssl_cert": self.cert_file.name, "mqtt.ssl_key": self.key_file.name,
                # The room's CA in a file of its own: on a real board «ca.pem» is the ca-bundle library's
                # multi-root bundle and must stay (kurs/provisioning/credentials.py: CA_FILE_NAME).
                "mqtt.ssl_ca_cert": self.ca_file.name, "aws.thing_name": self.thing_name, "shadow.lib": "aws"}


def thing_name(membership: Membership, role: str) -> str:
    if not isinstance(role, str) or not _ROLE.match(role):
        raise CourseError(f"«{role}» kan ikke brukes som navn på et kort i rommet.",
                          "Bruk små bokstaver og sifre, for eksempel «knapp» eller «lys».")
    return f"{membership.slug}-{role}"


def provision(role: str, membership: Membership | None = None) -> RoomThing:
    """The thing ``<prefix>-<role>`` in the room: thing, policy, key and certificate (idempotent)."""
    from kurs.provisioning.credentials import DeviceFiles
    from kurs.provisioning.device_policy import arn_prefix, wrap
    from kurs.provisioning.setup import _ensure_certificate, _ensure_policy, _ensure_thing

    membership = membership or current()
    name = thing_name(membership, role)
    iot = membership.client("iot")
    files = DeviceFiles.for_thing(f"rom-{membership.host}", name)
    actions: list[str] = []
    _ensure_thing(iot, name, actions)
    policy = f"kurs-{name}"
    document = wrap(device_policy.statements(membership.slug)(arn_prefix(membership.region, membership.account_id)))
    _ensure_policy(iot, policy, document, actions)
    _cert_id, cert_arn = _ensure_certificate(iot, files, actions)
    iot.attach_policy(policyName=policy, target=cert_arn)
    iot.attach_thing_principal(thingName=name, principal=cert_arn)
    write_private(files.ca_file, Path(membership.ca_file).read_bytes())
    return RoomThing(name, files.cert_file, files.key_file, files.ca_file)


# -- the notebook's own MQTT client in the room ------------------------------------------------------

_client_lock = threading.Lock()
_client: Any = None
broadcasts: list[str] = []  # what the instructor said to everyone, newest last (kurs.room.broadcast)


def notebook_client() -> Any:
    """The notebook's MQTT connection to the room (made once per process), as ``<prefix>-notatbok``."""
    global _client
    with _client_lock:
        if _client is not None and _client.is_connected():
            return _client
        membership = current()
        membership.reachable()
        thing = provision(NOTEBOOK_ROLE, membership)
        _client = connect(thing, membership)
        _client.message_callback_add(device_policy.BROADCAST, _on_broadcast)
        # Wait for this SUBACK here, so it is never taken for the answer to a later subscription.
        acked = threading.Event()
        _client.on_subscribe = lambda *args: acked.set()
        _client.subscribe(device_policy.BROADCAST, qos=1)
        acked.wait(5)
        _client.on_subscribe = None
        return _client


def _on_broadcast(client: Any, userdata: Any, msg: Any) -> None:
    try:
        text = str(json.loads(msg.payload)["tekst"])
    except (ValueError, KeyError, TypeError):
        return
    broadcasts.append(text)
    print(f"📣 Beskjed fra instruktøren: {text}")


def connect(thing: RoomThing, membership: Membership, **kwargs: Any) -> Any:
    from kurs import mqtt

    return mqtt.connect(thing.thing_name, host=membership.host, port=membership.mqtts_port, tls=True,
                        cert_file=thing.cert_file, key_file=thing.key_file, ca_file=thing.ca_file, **kwargs)


def publish_status(subtopic: str, data: dict[str, Any], *, retain: bool = True) -> None:
    """Tell the instructor something about this learner (``kurs/rom/<prefix>/<subtopic>``)."""
    membership = current()
    client = notebook_client()
    topic = f"{device_policy.own_space(membership.slug)}/{subtopic}"
    info = client.publish(topic, json.dumps(data, ensure_ascii=False), qos=1, retain=retain)
    info.wait_for_publish(timeout=5)
    if not info.is_published():  # AWS IoT closes a connection whose policy refuses the publish
        raise CourseError(f"Rommet bekreftet ikke meldingen på «{topic}».",
                          "Provisjoner notatbokas ting på nytt: kurs.room.devices.provision('notatbok').")


# -- virtual boards in the room ---------------------------------------------------------------------

def board(app: str | Path, role: str, *, pair: str | None = None, start: bool = True,
          report: bool = True) -> Any:
    """A virtual board ``<prefix>-<role>`` running ``app`` against the room, over mutual TLS.

    ``pair``: the board uses the pair's topic ``kurs/par/<pair>/state`` where the app says ``'state'``
    (in a room of thirty the course's one ``state`` would be everyone's). ``report``: its LED and
    button presses go to the instructor's overview.
    """
    from kurs.esp32 import VirtualBoard
    from kurs.esp32.app import resolve_app

    membership = current()
    source = resolve_app(app)
    _check_topic(Path(source.path), pair)
    membership.reachable()
    thing = provision(role, membership)
    folder = private_dir("rom", "kort", thing.thing_name)
    app_dir = _room_copy(Path(source.path), folder / "app", pair)
    fs_dir = folder / "fs"
    for path in (thing.cert_file, thing.key_file, thing.ca_file):
        write_private(fs_dir / path.name, path.read_bytes())
    result = VirtualBoard(app_dir, device_id=thing.thing_name, fs_dir=fs_dir,
                          config_overrides=thing.device_config(membership))
    reporter = BoardReporter(result, thing.thing_name) if report else None
    if start:
        result.start()
        if reporter is not None:
            # Once connected, say so (retained): an overview opened later sees the board too.
            threading.Thread(target=reporter.announce, daemon=True, name=f"rom-{thing.thing_name}").start()
    return result


def _check_topic(source: Path, pair: str | None) -> None:
    init = source / "fs" / "init.js"
    text = init.read_text(encoding="utf-8") if init.is_file() else ""
    if pair is None and "'state'" in text:
        # The room's policy refuses «state» (every LED in the room would share it), and AWS IoT answers
        # a refused subscription by closing the connection: the board would reconnect for ever.
        raise CourseError("Koden bruker emnet «state», men i rommet ville alle delt det, så rommet nekter det.",
                          "Gi kortet et parnavn som makkeren din bruker også, for eksempel "
                          "kurs.room.board(..., pair=\"ida-ola\"); da bruker kortet kurs/par/ida-ola/state.")


def _room_copy(source: Path, target: Path, pair: str | None) -> Path:
    import shutil

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", "deps", "conf9.json"))
    init = target / "fs" / "init.js"
    text = init.read_text(encoding="utf-8") if init.is_file() else ""
    if pair is not None:
        topic = device_policy.pair_topic(pair)
        if "'state'" in text:
            init.write_text(text.replace("'state'", f"'{topic}'"), encoding="utf-8")
            print(f"I rommet bruker kortet emnet «{topic}» der koden sier «state» (paret deler det emnet).")
    return target


class BoardReporter:
    """Sends the board's LED and its last button press to the instructor (retained, so a late
    overview sees them too)."""

    def __init__(self, board: Any, thing: str, led_pin: int = 2, button_pin: int = 0) -> None:
        self.board, self.thing = board, thing
        self.led_pin, self.button_pin = led_pin, button_pin
        self.last_press: float | None = None
        self._led: bool | None = None
        board.on_pin_change(self._changed)

    def _changed(self, pin: int, level: int) -> None:
        if pin == self.button_pin and level == 0:  # BOOT pulls GPIO 0 low when pressed
            self.last_press = time.time()
        elif pin == self.led_pin:
            self._led = bool(level)
        else:
            return
        threading.Thread(target=self._send, daemon=True, name=f"rom-{self.thing}").start()

    def announce(self) -> None:
        try:
            self.board.wait_for(lambda: self.board.cloud_connected, 15)
        except Exception:  # noqa: BLE001 - the lifecycle events tell the overview anyway
            return
        self._led = bool(self.board.pin_level(self.led_pin))
        self._send()

    def _send(self) -> None:
        try:
            publish_status(f"kort/{self.thing}", {"kort": self.thing, "lys": self._led, "trykk": self.last_press,
                                                   "tilkoblet": bool(self.board.cloud_connected), "tid": time.time()})
        except Exception:  # noqa: BLE001 - the overview is extra; the board goes on
            pass
