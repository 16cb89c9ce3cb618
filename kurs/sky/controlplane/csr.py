"""CreateCertificateFromCsr as AWS does it: a certificate for the CSR's own key and subject."""

from __future__ import annotations

import functools


@functools.cache
def _issuer_key():  # noqa: ANN202 - one signing key per cloud process
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def certificate_for_csr(csr_pem: str) -> str:
    """A certificate for the CSR's subject and public key, from the local cloud's own issuer."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    request = x509.load_pem_x509_csr(csr_pem.encode())
    if not request.is_signature_valid:
        raise ValueError("bad CSR signature")
    now = datetime.datetime.now(datetime.UTC)
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kurs"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Lokal sky sertifikatutsteder")])
    cert = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(issuer)
            .public_key(request.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.UTC))  # as AWS IoT's
            .sign(_issuer_key(), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()
