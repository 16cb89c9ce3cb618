"""What a running local cloud looks like from outside: ports, files and the environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from kurs.paths import private_dir

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
HOST = "127.0.0.1"
# The AWS API only answers requests signed with this cloud's own credentials: kurs.sky.credentials.


def sky_dir() -> Path:
    return private_dir("sky")


def state_file() -> Path:
    return sky_dir() / "sky.json"


def log_file() -> Path:
    return sky_dir() / "sky.log"


def start_error_file() -> Path:
    """Written by a cloud process that could not start (which port was taken), read by spawn()."""
    return sky_dir() / "startfeil.json"


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
    # With ``kurs rom start``: the room's address, where learners reach the AWS API (HTTPS) and
    # MQTT with TLS (kurs.room). None: no room.
    room: str | None = None
    # What the learner must hear from the start that made this cloud (e.g. a snapshot that could
    # not be read), in Norwegian; kurs.sky.start() prints them.
    notices: tuple[str, ...] = ()

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def env(self) -> dict[str, str]:
        """Environment that points boto3, the aws CLI and kurs at this local cloud (its own credentials)."""
        from kurs.sky.credentials import load

        credentials = load()
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "KURS_MQTT_HOST": self.host,
            "KURS_MQTT_PORT": str(self.mqtt_port),
            "KURS_MQTTS_PORT": str(self.mqtts_port),
            "KURS_CA_FILE": self.ca_file,
        }

    def save(self) -> None:
        # Atomically: a concurrent reader sees the old file or the whole new one, never half.
        tmp = state_file().with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, state_file())

    @classmethod
    def load(cls) -> SkyInfo | None:
        try:
            data = json.loads(state_file().read_text())
            data["notices"] = tuple(data.get("notices") or ())
            return cls(**data)
        except (OSError, ValueError, TypeError, AttributeError):
            return None
