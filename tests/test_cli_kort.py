"""``kurs kort`` as a learner uses it: against a board served on a real pseudo-terminal, and
the errors a new user meets (no board, busy port, no permission, wrong firmware file, a
board that does not answer), each with its Norwegian message and exit code 1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from hardware_firmware import default_blobs, default_manifest, write_firmware_zip
from serial.tools import list_ports as pyserial_list_ports
from serial.tools.list_ports_common import ListPortInfo

from kurs import board_tools
from kurs.cli import main
from kurs.errors import CourseError
from kurs.esp32.rpc_server import DictBackend, PtyRpcServer
from kurs.hardware import ports

MAC = "24:0a:c4:f7:f2:ad"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["kort", *args])
    out, err = capsys.readouterr()
    return code, out, err


def usb_port(device: str, vid: int | None, pid: int | None, description: str = "USB Serial") -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.description = vid, pid, description
    return info


@pytest.fixture
def scan(monkeypatch: pytest.MonkeyPatch) -> list[ListPortInfo]:
    """What pyserial's port scan reports; tests fill it (empty: no board on this machine)."""
    found: list[ListPortInfo] = []
    monkeypatch.setattr(pyserial_list_ports, "comports", lambda *a, **k: list(found))
    return found


@pytest.fixture
def board() -> Iterator[tuple[PtyRpcServer, DictBackend]]:
    backend = DictBackend(mac=MAC)
    server = PtyRpcServer(backend)
    server.start()
    yield server, backend
    server.stop()


@pytest.fixture
def silent_pty() -> Iterator[tuple[int, str]]:
    """A serial line with nothing (no firmware) on the other end; the test may write to ``master``."""
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def wait_until(predicate, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    return predicate()


def assert_learner_error(code: int, err: str, *phrases: str, after: str = "") -> None:
    """Exit code 1 and nothing on stderr but the Norwegian error (after ``after``, if given)."""
    assert code == 1
    if after and after in err:
        err = err[err.index("\nFeil: ") + 1 :]
    assert err.startswith("Feil: ") and "Slik løser du det:" in err
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in err


# --- porter ----------------------------------------------------------------------------------


def test_porter_names_the_board_and_its_chip(capsys, scan) -> None:
    scan += [usb_port("/dev/ttyS0", None, None, "ttyS0"), usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102")]
    code, out, _ = run(capsys, "porter", "--os", "linux")
    assert code == 0
    assert "ESP32-kortet ditt er på porten /dev/ttyUSB0" in out
    assert "CP210x" in out and "Silicon Labs" in out
    assert "/dev/ttyS0" not in out  # built-in serial ports are noise for a learner
    code, out, _ = run(capsys, "porter", "--alle")
    assert "/dev/ttyS0" in out


@pytest.mark.parametrize(
    ("system", "phrases"),
    [
        ("linux", ["ls /dev/ttyUSB*", "brltty", "bare lade"]),
        ("macos", ["ls /dev/cu.*", "Systeminnstillinger > Personvern og sikkerhet"]),
        ("windows", ["Enhetsbehandling", "CH341SER"]),
    ],
)
def test_porter_without_a_board_gives_advice_for_the_os(capsys, scan, system: str, phrases: list[str]) -> None:
    code, out, err = run(capsys, "porter", "--os", system)
    assert code == 1 and not err
    assert "Fant ingen USB-serieporter, altså ikke noe ESP32-kort" in out
    flat = " ".join(out.split())  # the advice is wrapped for the terminal
    for phrase in phrases:
        assert phrase in flat


def test_porter_lists_unknown_usb_serial_without_guessing(capsys, scan) -> None:
    scan.append(usb_port("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno"))
    code, out, _ = run(capsys, "porter")
    assert code == 1
    assert "/dev/ttyACM0" in out and "Arduino Uno" in out and "--port" in out
    assert "ESP32-kortet ditt er" not in out


# --- against a board on a pseudo-terminal ----------------------------------------------------


def test_info_shows_app_firmware_mac_and_thing_name(capsys, board) -> None:
    server, _ = board
    code, out, _ = run(capsys, "info", "--port", server.path)
    assert code == 0
    assert f"Kortet på {server.path}" in out
    assert "Dingsnavn:       esp32_F7F2AD" in out
    assert "App:             kurs-dict-backend" in out
    assert "Fastvareversjon: 1.0" in out
    assert f"MAC-adresse:     {MAC}" in out


class WifiBackend(DictBackend):
    """A board that joins the Wi-Fi network it was given once it has rebooted with it saved."""

    def get_info(self) -> dict:
        info = super().get_info()
        ssid = self.config["wifi"]["sta"]["ssid"]
        if self.reboots and ssid and self.saved_config["wifi"]["sta"]["ssid"] == ssid:
            info["wifi"] = {"sta_ip": "192.168.1.23", "ap_ip": "", "status": "got ip", "ssid": ssid}
        return info


def test_wifi_is_saved_and_the_command_waits_until_the_board_is_online(capsys) -> None:
    backend = WifiBackend(mac=MAC)
    with PtyRpcServer(backend) as server:
        code, out, _ = run(capsys, "wifi", "Kontoret-ÆØÅ", "hemmelig-passord", "--port", server.path)
    assert code == 0
    assert backend.saved_config["wifi"]["sta"] == {"enable": True, "ssid": "Kontoret-ÆØÅ", "pass": "hemmelig-passord"}
    assert backend.saved_config["wifi"]["ap"]["enable"] is False
    assert backend.reboots == 1
    assert "«Kontoret-ÆØÅ»" in out and "lagret" in out
    assert "Kortet er på Wi-Fi-nettet «Kontoret-ÆØÅ» med IP-adressen 192.168.1.23" in out
    assert "hemmelig-passord" not in out


def test_wifi_that_the_board_never_joins_says_what_to_check(capsys, board) -> None:
    server, backend = board  # a DictBackend never gets an IP address
    code, out, err = run(capsys, "wifi", "Kontoret", "feil-passord", "--port", server.path, "--vent", "1.5")
    assert backend.saved_config["wifi"]["sta"]["ssid"] == "Kontoret"
    assert_learner_error(code, err, "kom seg ikke på Wi-Fi-nettet «Kontoret»", "2,4 GHz", "passordet")
    assert "feil-passord" not in out + err


def test_wifi_without_waiting(capsys, board) -> None:
    server, backend = board
    code, out, _ = run(capsys, "wifi", "Hjemme", "", "--port", server.path, "--vent", "0")
    assert code == 0 and "uten passord" in out and "kurs kort konsoll" in out
    assert backend.saved_config["wifi"]["sta"]["ssid"] == "Hjemme"


def test_wifi_with_a_too_short_password_is_refused_before_the_board_is_touched(capsys, board) -> None:
    server, backend = board
    code, _, err = run(capsys, "wifi", "Kontoret", "kort", "--port", server.path)
    assert_learner_error(code, err, "mellom 8 og 63 tegn")
    assert backend.saved_config["wifi"]["sta"]["ssid"] == ""


def test_put_uploads_the_file(capsys, board, tmp_path: Path) -> None:
    server, backend = board
    cert = tmp_path / "aws-esp32_F7F2AD.crt.pem"
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * 1500 + b"\n-----END CERTIFICATE-----\n")
    code, out, _ = run(capsys, "put", str(cert), "--port", server.path)
    assert code == 0
    assert backend.files["aws-esp32_F7F2AD.crt.pem"] == cert.read_bytes()
    assert "«aws-esp32_F7F2AD.crt.pem»" in out
    code, _, _ = run(capsys, "put", str(cert), "--navn", "ca.pem", "--port", server.path)
    assert code == 0 and backend.files["ca.pem"] == cert.read_bytes()


def test_put_of_a_missing_local_file(capsys, board, tmp_path: Path) -> None:
    server, backend = board
    code, _, err = run(capsys, "put", str(tmp_path / "finnes-ikke.pem"), "--port", server.path)
    assert_learner_error(code, err, "finnes ikke på maskinen din")
    assert backend.files == {}


def test_konsoll_shows_log_lines_and_hides_rpc_frames(capsys, silent_pty) -> None:
    master, path = silent_pty
    answer = json.dumps({"id": 7, "src": "esp32_F7F2AD", "result": {"saved": True}}, separators=(",", ":")).encode()
    frame = b'\n"""' + answer + b"%08x" % zlib.crc32(answer) + b'"""\n'
    stop = threading.Event()

    def firmware() -> None:  # the board prints its state every so often, and answers RPC between
        n = 0
        while not stop.is_set():
            os.write(master, f'{{"on":true,"btnCount":{n}}}\n'.encode() + frame + f"[tick] {n}\n".encode())
            n += 1
            time.sleep(0.02)

    writer = threading.Thread(target=firmware)
    writer.start()
    try:
        code, out, err = run(capsys, "konsoll", "--port", path, "--sekunder", "1")
    finally:
        stop.set()
        writer.join()
    assert code == 0
    assert f"Loggen fra kortet på {path}" in err
    lines = out.splitlines()
    ticks = [int(line.split()[1]) for line in lines if line.startswith("[tick]")]
    assert ticks and ticks == list(range(ticks[0], ticks[0] + len(ticks)))  # none lost, in order
    assert any(line.startswith('{"on":true') for line in lines)  # the firmware's own JSON is log
    # RPC frames are not (the first line may be the tail of one cut off when the port opened).
    assert not any('"saved"' in line for line in lines[1:])


# --- errors a new user meets -----------------------------------------------------------------


def test_no_board_connected(capsys, scan) -> None:
    code, _, err = run(capsys, "info")
    assert_learner_error(code, err, "Fant ikke noe ESP32-kort koblet til maskinen")


def test_two_boards_and_no_port_given(capsys, scan) -> None:
    scan += [usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60), usb_port("/dev/ttyUSB1", 0x1A86, 0x7523)]
    code, _, err = run(capsys, "wifi", "Kontoret", "hemmelig-passord")
    assert_learner_error(code, err, "Fant 2 ESP32-kort", "/dev/ttyUSB0", "/dev/ttyUSB1")


def test_busy_port(capsys, board) -> None:
    server, _ = board
    holder = ports.open_port(server.path)  # another program (say, a serial monitor) has the board
    try:
        for args in (["info"], ["konsoll", "--sekunder", "1"], ["put", __file__]):
            code, _, err = run(capsys, *args, "--port", server.path)
            assert_learner_error(code, err, f"Porten {server.path} er opptatt", "screen")
    finally:
        holder.close()
    code, _, _ = run(capsys, "info", "--port", server.path)
    assert code == 0  # free again once the other program lets go


def test_port_that_does_not_exist(capsys) -> None:
    code, _, err = run(capsys, "info", "--port", "/dev/ttyUSB-finnes-ikke")
    assert_learner_error(code, err, "Finner ikke porten /dev/ttyUSB-finnes-ikke")


def test_board_that_does_not_answer_rpc(capsys, silent_pty) -> None:
    _, path = silent_pty
    code, _, err = run(capsys, "info", "--port", path, "--timeout", "0.5")
    assert_learner_error(code, err, f"Kortet på {path} svarer ikke", "flash fastvaren")


def test_permission_denied_in_a_real_process(silent_pty) -> None:
    """As the ``kurs`` command in a shell: a port the user may not open (Linux without ``dialout``)."""
    _, path = silent_pty
    os.chmod(path, 0)
    command = [sys.executable, "-m", "kurs", "kort", "info", "--port", path, "--timeout", "1"]
    if os.geteuid() == 0:  # root opens anything; drop the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to run without root's file-access capabilities")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, "LC_ALL": "C.UTF-8"})
    if sys.platform.startswith("linux"):
        expected = ["usermod -aG dialout"]
    else:
        expected = []
    assert_learner_error(done.returncode, done.stderr, f"Du har ikke tilgang til porten {path}", *expected)


# --- flash: the firmware file is checked before the board -------------------------------------


def test_flash_refuses_a_file_that_is_not_a_zip(capsys, tmp_path: Path) -> None:
    wrong = tmp_path / "fw.zip"
    wrong.write_text("dette er ikke en fastvare")
    code, _, err = run(capsys, "flash", str(wrong), "--port", "/dev/ttyUSB-finnes-ikke")
    assert_learner_error(code, err, "fw.zip er ikke en gyldig zip-fil", "Ingenting er skrevet til kortet")


def test_flash_refuses_a_zip_that_is_not_mongoose_os_firmware(capsys, tmp_path: Path) -> None:
    other = tmp_path / "bilder.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("feriebilde.jpg", b"\xff\xd8\xff")
    code, _, err = run(capsys, "flash", str(other))
    assert_learner_error(code, err, "ser ikke ut som en Mongoose OS-fastvare", "build/fw.zip")


def test_flash_refuses_a_corrupt_part_before_looking_for_the_board(capsys, scan, tmp_path: Path) -> None:
    blobs = default_blobs()
    manifest = default_manifest(blobs)
    blobs["demo-js.bin"] = blobs["demo-js.bin"][:-1] + b"X"  # one byte changed after the build
    firmware = write_firmware_zip(tmp_path / "fw.zip", blobs, manifest)
    code, out, err = run(capsys, "flash", str(firmware))
    assert_learner_error(code, err, "«app»", "kontrollsummen", "Ikke flash denne fila")
    assert "ESP32-kort" not in err  # refused before any port was looked for
    assert out == ""


def test_flash_missing_file(capsys) -> None:
    code, _, err = run(capsys, "flash", "build/finnes-ikke.zip")
    assert_learner_error(code, err, "Finner ikke fastvarefila build/finnes-ikke.zip")


def test_flash_on_a_port_with_no_bootloader(capsys, silent_pty, tmp_path: Path) -> None:
    """The real esptool against a line where no ESP32 answers: a good zip, then no download mode."""
    _, path = silent_pty
    firmware = write_firmware_zip(tmp_path / "fw.zip")
    code, out, err = run(capsys, "flash", str(firmware), "--port", path, "--forsok", "1")
    assert "Fastvare demo-js 1.0 for esp32" in out and "0x010000" in out  # the checked plan first
    # esptool itself warns (in English) that a pseudo-terminal has no DTR/RTS lines to reset with.
    assert_learner_error(code, err, "nedlastingsmodus", "BOOT", "pseudoterminal", after="RTS/DTR")


# --- putting a provisioned device's credentials on a board ------------------------------------


def fake_provisioned(tmp_path: Path, thing: str, server: str) -> SimpleNamespace:
    """What kurs.provisioning.provision() returns, as far as put_credentials reads it."""
    folder = tmp_path / thing
    folder.mkdir()
    files = {}
    for name, body in ((f"aws-{thing}.crt.pem", b"CERT" * 200), (f"aws-{thing}.key.pem", b"KEY" * 80),
                       ("kurs-ca.pem", b"CA" * 300)):
        (folder / name).write_bytes(body)
        files[name] = folder / name
    config = {"mqtt.enable": True, "mqtt.server": server, "mqtt.ssl_cert": f"aws-{thing}.crt.pem",
              "mqtt.ssl_key": f"aws-{thing}.key.pem", "mqtt.ssl_ca_cert": "kurs-ca.pem", "aws.thing_name": thing}
    return SimpleNamespace(thing_name=thing, cert_file=files[f"aws-{thing}.crt.pem"],
                           key_file=files[f"aws-{thing}.key.pem"], ca_file=files["kurs-ca.pem"], device_config=config)


AWS_SERVER = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com:8883"


def test_put_credentials_uploads_files_and_saves_the_settings(capsys, board, tmp_path: Path) -> None:
    server, backend = board
    device = fake_provisioned(tmp_path, "esp32_F7F2AD", AWS_SERVER)
    board_tools.put_credentials(device, server.path, wait=0)
    assert backend.files == {p.name: p.read_bytes() for p in (device.cert_file, device.key_file, device.ca_file)}
    saved = backend.saved_config
    assert saved["mqtt"]["server"] == AWS_SERVER and saved["mqtt"]["enable"] is True
    assert saved["mqtt"]["ssl_key"] == "aws-esp32_F7F2AD.key.pem" and saved["aws"]["thing_name"] == "esp32_F7F2AD"
    out = capsys.readouterr().out
    assert "aws-esp32_F7F2AD.key.pem" in out and "KEYKEY" not in out  # the name, never the key
    assert wait_until(lambda: backend.reboots == 1)


def test_put_credentials_refuses_a_certificate_made_for_another_thing(board, tmp_path: Path) -> None:
    server, backend = board
    device = fake_provisioned(tmp_path, "esp32_000001", AWS_SERVER)
    with pytest.raises(CourseError, match="heter «esp32_F7F2AD», men sertifikatet er laget for «esp32_000001»"):
        board_tools.put_credentials(device, server.path, wait=0)
    assert backend.files == {}


def test_put_credentials_will_not_point_a_real_board_at_localhost(board, tmp_path: Path) -> None:
    server, backend = board  # a DictBackend is no virtual board: it stands for a real one
    device = fake_provisioned(tmp_path, "esp32_F7F2AD", "localhost:8883")
    with pytest.raises(CourseError, match="Et ekte kort kan ikke nå localhost") as caught:
        board_tools.put_credentials(device, server.path, wait=0)
    assert "aws-modus" in caught.value.fix
    assert backend.files == {} and backend.saved_config["mqtt"]["server"] == ""


class MqttBackend(DictBackend):
    """A board that, after rebooting, connects to its mqtt.server and logs the answer it got."""

    def __init__(self, connack: int) -> None:
        super().__init__(mac=MAC)
        self.connack = connack

    def reboot(self) -> None:
        super().reboot()
        self.log(f"[boot] mgos_mqtt.c:435  MQTT connecting to {self.config['mqtt']['server']}")
        self.log(f"[boot] mgos_mqtt.c:185  MQTT CONNACK {self.connack}")


def test_put_credentials_waits_for_the_mqtt_connection(capsys, tmp_path: Path) -> None:
    backend = MqttBackend(connack=0)
    with PtyRpcServer(backend) as server:
        board_tools.put_credentials(fake_provisioned(tmp_path, "esp32_F7F2AD", AWS_SERVER), server.path, wait=5)
    assert f"Kortet er koblet til {AWS_SERVER} med sitt eget sertifikat" in capsys.readouterr().out


def test_put_credentials_reports_a_refused_connection(tmp_path: Path) -> None:
    backend = MqttBackend(connack=5)  # 5: not authorised
    with PtyRpcServer(backend) as server, pytest.raises(CourseError, match=r"nektet kortet å koble til \(CONNACK 5\)"):
        board_tools.put_credentials(fake_provisioned(tmp_path, "esp32_F7F2AD", AWS_SERVER), server.path, wait=5)


def test_put_credentials_on_a_board_that_never_connects(board, tmp_path: Path) -> None:
    server, _ = board
    with pytest.raises(CourseError) as caught:
        board_tools.put_credentials(fake_provisioned(tmp_path, "esp32_F7F2AD", AWS_SERVER), server.path, wait=1.5)
    assert f"koblet seg ikke til {AWS_SERVER} innen 1.5 s" in str(caught.value)
    assert "[boot] Mongoose OS (DictBackend) starting" in str(caught.value)  # what the board did say
    assert "Wi-Fi" in caught.value.fix


@pytest.mark.integration
def test_virtual_board_over_a_pty_gets_wifi_and_certificate_then_connects_with_mutual_tls(sky, capsys) -> None:
    """The whole real-board path against a virtual board: info, Wi-Fi, provisioning, reboot, TLS."""
    from kurs.esp32 import VirtualBoard
    from kurs.esp32.rpc_backend import BoardBackend
    from kurs.provisioning import provision

    board = VirtualBoard("start", seed="test-cli-kort").start()
    try:
        with PtyRpcServer(BoardBackend(board)) as server:
            code, out, _ = run(capsys, "info", "--port", server.path)
            assert code == 0 and f"Dingsnavn:       {board.device_id}" in out and "(et virtuelt kort)" in out
            code, out, _ = run(capsys, "wifi", "Kurs-nett", "hemmelig-passord", "--port", server.path)
            assert code == 0 and "trenger ikke Wi-Fi" in out
            device = provision(board.device_id, verbose=False)
            mark = board.console.mark()
            board_tools.put_credentials(device, server.path, wait=15)
            assert "Kortet er koblet til" in capsys.readouterr().out
            assert board.fs_get(device.key_file.name) == device.key_file.read_bytes()
            tls = re.escape(f"MQTT connecting to {device.endpoint}:{sky.mqtts_port}") + r".*MQTT CONNACK 0"
            assert wait_until(lambda: re.search(tls, board.console.text(since=mark), re.S), timeout=15)
            assert board.connected
            assert board.config_get("mqtt.ssl_cert") == device.cert_file.name
    finally:
        board.close()
