"""Real boards and the local cloud: ``kurs sky start --lan`` puts the mutual-TLS MQTT port on the
network (and nothing else), and a board that is not virtual is given that address."""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from kurs.errors import CourseError
from kurs.sky import ca

# --- the broker's certificate ---------------------------------------------------------------


def _names(cert_file: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(sans.get_values_for_type(x509.DNSName)), {str(i) for i in sans.get_values_for_type(x509.IPAddress)}


def test_a_network_address_gets_a_new_server_certificate_from_the_same_ca(tmp_path):
    first = ca.ensure_tls_files(tmp_path)
    ca_pem, server_pem = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    assert ca.ensure_tls_files(tmp_path).cert_file.read_bytes() == server_pem, "nothing new asked: nothing new made"

    again = ca.ensure_tls_files(tmp_path, ("192.0.2.77",))
    assert again.ca_file.read_bytes() == ca_pem, "boards configured before must keep trusting the broker"
    assert again.cert_file.read_bytes() != server_pem
    dns, ips = _names(again.cert_file)
    # Python's ssl checks the IP entry; Mongoose OS's mbedTLS only compares DNS names.
    assert {"192.0.2.77", "127.0.0.1"} <= ips and {"192.0.2.77", "localhost"} <= dns
    issuer = x509.load_pem_x509_certificate(ca_pem)
    x509.load_pem_x509_certificate(again.cert_file.read_bytes()).verify_directly_issued_by(issuer)


# --- a cloud on the network -----------------------------------------------------------------

@pytest.fixture
def lan_cloud(own_cloud_home):  # noqa: ANN001 - fixture
    """A local cloud started with lan=True in its own KURS_HOME."""
    from kurs import sky
    from kurs.sky.lan import lan_address
    from kurs.sky.process import free_port, terminate

    try:
        address = lan_address()
    except CourseError:
        pytest.skip("this machine has no network address besides loopback")
    info = sky.start(http_port=free_port(), mqtt_port=free_port(), mqtts_port=free_port(), lan=True, quiet=True)
    yield info, address
    terminate(info)


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.integration
def test_only_mutual_tls_mqtt_is_on_the_network(lan_cloud, capsys):
    info, address = lan_cloud
    assert info.lan_host == address
    assert _reachable(address, info.mqtts_port)
    assert not _reachable(address, info.mqtt_port), "plain MQTT has no certificates: it stays on this machine"
    assert not _reachable(address, info.http_port), "the AWS API takes any credentials: it stays on this machine"

    from kurs.cli import main

    assert main(["sky", "status"]) == 0
    assert f"For ekte kort:     {address}:{info.mqtts_port}" in capsys.readouterr().out


@pytest.mark.integration
def test_a_client_without_a_certificate_gets_no_connack_on_the_network(lan_cloud):
    info, address = lan_cloud
    context = ssl.create_default_context(cafile=info.ca_file)  # the broker's name is checked: the address
    connect = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04anon"
    try:
        with socket.create_connection((address, info.mqtts_port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=address) as tls:
                tls.sendall(connect)
                answer = tls.recv(4)
    except (ssl.SSLError, ConnectionError):
        answer = b""
    assert answer == b"", "a network client with no certificate got a CONNACK"


@pytest.mark.integration
def test_asking_for_the_network_while_a_local_only_cloud_runs_says_what_to_do(own_cloud_home):
    from kurs import sky
    from kurs.sky.process import free_port, terminate

    info = sky.start(http_port=free_port(), mqtt_port=free_port(), mqtts_port=free_port(), quiet=True)
    try:
        with pytest.raises(CourseError, match="uten --lan") as caught:
            sky.start(lan=True, quiet=True)
        assert "kurs sky start --lan" in caught.value.fix
    finally:
        terminate(info)


@pytest.mark.integration
def test_a_real_board_is_given_the_network_address_and_connects_over_it(lan_cloud, capsys):
    """A board that does not say it is virtual (as a real one) gets <network address>:<TLS port>
    instead of localhost, and connects there with its own certificate, its name checked by TLS."""
    from kurs import board_tools
    from kurs.esp32 import VirtualBoard
    from kurs.esp32.rpc_backend import BoardBackend
    from kurs.esp32.rpc_server import PtyRpcServer
    from kurs.provisioning import provision

    info, address = lan_cloud

    class RealLookingBoard(BoardBackend):
        def get_info(self) -> dict:
            details = super().get_info()
            details.pop("virtual", None)
            return details

    board = VirtualBoard("start", seed="test-lan").start()
    try:
        with PtyRpcServer(RealLookingBoard(board)) as server:
            device = provision(board.device_id, verbose=False)
            assert device.device_config["mqtt.server"].startswith("localhost:")
            mark = board.console.mark()
            board_tools.put_credentials(device, server.path, wait=15)
            assert f"Kortet er koblet til {address}:{info.mqtts_port}" in capsys.readouterr().out
            assert board.config_get("mqtt.server") == f"{address}:{info.mqtts_port}"
            connected = re.escape(f"MQTT connecting to {address}:{info.mqtts_port}") + r".*MQTT CONNACK 0"
            assert re.search(connected, board.console.text(since=mark), re.S)
            assert board.connected
    finally:
        board.close()
