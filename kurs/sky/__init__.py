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

__all__ = ["SkyInfo", "start", "stop", "status", "info", "env", "apply_env", "reset", "user_keys"]


def user_keys(user_name: str = "kurs-deltaker") -> dict[str, str]:
    """Access keys of an IAM user in the local cloud, for showing aws mode without an account."""
    from kurs.sky.iam_keys import user_keys as make

    return make(user_name)


# What apply_env() last put in this process's environment: status() follows a moved cloud only
# while the environment still says exactly that (never one a user or a test changed).
_applied: dict[str, str] = {}
_FOLLOWED_KEYS = ("AWS_ENDPOINT_URL", "KURS_MQTT_HOST", "KURS_MQTT_PORT", "KURS_MQTTS_PORT")


def apply_env(sky: SkyInfo) -> None:
    """Point this process (boto3, the aws CLI it starts, kurs.mqtt) at the local cloud."""
    env = sky.env()
    os.environ.update(env)
    _applied.clear()
    _applied.update({key: env[key] for key in _FOLLOWED_KEYS})
    _reset_boto3_default_session()


def _reset_boto3_default_session() -> None:
    import sys

    boto3 = sys.modules.get("boto3")
    if boto3 is not None:  # a session made before start() would keep old credentials
        boto3.DEFAULT_SESSION = None


def start(*, http_port: int | None = None, mqtt_port: int | None = None, mqtts_port: int | None = None,
          lan: bool = False, quiet: bool = False, room: str | None = None) -> SkyInfo:
    """Start the local cloud in the background, or reuse the running one. Idempotent.

    ``lan=True`` (``kurs sky start --lan``) lets real boards on the same network in: the
    mutual-TLS MQTT port also listens on this machine's network address.

    One start or stop at a time per state folder: a second ``start`` meanwhile waits for the
    first and then reports the cloud it made. Losses (a snapshot that could not be read) are
    printed even when ``quiet``; a TLS port other than 8883 is said loudly unless ``quiet``
    (a notebook's own clients use the real port; ``kurs sky status`` repeats it).
    """
    from kurs.sky import process

    requested = {name: process.validate_port(name, value) for name, value in
                 (("http_port", http_port), ("mqtt_port", mqtt_port), ("mqtts_port", mqtts_port))}
    lock = _hold_start_lock(quiet=quiet)
    try:
        return _start_locked(requested, lan=lan, quiet=quiet, room=room)
    finally:
        lock.release()


def _hold_start_lock(*, quiet: bool):  # noqa: ANN202 - a held kurs.sky.lock.FileLock
    """The state folder's start/stop lock; waits for another start or stop, a Norwegian error if it hangs."""
    from kurs.sky import process

    lock = process.start_lock()
    if not lock.acquire(timeout=0):
        if not quiet:
            print("En annen start eller stopp av den lokale skyen pågår; venter på den …")
        if not lock.acquire(timeout=process.START_LOCK_TIMEOUT_S):
            raise CourseError("En annen «kurs sky start» eller «kurs sky stop» ble ikke ferdig på "
                              f"{process.START_LOCK_TIMEOUT_S:.0f} sekunder.",
                              "Se «kurs sky status» og «kurs sky logg»; prøv igjen om litt.")
    return lock


def _start_locked(requested: dict[str, int | None], *, lan: bool, quiet: bool, room: str | None = None) -> SkyInfo:
    from kurs.sky import credentials, process

    credentials.ensure()  # before the process: it, Lambda functions and every client use them
    current, stale = process.running()
    if current is not None:
        if room and current.room != room:
            raise CourseError("Den lokale skyen kjører allerede, men ikke som rom på denne adressen.",
                              "Stopp den med «kurs sky stop» først; «kurs rom start» gjør det for deg.")
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
    lan_host = None
    if lan:
        from kurs.sky.lan import lan_address

        lan_host = lan_address()
    last = process.last_ports()
    for attempt in range(3):
        ports, notes, warnings = process.choose_ports(requested, last)
        try:
            sky = process.spawn(ports, lan_host=lan_host, room=room)
            break
        except process.PortTaken as taken:
            # Taken between choosing and binding: choose again, unless the learner asked for it.
            if requested.get(taken.name) or attempt == 2:
                raise
            last = {k: v for k, v in last.items() if k != taken.name}
    process.remember_ports(sky)
    apply_env(sky)
    for notice in sky.notices:  # losses are said even when quiet
        print(notice)
    if not quiet:
        for note in [*warnings, *notes]:
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

    lock = _hold_start_lock(quiet=quiet)
    try:
        current, stale = process.running()
        if current is None:
            if stale:
                from kurs.sky.info import state_file

                state_file().unlink(missing_ok=True)
            if not quiet:
                print("Den lokale skyen kjørte ikke." + (" (Ryddet bort en gammel tilstandsfil.)" if stale else ""))
            return False
        killed = process.terminate(current)
    finally:
        lock.release()
    if not quiet:
        print("Den lokale skyen er stoppet." + (" (Den svarte ikke, så den ble tvunget til å stoppe.)"
                                                 if killed else ""))
    return True


def status() -> SkyInfo | None:
    """The running local cloud, or None. A process kurs pointed at an earlier cloud in this state
    folder (a notebook kernel) is re-pointed when a restart had to move the cloud's ports."""
    from kurs.sky import process

    current = process.running()[0]
    if current is not None:
        _follow(current)
    return current


def _follow(current: SkyInfo) -> None:
    if not _applied or any(os.environ.get(key) != value for key, value in _applied.items()):
        return  # kurs did not set this environment (or someone changed it since): leave it alone
    now = {"AWS_ENDPOINT_URL": current.endpoint_url, "KURS_MQTT_HOST": current.host,
           "KURS_MQTT_PORT": str(current.mqtt_port), "KURS_MQTTS_PORT": str(current.mqtts_port)}
    if now == _applied:
        return
    apply_env(current)
    print(f"Den lokale skyen har fått nye porter (AWS-API på {current.http_port}, MQTT på {current.mqtt_port}, "
          f"MQTT+TLS på {current.mqtts_port}); kurs bruker dem nå. En boto3-klient du laget før, må lages på nytt.")


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
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from kurs.sky.credentials import load

    current = info()
    own = load()
    url = f"{current.endpoint_url}/moto-api/reset"
    # /moto-api/* is behind the front door like every AWS API: sign with the cloud's own key.
    signed = AWSRequest(method="POST", url=url, data=b"")
    SigV4Auth(Credentials(own.access_key_id, own.secret_access_key), "moto-api", current.region).add_auth(signed)
    req = urllib.request.Request(url, data=b"", headers=dict(signed.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30):
            pass
    except urllib.error.HTTPError as exc:
        raise CourseError(f"Den lokale skyen ville ikke tømmes (HTTP {exc.code}).",
                          "Se «kurs sky logg»; stopp og start skyen, og prøv igjen.") from None
    except OSError as exc:
        raise CourseError(f"Fikk ikke kontakt med den lokale skyen ({exc}).",
                          "Sjekk «kurs sky status»; start den med «kurs sky start».") from None
    if not quiet:
        print("Den lokale skyen er tømt: ingen dingser, sertifikater, policyer, regler eller skygger.")


def log_path() -> str:
    return str(log_file())
