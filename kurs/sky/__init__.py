"""The local cloud ("lokal sky"): a stand-in for AWS IoT Core on this machine.

    import kurs
    sky = kurs.sky.start()     # starts it, or reuses the one already running
    kurs.sky.status()
    kurs.sky.stop()

``start()`` also points this process's boto3 at it (``AWS_ENDPOINT_URL`` and friends), so
``boto3.client("iot")`` talks to the local cloud. In a terminal: ``eval "$(kurs sky env)"``.
"""

from __future__ import annotations

import os

from kurs.errors import CourseError
from kurs.sky.info import SkyInfo, log_file

__all__ = ["SkyInfo", "start", "stop", "status", "info", "env", "apply_env", "reset"]


def apply_env(sky: SkyInfo) -> None:
    """Point this process (boto3, the aws CLI it starts, kurs.mqtt) at the local cloud."""
    os.environ.update(sky.env())
    _reset_boto3_default_session()


def _reset_boto3_default_session() -> None:
    import sys

    boto3 = sys.modules.get("boto3")
    if boto3 is not None:  # a session made before start() would keep old credentials
        boto3.DEFAULT_SESSION = None


def start(*, http_port: int | None = None, mqtt_port: int | None = None, mqtts_port: int | None = None,
          lan: bool = False, quiet: bool = False) -> SkyInfo:
    """Start the local cloud in the background, or reuse the running one. Idempotent.

    ``lan=True`` (``kurs sky start --lan``) lets real boards on the same network in: the
    mutual-TLS MQTT port also listens on this machine's network address.
    """
    from kurs.sky import process

    current, stale = process.running()
    if current is not None:
        if lan and not current.lan_host:
            raise CourseError("Den lokale skyen kjører allerede, men bare for denne maskinen (uten --lan).",
                              "Stopp den med «kurs sky stop» og start den igjen med «kurs sky start --lan». "
                              "Det den har lagret, er der fortsatt.")
        if not quiet:
            print(f"Den lokale skyen kjører allerede (MQTT på port {current.mqtt_port}, "
                  f"MQTT+TLS på {current.mqtts_port}, AWS-API på {current.http_port}).")
        apply_env(current)
        return current
    if stale and not quiet:
        print("Fant spor etter en lokal sky som ikke kjører lenger (kanskje stoppet brått); rydder opp.")
    ports, notes = process.choose_ports({"http_port": http_port, "mqtt_port": mqtt_port,
                                         "mqtts_port": mqtts_port})
    lan_host = None
    if lan:
        from kurs.sky.lan import lan_address

        lan_host = lan_address()
    sky = process.spawn(ports, lan_host=lan_host)
    apply_env(sky)
    if not quiet:
        for note in notes:
            print(note)
        print(f"Den lokale skyen er startet (MQTT på port {sky.mqtt_port}, MQTT+TLS på {sky.mqtts_port}, "
              f"AWS-API på {sky.http_port}). Loggen ligger i {sky.log_file}")
        if sky.lan_host:
            print(f"Ekte kort på samme nett når den på {sky.lan_host}:{sky.mqtts_port} (bare med et sertifikat "
                  "skyen kjenner). Spør brannmuren om du vil tillate innkommende tilkoblinger, svarer du ja.")
    return sky


def stop(*, quiet: bool = False) -> bool:
    """Stop the local cloud if it runs. Returns True if one was stopped."""
    from kurs.sky import process

    current, stale = process.running()
    if current is None:
        if stale:
            from kurs.sky.info import state_file

            state_file().unlink(missing_ok=True)
        if not quiet:
            print("Den lokale skyen kjørte ikke." + (" (Ryddet bort en gammel tilstandsfil.)" if stale else ""))
        return False
    killed = process.terminate(current)
    if not quiet:
        print("Den lokale skyen er stoppet." + (" (Den svarte ikke, så den ble tvunget til å stoppe.)"
                                                 if killed else ""))
    return True


def status() -> SkyInfo | None:
    """The running local cloud, or None."""
    from kurs.sky import process

    return process.running()[0]


def info() -> SkyInfo:
    """The running local cloud; a Norwegian error saying how to start it if none runs."""
    current = status()
    if current is None:
        raise CourseError("Den lokale skyen kjører ikke.",
                          "Start den med kurs.sky.start() i notatboka, eller «kurs sky start» i en terminal.")
    return current


def env() -> dict[str, str]:
    """The environment variables that point boto3, the aws CLI and kurs at the local cloud."""
    return info().env()


def reset(*, quiet: bool = False) -> None:
    """Empty the running local cloud (things, certificates, policies, rules, shadows) in place.

    Connected boards stay connected over plain TCP; those using a certificate lose it. The saved
    snapshot goes too (kurs.sky.persistence), so the next start is empty as well.
    """
    import urllib.request

    current = info()
    req = urllib.request.Request(f"{current.endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=30):
        pass
    if not quiet:
        print("Den lokale skyen er tømt: ingen dingser, sertifikater, policyer, regler eller skygger.")


def log_path() -> str:
    return str(log_file())
