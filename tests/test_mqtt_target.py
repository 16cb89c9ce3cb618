"""kurs.mqtt is a mode-free client (kurs.mqtt_client) plus a resolver (kurs.mqtt_target) that decides
where to connect and as whom in each mode."""

from __future__ import annotations

import ast
import subprocess
import sys

from kurs import mqtt_target
from kurs.paths import REPO_DIR


def _imports(module_file: str) -> set[str]:
    tree = ast.parse((REPO_DIR / module_file).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_client_knows_nothing_of_modes():
    imported = _imports("kurs/mqtt_client.py")
    assert not {m for m in imported if m.startswith(("kurs.config", "kurs.aws_mode", "kurs.provisioning",
                                                     "kurs.sky", "kurs.mqtt_target"))}, imported


def test_provisioning_no_longer_imports_the_mode_resolving_facade():
    # The old cycle: kurs.mqtt imported kurs.provisioning, and provisioning imported kurs.mqtt.
    code = ("import sys, kurs.provisioning.setup as s; "
            "print('kurs.mqtt' in sys.modules, 'kurs.mqtt_target' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO_DIR)
    assert out.stdout.split() == ["False", "False"], out.stderr
    assert "kurs.mqtt" not in _imports("kurs/provisioning/setup.py")


def test_lokal_is_the_local_cloud_even_when_the_settings_say_aws(monkeypatch, tmp_path):
    # A state folder with no running cloud: a running one's own info would come first.
    monkeypatch.setenv("KURS_HOME", str(tmp_path))
    monkeypatch.setenv("KURS_MODUS", "aws")  # no keys, no confirmation: aws would refuse
    monkeypatch.setenv("KURS_MQTT_HOST", "127.0.0.1")
    monkeypatch.setenv("KURS_MQTT_PORT", "18830")
    monkeypatch.setenv("KURS_MQTTS_PORT", "18831")
    monkeypatch.setenv("KURS_CA_FILE", "/tmp/ca.pem")
    plain = mqtt_target.resolve("sjekk", mode="lokal")
    assert (plain.host, plain.port, plain.tls, plain.client_id) == ("127.0.0.1", 18830, False, "sjekk")
    tls = mqtt_target.resolve(mode="lokal", tls=True, cert_file="c", key_file="k")
    assert (tls.host, tls.port, str(tls.ca_file)) == ("localhost", 18831, "/tmp/ca.pem")
    assert "kurs.sky.start()" in plain.unreachable_fix


def test_a_given_host_wins_over_the_mode(monkeypatch):
    monkeypatch.setenv("KURS_MODUS", "aws")
    target = mqtt_target.resolve("esp32_ABC", host="broker.example", port=8883, tls=True,
                                 cert_file="c", key_file="k", ca_file="ca")
    assert (target.host, target.port, target.client_id) == ("broker.example", 8883, "esp32_ABC")
