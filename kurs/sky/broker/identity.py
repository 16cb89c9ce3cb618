"""Who is behind a connection: the certificate a TLS client presented at the handshake."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The control plane's certificate, bound to a TLS connection at the handshake."""

    certificate_id: str
    certificate_arn: str
