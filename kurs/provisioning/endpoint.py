"""Where a device connects: the account's ATS endpoint, the MQTT port, and the CA to trust.

| mode  | host                                      | port                  | CA                          |
|-------|-------------------------------------------|-----------------------|-----------------------------|
| lokal | ``describe_endpoint`` → ``localhost``     | the local cloud's TLS | the local cloud's own CA    |
| aws   | ``describe_endpoint`` → ``…-ats.iot.<region>.amazonaws.com`` | 8883, or 443 + ALPN ``x-amzn-mqtt-ca`` | Amazon Root CA 1 |
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.errors import CourseError

# ALPN protocol name AWS IoT needs to speak MQTT (with a client certificate) on port 443.
AWS_ALPN = "x-amzn-mqtt-ca"
AWS_ROOT_CA_FILE = Path(__file__).resolve().parent.parent / "data" / "AmazonRootCA1.pem"
# SHA-256 of Amazon Root CA 1's SubjectPublicKeyInfo, as Amazon Trust Services publishes it
# (amazontrust.com/repository); the certificate's own SHA-256 fingerprint is below.
AWS_ROOT_CA_SPKI_SHA256 = "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2"
AWS_ROOT_CA_SHA256 = "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    ca_pem: bytes
    alpn: str | None = None

    @property
    def server(self) -> str:
        """``mqtt.server`` as Mongoose OS wants it."""
        return f"{self.host}:{self.port}"


def amazon_root_ca() -> bytes:
    """Amazon Root CA 1 (PEM), checked against the public-key hash Amazon publishes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = AWS_ROOT_CA_FILE.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    if hashlib.sha256(spki).hexdigest() != AWS_ROOT_CA_SPKI_SHA256:
        raise CourseError(f"Rotsertifikatet i {AWS_ROOT_CA_FILE} er ikke Amazon Root CA 1.",
                          "Installer kurs-pakken på nytt; fila skal ikke endres.")
    return pem


def resolve(iot: Any, settings: Any) -> Endpoint:
    """The endpoint for the current mode (``iot`` is a boto3 IoT client for that mode)."""
    host = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    if settings.mode == "lokal":
        from kurs import sky

        info = sky.info()
        return Endpoint(host=host, port=info.mqtts_port, ca_pem=Path(info.ca_file).read_bytes())
    port = settings.aws_mqtt_port
    return Endpoint(host=host, port=port, ca_pem=amazon_root_ca(), alpn=AWS_ALPN if port == 443 else None)
