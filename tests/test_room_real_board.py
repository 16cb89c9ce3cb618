"""kurs.room.real_board: a real ESP32 set up for the room over serial RPC.

The board is the course's serial fake (kurs.esp32.rpc_server.PtyRpcServer on a real pseudo-terminal,
framed as rpc-uart and mos frame it, see tests/test_serial_rpc.py), with a DictBackend that does not
say it is virtual, so it stands for a real board. The room itself is faked here (a Membership, and
provisioning that writes files); tests/test_room.py runs the same against a real room end to end.

Config keys, from the Mongoose OS libraries the course's firmware (firmware/start/mos.yml) uses:
  mqtt.client_id  "ClientID t send to the broker. Defaults to device.id."  (mongoose-os-libs/mqtt mos.yml)
  aws.thing_name  "Set thing name. If not specified, device.id is used"    (mongoose-os-libs/aws mos.yml)
  mqtt.server, mqtt.ssl_cert, mqtt.ssl_key, mqtt.ssl_ca_cert               (mongoose-os-libs/mqtt mos.yml)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from kurs import board_tools
from kurs.cli import main
from kurs.errors import CourseError
from kurs.esp32.rpc_server import DictBackend, PtyRpcServer
from kurs.room import devices, usb_board
from kurs.room.devices import RoomThing
from kurs.room.membership import Membership

MAC = "24:0a:c4:f7:f2:ad"
ROOM = Membership(host="192.168.1.20", api_port=5055, mqtts_port=8884, region="eu-west-1", account_id="123456789012",
                  name="Ida", slug="ida", code="K7QM-XR4T", access_key_id="AKIAEXAMPLE", secret_access_key="hemmelig")
SERVER = "192.168.1.20:8884"


class RealBoard(DictBackend):
    """A board on Wi-Fi that, after a reboot with MQTT on, connects to mqtt.server and logs the answer
    the way mgos_mqtt does (the lines kurs.board_tools waits for)."""

    def __init__(self, connack: int | None = 0, *, wifi: bool = True, init_js: bytes | None = None) -> None:
        super().__init__(mac=MAC, files={"init.js": init_js} if init_js is not None else None)
        self.connack = connack
        self.wifi = wifi
        self.config["wifi"]["sta"].update(enable=wifi, ssid="Kurs-nett")
        self.saved_config = {**self.saved_config, "wifi": self.config["wifi"]}

    def get_info(self) -> dict:
        info = super().get_info()
        if self.wifi:
            info["wifi"] = {"sta_ip": "192.168.1.57", "ap_ip": "", "status": "got ip", "ssid": "Kurs-nett"}
        return info

    def reboot(self) -> None:
        super().reboot()
        mqtt = self.config["mqtt"]
        if mqtt["enable"] and self.connack is not None:
            self.log(f"[boot] mgos_mqtt.c:435  MQTT connecting to {mqtt['server']}")
            self.log(f"[boot] mgos_mqtt.c:185  MQTT CONNACK {self.connack}")


@pytest.fixture
def room(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SimpleNamespace:
    """Ida in a (faked) room: provisioning writes files and is counted, reports are kept."""
    made: list[str] = []
    reports: list[tuple[str, dict]] = []

    def provision(role: str, membership: Membership | None = None) -> RoomThing:
        name = devices.thing_name(ROOM, role)
        folder = tmp_path / "credentials" / name
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for file, body in ((f"aws-{name}.crt.pem", b"CERT" * 300), (f"aws-{name}.key.pem", b"KEY" * 100),
                           ("kurs-ca.pem", b"ROOMCA" * 100)):
            (folder / file).write_bytes(body)
            files[file] = folder / file
        made.append(name)
        return RoomThing(name, files[f"aws-{name}.crt.pem"], files[f"aws-{name}.key.pem"], files["kurs-ca.pem"])

    reachable = Membership.reachable
    monkeypatch.setattr(usb_board, "current", lambda: ROOM)
    monkeypatch.setattr(Membership, "reachable", lambda self: None)
    monkeypatch.setattr(devices, "provision", provision)
    monkeypatch.setattr(devices, "publish_status", lambda sub, data, **kw: reports.append((sub, data)))
    monkeypatch.setenv("KURS_ARBEID", str(tmp_path / "arbeid"))
    return SimpleNamespace(made=made, reports=reports, reachable=reachable)


@pytest.fixture
def served() -> Iterator:
    servers: list[PtyRpcServer] = []

    def serve(backend: DictBackend) -> PtyRpcServer:
        server = PtyRpcServer(backend)
        server.start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()


def save_oppgave1() -> str:
    from kurs.exercises import workspace

    code = "load('api_mqtt.js');\nMQTT.pub('state', JSON.stringify({on: true, btnCount: 1}), 1);\n"
    workspace.save("oppgave1", code, "knapp")
    return code


def test_the_board_gets_the_rooms_certificate_server_client_id_and_the_pair_code(room, served, capsys) -> None:
    save_oppgave1()
    backend = RealBoard()
    server = served(backend)
    result = usb_board.real_board("knapp", server.path, pair="ida-ola", wait=5)
    out = capsys.readouterr().out
    # What the learner notices: which board, as what, and that it connected.
    assert "Setter opp kortet esp32_F7F2AD" in out and "som «ida-knapp» i rommet på 192.168.1.20" in out
    assert "Venter på at kortet kobler seg til rommet (høyst 5 s)" in out
    assert "✅ Kortet er koblet til rommet som «ida-knapp»" in out
    assert "KEYKEY" not in out  # the key's name may show, never the key
    assert result.thing_name == "ida-knapp" and result.server == SERVER and result.topic == "kurs/par/ida-ola/state"
    # On the board: the three files, the room's CA under its own name (ca.pem is the firmware's bundle)...
    assert backend.files["aws-ida-knapp.crt.pem"] == b"CERT" * 300
    assert backend.files["aws-ida-knapp.key.pem"] == b"KEY" * 100
    assert backend.files["kurs-ca.pem"] == b"ROOMCA" * 100 and "ca.pem" not in backend.files
    # ...the learner's own Oppgave 1 code, with 'state' as the pair's topic (as kurs.room.board does)...
    code = backend.files["init.js"].decode()
    assert "MQTT.pub('kurs/par/ida-ola/state'" in code and "'state'" not in code
    # ...and the settings, saved: it connects to the room as the room's thing, under its own device.id.
    saved = backend.saved_config
    assert saved["mqtt"]["server"] == SERVER and saved["mqtt"]["enable"] is True
    assert saved["mqtt"]["client_id"] == "ida-knapp" and saved["aws"]["thing_name"] == "ida-knapp"
    assert saved["mqtt"]["ssl_cert"] == "aws-ida-knapp.crt.pem" and saved["mqtt"]["ssl_ca_cert"] == "kurs-ca.pem"
    assert saved["device"]["id"] == "esp32_F7F2AD"
    assert backend.reboots == 1
    # The instructor's overview is told: a real board, connected.
    assert room.reports == [("kort/ida-knapp", {**room.reports[0][1], "kort": "ida-knapp", "tilkoblet": True,
                                                 "ekte": True, "enhet": "esp32_F7F2AD"})]


def test_without_a_pair_the_boards_own_code_stays_unless_it_says_state(room, served) -> None:
    quiet = RealBoard(init_js=b"print('hei');\n")
    usb_board.real_board("lys", served(quiet).path, wait=5)
    assert quiet.files["init.js"] == b"print('hei');\n" and quiet.saved_config["mqtt"]["client_id"] == "ida-lys"
    shared = RealBoard(init_js=b"MQTT.sub('state', function(c, t, m) {}, null);\n")
    with pytest.raises(CourseError, match="Koden på kortet bruker emnet «state»") as caught:
        usb_board.real_board("lys", served(shared).path, wait=5)
    assert "Ingenting er endret på kortet" in caught.value.message and "pair=" in caught.value.fix
    assert set(shared.files) == {"init.js"} and shared.saved_config["mqtt"]["server"] == "" and shared.reboots == 0
    with pytest.raises(CourseError, match="Koden bruker emnet «state»") as caught:  # the app given, no pair
        usb_board.real_board("knapp", served(quiet).path, app="knapp", wait=5)
    assert "kurs.room.real_board(..., pair=" in caught.value.fix
    assert quiet.files["init.js"] == b"print('hei');\n" and quiet.reboots == 1


def test_a_board_not_on_wifi_is_told_so_and_left_as_it_was(room, served) -> None:
    backend = RealBoard(wifi=False)
    with pytest.raises(CourseError, match="er ikke på Wi-Fi") as caught:
        usb_board.real_board("knapp", served(backend).path, wait=5)
    assert "Ingenting er endret på kortet" in caught.value.message and "kurs kort wifi" in caught.value.fix
    assert backend.files == {} and backend.saved_config["mqtt"]["server"] == "" and backend.reboots == 0
    assert room.made == []  # no thing or certificate made for a board that cannot use them


def test_a_port_where_no_board_answers(room, tmp_path) -> None:
    path, close = board_tools.open_pseudo_terminal()
    try:
        with pytest.raises(CourseError, match=f"Kortet på {path} svarer ikke") as caught:
            usb_board.real_board("knapp", path, wait=5, timeout=1)
    finally:
        close()
    assert "Mongoose OS" in caught.value.fix and room.made == []
    with pytest.raises(CourseError, match="Finner ikke porten .*ttyUSB9") as caught:  # a wrong port name
        usb_board.real_board("knapp", str(tmp_path / "ttyUSB9"), wait=5)
    assert "uten port=" in caught.value.fix and room.made == []


def test_not_in_a_room_and_room_unreachable(monkeypatch, room, served, tmp_path) -> None:
    from kurs.room import membership

    backend = RealBoard()
    monkeypatch.setattr(usb_board, "current", membership.current)
    monkeypatch.setenv("KURS_HOME", str(tmp_path / "ingen-rom"))
    with pytest.raises(CourseError, match="Du er ikke med i noe rom") as caught:
        usb_board.real_board("knapp", served(backend).path, wait=5)
    assert "kurs rom bli-med" in caught.value.fix
    # The room's address where nobody answers (a stopped room, or another network).
    monkeypatch.setattr(Membership, "reachable", room.reachable)
    closed = Membership(**{**ROOM.__dict__, "host": "127.0.0.1", "api_port": _closed_port()})
    monkeypatch.setattr(usb_board, "current", lambda: closed)
    with pytest.raises(CourseError, match="svarer ikke") as caught:
        usb_board.real_board("knapp", served(backend).path, wait=5)
    assert "instruktøren" in caught.value.fix
    assert backend.files == {} and backend.reboots == 0 and room.made == []


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pair_without_saved_code_or_known_role_says_what_to_run(room, served) -> None:
    backend = RealBoard()
    with pytest.raises(CourseError, match="Du har ikke lagret koden til Oppgave 1") as caught:
        usb_board.real_board("knapp", served(backend).path, pair="ida-ola", wait=5)
    assert "%%mjs oppgave1" in caught.value.fix
    with pytest.raises(CourseError, match="rollen «sensor»"):
        usb_board.real_board("sensor", served(backend).path, pair="ida-ola", wait=5)
    assert backend.files == {} and room.made == []


def test_a_board_that_does_not_reach_the_room_is_set_up_and_says_how_to_go_on(room, served) -> None:
    backend = RealBoard(connack=None)  # on Wi-Fi, but the room's address is not reachable from there
    with pytest.raises(CourseError) as caught:
        usb_board.real_board("knapp", served(backend).path, wait=1.5)
    assert f"koblet seg ikke til {SERVER} innen 1.5 s" in caught.value.message
    assert "satt opp for rommet og prøver videre" in caught.value.message
    assert "samme Wi-Fi som rommet" in caught.value.fix and "kurs.room.real_board('knapp')" in caught.value.fix
    assert backend.saved_config["mqtt"]["client_id"] == "ida-knapp" and room.reports == []
    refused = RealBoard(connack=5)
    with pytest.raises(CourseError, match=r"CONNACK 5") as caught:
        usb_board.real_board("knapp", served(refused).path, pair="ida-ola", wait=5, app="knapp")
    assert "kurs.room.real_board('knapp', pair='ida-ola')" in caught.value.fix and room.reports == []


def test_a_failed_upload_says_the_board_is_half_set_up_and_to_run_again(room, served) -> None:
    class FullBoard(RealBoard):
        def fs_put(self, name: str, data: bytes, append: bool) -> None:
            if name.endswith(".key.pem"):
                raise OSError(28, "No space left on device")
            super().fs_put(name, data, append)

    backend = FullBoard()
    with pytest.raises(CourseError, match="bare delvis satt opp for rommet") as caught:
        usb_board.real_board("knapp", served(backend).path, wait=5)
    assert "Kjør kurs.room.real_board('knapp') på nytt" in caught.value.fix
    assert backend.saved_config["mqtt"]["client_id"] == "" and backend.reboots == 0  # old settings still on


def test_put_credentials_takes_a_board_out_of_the_room(room, served, tmp_path) -> None:
    backend = RealBoard()
    usb_board.real_board("knapp", served(backend).path, wait=5)
    assert backend.saved_config["mqtt"]["client_id"] == "ida-knapp"
    own = SimpleNamespace(thing_name="esp32_F7F2AD", cert_file=tmp_path / "aws-esp32_F7F2AD.crt.pem",
                          key_file=tmp_path / "aws-esp32_F7F2AD.key.pem", ca_file=tmp_path / "kurs-ca.pem",
                          device_config={"mqtt.enable": True, "mqtt.server": "a1-ats.iot.eu-west-1.amazonaws.com:8883",
                                         "mqtt.ssl_cert": "aws-esp32_F7F2AD.crt.pem", "aws.thing_name": "esp32_F7F2AD",
                                         "mqtt.ssl_key": "aws-esp32_F7F2AD.key.pem", "mqtt.ssl_ca_cert": "kurs-ca.pem"})
    for path in (own.cert_file, own.key_file, own.ca_file):
        path.write_bytes(b"x")
    board_tools.put_credentials(own, served(backend).path, wait=0)
    assert backend.saved_config["mqtt"]["client_id"] == ""  # back to device.id, the board's own name
    assert backend.saved_config["aws"]["thing_name"] == "esp32_F7F2AD"


def test_kurs_rom_kort_runs_it_from_a_terminal(room, served, capsys) -> None:
    save_oppgave1()
    backend = RealBoard()
    code = main(["rom", "kort", "--rolle", "knapp", "--port", served(backend).path, "--par", "ida-ola",
                 "--vent", "5"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "✅ Kortet er koblet til rommet som «ida-knapp»" in out
    assert "kurs/par/ida-ola/state" in backend.files["init.js"].decode()
    backend.wifi = False  # the same board, off Wi-Fi
    code = main(["rom", "kort", "--rolle", "knapp", "--port", served(backend).path])
    out, err = capsys.readouterr()
    assert code == 1 and "er ikke på Wi-Fi" in err and "Traceback" not in err
