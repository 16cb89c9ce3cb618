"""The local cloud's own certificate authority and the broker's server certificate.

Kept across restarts (under the private state folder) so boards configured once keep
trusting the broker, the way a real board keeps Amazon's root CA.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kurs.paths import write_private

SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kurs lokal sky"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _server_hosts(cert: x509.Certificate) -> set[str]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} | set(sans.get_values_for_type(x509.DNSName))


def ensure_tls_files(folder: Path, lan_hosts: tuple[str, ...] = ()) -> TlsFiles:
    """The CA and a server certificate for localhost/127.0.0.1 and ``lan_hosts``, made if missing.

    The CA is made once and kept, so boards configured once keep trusting the broker; the server
    certificate is issued again (by the same CA) when it does not name a wanted address, e.g.
    after the laptop moved to another network.
    """
    files = TlsFiles(folder / "ca.pem", folder / "server.crt.pem", folder / "server.key.pem")
    ca_key_file = folder / "ca.key.pem"
    wanted = set(SERVER_NAMES) | set(SERVER_IPS) | set(lan_hosts)
    if all(p.exists() for p in (files.ca_file, files.cert_file, files.key_file)):
        current = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        if wanted <= _server_hosts(current) or not ca_key_file.exists():
            return files
        ca_cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    else:
        ca_cert, ca_key = _new_ca()
        folder.mkdir(parents=True, exist_ok=True)
        write_private(ca_key_file, _key_pem(ca_key))
        files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_key, server_cert = _server_certificate(ca_cert, ca_key, lan_hosts)
    write_private(files.key_file, _key_pem(server_key))
    files.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    return files


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kurs lokal sky CA"))
        .issuer_name(_name("kurs lokal sky CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_cert, ca_key


def _server_certificate(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                        lan_hosts: tuple[str, ...]) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    server_key = ec.generate_private_key(ec.SECP256R1())
    ips = [*SERVER_IPS, *lan_hosts]
    # A LAN address is also named as a DNS name: Mongoose OS's mbedTLS matches the host in
    # mqtt.server against DNS names only, while Python's ssl matches an IP against IP entries.
    sans = ([x509.DNSName(n) for n in (*SERVER_NAMES, *lan_hosts)]
            + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips])
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return server_key, server_cert
