"""``kurs sky start|status|stop|env|logg``: the local cloud from a terminal."""

from __future__ import annotations

import argparse
import shlex


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sky", help="start, stopp og se status for den lokale skyen",
                       description="Den lokale skyen er en erstatning for AWS IoT Core på denne maskinen. Den tar vare "
                                   "på det den har tatt imot (dingser, sertifikater, skygger, regler, Lambda, "
                                   "DynamoDB) når den stoppes og startes igjen; «kurs sky reset» tømmer alt.")
    actions = p.add_subparsers(dest="handling", title="handlinger", metavar="HANDLING")

    start = actions.add_parser("start", help="start den lokale skyen (eller bruk den som kjører)")
    start.add_argument("--http-port", type=_port("http_port"), metavar="PORT",
                       help="port for AWS-API-et (moto); standard: samme som sist, ellers 5055 (0: velg en ledig)")
    start.add_argument("--mqtt-port", type=_port("mqtt_port"), metavar="PORT",
                       help="port for MQTT uten kryptering; standard: samme som sist, ellers 1883")
    start.add_argument("--mqtts-port", type=_port("mqtts_port"), metavar="PORT",
                       help="port for MQTT med gjensidig TLS; standard 8883 (den AWS-klienter forventer)")
    start.add_argument("--lan", action="store_true",
                       help="slipp inn ekte kort på samme nett: MQTT med gjensidig TLS lytter også på maskinens "
                            "nettverksadresse (AWS-API-et og MQTT uten TLS blir på denne maskinen)")
    start.set_defaults(func=_norwegian_os_errors(_start))

    for name, func, text in (
        ("status", _status, "vis om den lokale skyen kjører, og på hvilke porter"),
        ("stop", _stop, "stopp den lokale skyen; alt den har lagret, er der igjen ved neste start"),
        ("env", _env, "skriv ut miljøvariabler for terminalen: eval \"$(kurs sky env)\""),
        ("logg", _log, "vis slutten av loggen til den lokale skyen"),
        ("reset", _reset, "tøm den lokale skyen helt: dingser, sertifikater, regler, skygger og den "
                          "lagrede tilstanden"),
    ):
        a = actions.add_parser(name, help=text)
        a.set_defaults(func=_norwegian_os_errors(func))
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _norwegian_os_errors(func):  # noqa: ANN001, ANN202 - wraps a sub-command
    """A file or socket the system refuses (a read-only or foreign KURS_HOME, a full disk) becomes a
    Norwegian message instead of a traceback."""
    import functools

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        import os

        from kurs.errors import CourseError
        from kurs.paths import REPO_DIR

        try:
            return func(args)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise CourseError(f"Systemet sa nei: {exc.strerror or exc}{where}.",
                              f"Sjekk at du eier og kan skrive i kursmappa "
                              f"({os.environ.get('KURS_HOME') or REPO_DIR / '.kurs'}), og at disken ikke er "
                              "full; eller sett KURS_HOME til en mappe du eier.") from None

    return run


def _port(name: str):  # noqa: ANN202 - an argparse type
    def parse(text: str) -> int | None:
        from kurs.errors import CourseError
        from kurs.sky.process import validate_port

        try:
            return validate_port(name, text)
        except CourseError as exc:
            raise argparse.ArgumentTypeError(f"{exc.message} {exc.fix or ''}".strip()) from None

    parse.__name__ = "port"
    return parse


def _start(args: argparse.Namespace) -> int:
    from kurs import sky

    sky.start(http_port=args.http_port, mqtt_port=args.mqtt_port, mqtts_port=args.mqtts_port, lan=args.lan)
    print('Skriv  eval "$(kurs sky env)"  for å peke aws-kommandoen i denne terminalen mot den lokale skyen.')
    from kurs.room.classroom import reopen_hint

    hint = reopen_hint()
    if hint:
        print(hint)
    return 0


def _status(args: argparse.Namespace) -> int:
    from kurs import sky

    current = sky.status()
    saved = _saved_state()
    if current is None:
        print("Den lokale skyen kjører ikke. Start den med «kurs sky start».")
        if saved:
            print(f"Neste start henter fram det den har lagret ({saved}).")
        return 1
    print(f"Den lokale skyen kjører (prosess {current.pid}).")
    print(f"  AWS-API (moto):    {current.endpoint_url}")
    print(f"  MQTT:              {current.host}:{current.mqtt_port}")
    print(f"  MQTT + TLS:        localhost:{current.mqtts_port}  (CA-fil: {current.ca_file})")
    from kurs.sky.process import AWS_MQTTS_PORT

    if current.mqtts_port != AWS_MQTTS_PORT:
        print(f"  ⚠️  MQTT med TLS er ikke på {AWS_MQTTS_PORT}: klienter som følger AWS sin dokumentasjon, "
              f"må få port {current.mqtts_port}.")
    if current.lan_host:
        print(f"  For ekte kort:     {current.lan_host}:{current.mqtts_port}  (MQTT + TLS på nettverket)")
    print(f"  Logg:              {current.log_file}")
    print(f"  Lagret tilstand:   {saved or 'ingenting ennå'}  («kurs sky reset» tømmer den)")
    return 0


def _saved_state() -> str | None:
    """Where the cloud's snapshot is and when it was written, or None when there is none."""
    import time

    from kurs.sky.persistence import snapshot_file

    path = snapshot_file()
    try:
        written = time.strftime("%d.%m. kl. %H:%M:%S", time.localtime(path.stat().st_mtime))
    except OSError:
        return None
    return f"{path}, skrevet {written}"


def _stop(args: argparse.Namespace) -> int:
    from kurs import sky

    sky.stop()
    return 0


def _env(args: argparse.Namespace) -> int:
    from kurs import sky

    for key, value in sky.env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from kurs import sky

    sky.reset()
    return 0


def _log(args: argparse.Namespace) -> int:
    from kurs.sky.info import log_file

    path = log_file()
    if not path.exists():
        print("Ingen logg ennå: den lokale skyen har ikke kjørt.")
        return 1
    print("\n".join(path.read_text(errors="replace").splitlines()[-40:]))
    return 0
