"""The control plane: a real moto server, plus the few places where it must agree with the
broker (certificates, the ATS endpoint) and hand the data plane to our own services."""

from __future__ import annotations

import errno
import hashlib
import logging
import ssl
import threading
from collections.abc import Callable
from typing import Any

from kurs.sky.broker.identity import Principal
from kurs.sky.info import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)

# describe_endpoint: moto invents a random *.amazonaws.com host on every call. Locally the
# broker is on this machine, and our TLS server certificate is issued for "localhost".
LOCAL_ENDPOINT = "localhost"


def iot_backend() -> Any:
    from moto.iot.models import iot_backends

    return iot_backends[ACCOUNT_ID][REGION]


class MotoServer:
    """moto in server mode on loopback, in this process (so our services can read its state).

    Built from moto's own WSGI app and request handler rather than ``ThreadedMotoServer``: that
    one binds inside its thread and, when the port is taken, never signals, so a start would
    hang. Here the port is bound in ``__init__`` (an ``OSError`` at once), and ``guard`` wraps
    moto's app (the front door: kurs.sky.frontdoor).
    """

    def __init__(self, host: str, port: int, guard: Callable[[Any], Any] | None = None) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from kurs.sky import moto_patches

        moto_patches.registry(LOCAL_ENDPOINT)
        app: Any = DomainDispatcherApplication(create_backend_app)
        if guard is not None:
            app = guard(app)
        self.app = app  # a room serves the same guarded app over HTTPS on its address (kurs.room)
        try:
            self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        except SystemExit:  # werkzeug prints the bind error and exits; the caller needs to know why
            raise OSError(errno.EADDRINUSE, f"port {port} is in use") from None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class CertificateRegistry:
    """Answers the broker's questions about client certificates from moto's IoT registry."""

    def __init__(self, own_ca_file: str, cert_file: str, key_file: str) -> None:
        self._lock = threading.Lock()
        self._trusted: set[str] = set()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert_file, key_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
        # Device certificates from CreateKeysAndCertificate are signed by AWS's (here moto's)
        # issuer, which we do not have. Like AWS we trust the registered certificate itself:
        # each one is a trust anchor (partial chain). ACTIVE is checked after the handshake.
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        ctx.load_verify_locations(cafile=own_ca_file)
        ctx.set_alpn_protocols(["x-amzn-mqtt-ca", "mqtt"])
        # Called on every ClientHello, before the client's certificate is verified: the moment
        # to trust certificates registered since the last connection.
        ctx.sni_callback = lambda sslobj, server_name, context: self.refresh()
        self.context = ctx

    def refresh(self) -> None:
        """Add newly registered certificates to the trust store (never removes: see identify)."""
        certs = iot_backend().certificates
        with self._lock:
            for cert_id, cert in list(certs.items()):
                if cert_id in self._trusted:
                    continue
                self._trusted.add(cert_id)
                try:
                    self.context.load_verify_locations(cadata=cert.certificate_pem)
                except (ssl.SSLError, ValueError):
                    log.warning("Hopper over et registrert sertifikat som ikke kan leses (%s)", cert_id[:12])

    def identify(self, der: bytes) -> Principal | None:
        """The principal for a client certificate, or None unless registered and ACTIVE."""
        cert_id = hashlib.sha256(der).hexdigest()
        cert = iot_backend().certificates.get(cert_id)
        if cert is None or cert.status != "ACTIVE":
            return None
        return Principal(certificate_id=cert_id, certificate_arn=cert.arn)

    def is_active(self, principal: Principal) -> bool:
        """Is the certificate bound to a connection still registered and ACTIVE? (Checked at every
        CONNECT and every few seconds: AWS drops the connections of a deactivated certificate.)"""
        cert = iot_backend().certificates.get(principal.certificate_id)
        return cert is not None and cert.status == "ACTIVE"
