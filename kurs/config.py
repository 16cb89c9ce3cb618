"""Course settings: which mode we run in (``lokal`` or ``aws``) and where settings live.

Order of precedence: environment variables (``KURS_MODUS``, ``KURS_AWS_KONTO``,
``KURS_AWS_REGION``, ``KURS_AWS_MQTT_PORT``), then ``innstillinger.json`` in the state folder, then defaults.
``lokal`` is the default; ``aws`` is an explicit opt-in (see kurs.aws_mode).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from kurs.errors import CourseError
from kurs.paths import state_dir

MODES = ("lokal", "aws")


@dataclass
class Settings:
    mode: str = "lokal"
    aws_region: str = "eu-west-1"
    aws_account: str | None = None  # the account the learner confirmed for aws mode
    # MQTT port on AWS IoT: 8883, or 443 (with ALPN x-amzn-mqtt-ca) where a network blocks 8883.
    aws_mqtt_port: int = 8883

    def describe(self) -> str:
        if self.mode == "lokal":
            return "Modus: lokal (den lokale skyen på denne maskinen; ingen AWS-konto brukes)"
        return (f"Modus: aws (konto {self.aws_account or 'ikke bekreftet'}, region {self.aws_region}). "
                "Tilbake til den lokale skyen: kurs.aws_mode.use_local()")


def settings_file() -> Path:
    return state_dir() / "innstillinger.json"


def load() -> Settings:
    data: dict = {}
    try:
        data = json.loads(settings_file().read_text())
    except FileNotFoundError:
        pass
    except ValueError as exc:
        raise CourseError(f"Innstillingsfila {settings_file()} er ikke gyldig JSON ({exc}).",
                          "Rett fila, eller slett den for å gå tilbake til standardinnstillingene.") from exc
    settings = Settings(**{k: v for k, v in data.items() if k in Settings.__dataclass_fields__})
    settings.mode = os.environ.get("KURS_MODUS", settings.mode)
    settings.aws_region = os.environ.get("KURS_AWS_REGION", settings.aws_region)
    settings.aws_account = os.environ.get("KURS_AWS_KONTO", settings.aws_account)
    try:
        settings.aws_mqtt_port = int(os.environ.get("KURS_AWS_MQTT_PORT", settings.aws_mqtt_port))
    except ValueError:
        raise CourseError("KURS_AWS_MQTT_PORT må være et portnummer.", "Bruk 8883 eller 443.") from None
    if settings.aws_mqtt_port not in (8883, 443):
        raise CourseError(f"AWS IoT tar imot MQTT på port 8883 og 443, ikke {settings.aws_mqtt_port}.",
                          "Bruk 8883, eller 443 der nettverket stenger 8883.")
    if settings.mode not in MODES:
        raise CourseError(f"Ukjent modus {settings.mode!r}.", "Bruk «lokal» eller «aws».")
    return settings


def save(settings: Settings) -> Path:
    path = settings_file()
    path.write_text(json.dumps(asdict(settings), indent=2, ensure_ascii=False))
    return path
