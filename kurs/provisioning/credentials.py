"""A device's credentials on this machine: the private key (made here, never sent anywhere),
the certificate AWS IoT issued for it, the CA that signs the broker, and a small record.

Layout, all private (folders 0700, files 0600), under the git-ignored state folder::

    .kurs/credentials/<target>/<thing>/aws-<thing>.key.pem   private key (ECDSA P-256)
                                       aws-<thing>.crt.pem   certificate
                                       kurs-ca.pem           the broker's root CA
                                       provisioning.json     certificate id/ARN, endpoint, port

``<target>`` is ``lokal`` for the local cloud and ``aws-<account>-<region>`` for AWS, so the
two never overwrite each other's certificates. File names follow ``mos aws-iot-setup``
(``aws-<CN, at most 16 characters>.crt.pem`` / ``.key.pem``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.paths import private_dir, write_private

# The broker's CA in a file of its own, named by mqtt.ssl_ca_cert. Never "ca.pem": on a real
# board that is the ca-bundle library's multi-root bundle (mos aws-iot-setup only points
# mqtt.ssl_ca_cert at it and never uploads it), and overwriting it breaks every other TLS use.
CA_FILE_NAME = "kurs-ca.pem"
RECORD_FILE_NAME = "provisioning.json"


def target_name(mode: str, account: str, region: str) -> str:
    return "lokal" if mode == "lokal" else f"aws-{account}-{region}"


def credentials_root(target: str | None = None) -> Path:
    return private_dir("credentials", target) if target else private_dir("credentials")


@dataclass(frozen=True)
class DeviceFiles:
    """Where one thing's credentials live on this machine."""

    folder: Path
    thing_name: str

    @classmethod
    def for_thing(cls, target: str, thing_name: str) -> DeviceFiles:
        return cls(private_dir("credentials", target, thing_name), thing_name)

    @property
    def cert_name(self) -> str:
        return f"aws-{self.thing_name[:16]}.crt.pem"

    @property
    def key_name(self) -> str:
        return f"aws-{self.thing_name[:16]}.key.pem"

    @property
    def cert_file(self) -> Path:
        return self.folder / self.cert_name

    @property
    def key_file(self) -> Path:
        return self.folder / self.key_name

    @property
    def ca_file(self) -> Path:
        return self.folder / CA_FILE_NAME

    @property
    def record_file(self) -> Path:
        return self.folder / RECORD_FILE_NAME

    def record(self) -> dict[str, Any]:
        try:
            data = json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_record(self, **values: Any) -> None:
        write_private(self.record_file, json.dumps({**self.record(), **values}, indent=2))

    def copy_to(self, fs_dir: Path) -> list[Path]:
        """Put certificate, key and CA into a (virtual) board's file system folder, key 0600."""
        fs_dir.mkdir(parents=True, exist_ok=True)
        copied = []
        for source in (self.cert_file, self.key_file, self.ca_file):
            copied.append(write_private(fs_dir / source.name, source.read_bytes()))
        return copied


def new_key_and_csr(common_name: str) -> tuple[bytes, str]:
    """A fresh ECDSA P-256 private key (PEM) and a CSR for it with CN=common_name.

    ECDSA P-256, like ``mos`` picks for the ESP32: AWS IoT accepts it, and the handshake is
    far cheaper for a microcontroller than RSA-2048.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
           .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def key_matches_certificate(key_file: Path, certificate_pem: str) -> bool:
    """Does the private key on disk belong to this certificate?"""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except (OSError, ValueError, TypeError):
        return False
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*fmt) == cert.public_key().public_bytes(*fmt)


def remove_all(target: str | None = None) -> list[Path]:
    """Delete the local credential folders (of one target, or all). Returns what was removed."""
    root = credentials_root(target)
    removed = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        shutil.rmtree(folder)
        removed.append(folder)
    return removed
