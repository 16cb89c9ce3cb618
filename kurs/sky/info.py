"""What a running local cloud looks like from outside: ports, files and the environment."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kurs.paths import private_dir

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
HOST = "127.0.0.1"
# moto accepts any credentials; these are obviously fake so nobody mistakes them for real keys.
DUMMY_ACCESS_KEY = "lokal"
DUMMY_SECRET_KEY = "lokal-sky-ikke-hemmelig"


def sky_dir() -> Path:
    return private_dir("sky")


def state_file() -> Path:
    return sky_dir() / "sky.json"


def log_file() -> Path:
    return sky_dir() / "sky.log"


@dataclass(frozen=True)
class SkyInfo:
    pid: int
    http_port: int
    mqtt_port: int
    mqtts_port: int
    ca_file: str
    log_file: str
    host: str = HOST
    region: str = REGION
    account_id: str = ACCOUNT_ID
    broker: str = "kurs"  # our own broker (kurs.sky.broker); amqtt until 2026-12
    # With ``kurs sky start --lan``: this machine's network address, where real boards reach
    # the mutual-TLS MQTT port. None: everything listens on 127.0.0.1 only.
    lan_host: str | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def env(self) -> dict[str, str]:
        """Environment that points boto3, the aws CLI and kurs at this local cloud."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "KURS_MQTT_HOST": self.host,
            "KURS_MQTT_PORT": str(self.mqtt_port),
            "KURS_MQTTS_PORT": str(self.mqtts_port),
            "KURS_CA_FILE": self.ca_file,
        }

    def save(self) -> None:
        state_file().write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls) -> SkyInfo | None:
        try:
            return cls(**json.loads(state_file().read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None
