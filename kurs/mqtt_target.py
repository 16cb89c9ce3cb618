"""Where an MQTT client connects, and as whom, in each mode.

- ``lokal``: the running local cloud; plain TCP, or mutual TLS on "localhost" (the name its
  broker's certificate carries) with the local CA.
- ``aws`` (kurs.config), when no ``host`` is given: the confirmed account's ATS endpoint over
  mutual TLS on the port from the settings (8883, or 443 with ALPN ``x-amzn-mqtt-ca``), Amazon Root
  CA 1, and, unless a device's certificate is given, the notebook's own identity ``kurs-notatbok``
  (kurs.provisioning.notebook).

Exercise checks ask for ``mode="lokal"``: their boards always run in the local cloud.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from kurs.mqtt_client import Target

_announced: set[tuple[str, int, str | None]] = set()

LOCAL_UNREACHABLE = "Kjører den lokale skyen? Start den med kurs.sky.start()."
LOCAL_REFUSED = ("Sjekk at sertifikatet er registrert og aktivt (ACTIVE), og at policyen tillater iot:Connect "
                 "med denne klient-ID-en. Loggen til den lokale skyen sier mer: kurs sky logg.")
AWS_UNREACHABLE = "Sjekk nettverket. Stenger nettverket port 8883, bruk 443: KURS_AWS_MQTT_PORT=443."
AWS_REFUSED = ("Sjekk at sertifikatet er registrert og aktivt (ACTIVE), og at policyen tillater iot:Connect "
               "med denne klient-ID-en. kurs.provisioning.verify(<ting>) finner de vanligste feilene.")


def resolve(client_id: str | None = None, *, mode: str | None = None, host: str | None = None,
            port: int | None = None, tls: bool = False, cert_file: str | os.PathLike | None = None,
            key_file: str | os.PathLike | None = None, ca_file: str | os.PathLike | None = None,
            alpn: str | None = None) -> Target:
    """The target for these arguments. ``mode`` None: the mode in the settings; a ``host`` always wins."""
    if host is None and _mode(mode) == "aws":
        return _aws(client_id, port, cert_file, key_file, ca_file, alpn)
    return _local(client_id, host, port, tls, cert_file, key_file, ca_file, alpn)


def _mode(mode: str | None) -> str:
    if mode is not None:
        return mode
    from kurs import config

    return config.load().mode


def _new_client_id() -> str:
    return f"kurs-{uuid.uuid4().hex[:8]}"


def _sky_defaults() -> tuple[str, int, int, str | None]:
    from kurs import sky

    sky.status()  # re-points an environment kurs set, when a restart moved the cloud's ports
    host = os.environ.get("KURS_MQTT_HOST")
    if host:
        return (host, int(os.environ["KURS_MQTT_PORT"]), int(os.environ["KURS_MQTTS_PORT"]),
                os.environ.get("KURS_CA_FILE"))
    info = sky.info()
    return info.host, info.mqtt_port, info.mqtts_port, info.ca_file


def _local(client_id: str | None, host: str | None, port: int | None, tls: bool, cert_file: Any,
           key_file: Any, ca_file: Any, alpn: str | None) -> Target:
    if host is None or port is None or (tls and ca_file is None):
        d_host, d_port, d_tls_port, d_ca = _sky_defaults()
        if host is None:
            host = "localhost" if tls else d_host  # the broker's certificate names "localhost"
        port = port or (d_tls_port if tls else d_port)
        ca_file = ca_file or d_ca
    return Target(host=host, port=port, client_id=client_id or _new_client_id(), tls=tls,
                  cert_file=cert_file, key_file=key_file, ca_file=ca_file, alpn=alpn,
                  unreachable_fix=LOCAL_UNREACHABLE, refused_fix=LOCAL_REFUSED)


def _local_cloud_behind_aws() -> Any:
    """The running local cloud if aws mode's calls go to it (AWS_ENDPOINT_URL), else None."""
    url = (os.environ.get("AWS_ENDPOINT_URL_IOT") or os.environ.get("AWS_ENDPOINT_URL") or "").rstrip("/")
    if not url:
        return None
    from kurs import sky

    current = sky.status()
    return current if current is not None and current.endpoint_url == url else None


def _aws_broker(settings: Any) -> tuple[str, int, str, str | None]:
    """(host, port, CA file, ALPN) of AWS IoT for the confirmed account. Sends nothing before the opt-in."""
    from kurs import aws_mode
    from kurs.provisioning import endpoint

    aws_mode.require_confirmation(settings)
    host = aws_mode._ats_endpoint(settings)
    port = settings.aws_mqtt_port
    alpn = endpoint.AWS_ALPN if port == 443 else None
    endpoint.amazon_root_ca()  # refuses a file that is not Amazon Root CA 1
    local = _local_cloud_behind_aws()
    if local is not None:
        # The one difference when aws mode is tested against the local cloud: its broker
        # listens on its own TLS port with a certificate from its own CA.
        return host, local.mqtts_port, local.ca_file, alpn
    return host, port, str(endpoint.AWS_ROOT_CA_FILE), alpn


def _aws(client_id: str | None, port: int | None, cert_file: Any, key_file: Any, ca_file: Any,
         alpn: str | None) -> Target:
    from kurs import aws_mode, config
    from kurs.provisioning import notebook

    settings = config.load()
    host, d_port, d_ca, d_alpn = _aws_broker(settings)
    if cert_file is None and key_file is None:  # the notebook itself, not a device
        client_id = notebook.check_client_id(client_id) if client_id else notebook.new_client_id()
        identity = notebook.identity(settings)
        cert_file, key_file = identity.cert_file, identity.key_file
        where = (host, port or d_port, alpn or d_alpn)
        if where not in _announced:
            _announced.add(where)
            print(f"MQTT i aws-modus: notatboka kobler til {host}:{where[1]}"
                  + (f" (ALPN {where[2]})" if where[2] else "")
                  + f" som «{notebook.THING}» (eget sertifikat og egen policy; se "
                  "kurs.provisioning.notebook.explain()).")
    return Target(host=host, port=port or d_port, client_id=client_id or _new_client_id(), tls=True,
                  cert_file=cert_file, key_file=key_file, ca_file=ca_file or d_ca, alpn=alpn or d_alpn,
                  unreachable_fix=f"{AWS_UNREACHABLE}\n{aws_mode.way_back()}",
                  refused_fix=f"{AWS_REFUSED}\n{aws_mode.way_back()}")
