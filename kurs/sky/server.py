"""The local cloud process: ``python -m kurs.sky.server``. Started by ``kurs.sky.start()``.

One process holds the moto server (control plane), our MQTT broker with mutual TLS, the
shadow service and the rules engine, so they share one truth. It outlives notebook kernels.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from kurs.sky import ca
from kurs.sky.broker import CloudBroker, ListenerBindError, broker_config
from kurs.sky.broker.dataplane import DataPlane
from kurs.sky.controlplane import CertificateRegistry, MotoServer
from kurs.sky.info import HOST, SkyInfo, log_file, sky_dir, state_file

log = logging.getLogger(__name__)


def _setup_logging() -> None:
    handler = logging.FileHandler(log_file(), encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # werkzeug and botocore are chatty at INFO; the learner reads this log.
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def clients_file():  # noqa: ANN201
    return sky_dir() / "klienter.json"


def _write_clients(clients: dict) -> None:
    """Who is connected now, for the instructor's overview (written atomically)."""
    import json

    tmp = clients_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(clients))
    tmp.replace(clients_file())


def _build_data_plane() -> DataPlane:
    """Wire the services that exist; each is optional so a missing one never blocks the cloud."""
    from kurs.sky import wiring

    return wiring.build()


class StartError(Exception):
    """Why this process could not start, for spawn() (kurs.sky.process) to say in Norwegian."""

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.data = {"reason": reason, **details}


def _port_taken(name: str, port: int) -> StartError:
    log.error("Port %s (%s) er allerede i bruk av et annet program; den lokale skyen kan ikke starte.", port, name)
    return StartError("port", name=name, port=port)


def _front_door(http_port: int, room: object = None):  # noqa: ANN202 - returns moto's app wrapped
    """Every AWS API request must carry this cloud's signature (kurs.sky.frontdoor)."""
    from kurs.sky import credentials
    from kurs.sky.frontdoor import FrontDoor, secret_lookup
    from kurs.sky.info import ACCOUNT_ID

    own = credentials.ensure()
    lookup = secret_lookup(own.access_key_id, own.secret_access_key, ACCOUNT_ID)
    return lambda app: FrontDoor(app, http_port, lookup, room=room)


def _room_host(address: str, ca_file: str):  # noqa: ANN202 - kurs.room.host.RoomHost
    """The room kept in this state folder (kurs rom start made it), for the front door."""
    from pathlib import Path

    from kurs.room import roster
    from kurs.room.host import RoomHost
    from kurs.sky.info import ACCOUNT_ID

    room = roster.load()
    if room is None or room.address != address:
        raise StartError("room")
    return RoomHost(room, Path(ca_file).read_bytes(), ACCOUNT_ID)


async def _serve_room(moto: MotoServer, address: str, http_port: int, mqtts_port: int, tls: ca.TlsFiles,
                      broker: CloudBroker, registry: CertificateRegistry) -> tuple[object, object]:
    """The room's doors on its address: the AWS API over HTTPS and MQTT with mutual TLS.

    The MQTT door is one more listener for the broker, made the way the broker makes its own TLS
    listener (its protocol, its core, the registry's context): only the address is new, so the
    broker itself does not change and everything it enforces holds for learners too.
    """
    import ssl
    import threading

    from werkzeug.serving import make_server

    from kurs.sky.broker.connection import MqttProtocol

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    try:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        https = make_server(address, http_port, moto.app, threaded=True, ssl_context=context,
                            request_handler=MotoRequestHandler)  # as the cloud's own HTTP door
    except (OSError, SystemExit) as exc:
        raise _port_taken("http_port", http_port) from exc
    threading.Thread(target=https.serve_forever, name="rom-https", daemon=True).start()
    try:
        mqtts = await asyncio.get_running_loop().create_server(
            lambda: MqttProtocol(broker.core, tls=True, identify=registry.identify), address, mqtts_port,
            ssl=registry.context, ssl_handshake_timeout=10, backlog=1024)
    except OSError as exc:
        https.shutdown()
        raise _port_taken("mqtts_port", mqtts_port) from exc
    return https, mqtts


async def run(http_port: int, mqtt_port: int, mqtts_port: int, lan_host: str | None = None,
              room: str | None = None) -> None:
    tls = ca.ensure_tls_files(sky_dir() / "tls", tuple(h for h in (lan_host, room) if h))
    room_host = _room_host(room, str(tls.ca_file)) if room else None
    try:
        moto = MotoServer(HOST, http_port, guard=_front_door(http_port, room_host))
    except OSError as exc:
        raise _port_taken("http_port", http_port) from exc
    moto.start()
    registry = CertificateRegistry(str(tls.ca_file), str(tls.cert_file), str(tls.key_file))

    plane = _build_data_plane()
    # What the last cloud accepted comes back before anyone can connect or read it.
    from kurs.sky.persistence import Store

    store = Store(plane.shadow)
    store.restore()  # what could not come back is in store.losses, said by `kurs sky start`
    store.install_http_hook()
    plane.reset_hooks.append(store.wipe)
    # With --lan only the mutual-TLS listener is on the network: it admits registered, ACTIVE
    # certificates and nothing else, while the AWS API (behind the front door: its own
    # credentials) and plain MQTT stay on 127.0.0.1.
    broker = CloudBroker(broker_config(HOST, mqtt_port, mqtts_port), on_publish=plane.on_publish,
                         authorize=plane.authorize, principal_valid=registry.is_active,
                         identify=registry.identify, tls_context=registry.context,
                         tls_host="0.0.0.0" if lan_host else HOST, state_dir=sky_dir())
    broker.on_presence = _write_clients
    try:
        await broker.start()
    except ListenerBindError as exc:
        raise _port_taken(exc.key, mqtt_port if exc.key == "mqtt_port" else mqtts_port) from exc
    loop = asyncio.get_running_loop()
    plane.attach(broker, loop)
    from kurs.sky import wiring

    wiring.attach_http(plane)

    room_doors: tuple[object, object] | None = None
    if room_host is not None:
        from kurs.sky.info import ACCOUNT_ID, REGION

        room_host.details = {"mqtts_port": mqtts_port, "region": REGION, "account_id": ACCOUNT_ID}
        if plane.policies is not None:  # a learner's IoT policies count only if the room would allow them now
            plane.policies.vet = room_host.policy_vetted
        if plane.rules is not None:  # learners' functions run as their learner, fenced in (sandbox.py)
            plane.rules.lambdas.owner_credentials = room_host.function_credentials
            plane.rules.lambdas.in_room = True
    if room and room != HOST:
        room_doors = await _serve_room(moto, room, http_port, mqtts_port, tls, broker, registry)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    info = SkyInfo(pid=os.getpid(), http_port=http_port, mqtt_port=mqtt_port, mqtts_port=mqtts_port,
                   ca_file=str(tls.ca_file), log_file=str(log_file()), lan_host=lan_host, room=room,
                   notices=tuple(store.losses))
    store.start()
    info.save()  # written last: its presence with our pid means "ready"
    log.info("Den lokale skyen kjører: HTTP %s, MQTT %s, MQTT+TLS %s%s", http_port, mqtt_port, mqtts_port,
             f" (også på nettverket: {lan_host}:{mqtts_port})" if lan_host else "")
    await stop.wait()

    log.info("Stopper den lokale skyen …")
    if room_doors is not None:
        room_doors[0].shutdown()  # type: ignore[attr-defined]
        room_doors[1].close()  # type: ignore[attr-defined]
    clients_file().unlink(missing_ok=True)
    try:
        await asyncio.wait_for(broker.shutdown(), timeout=5)
    except Exception:  # shutting down anyway
        log.exception("Megleren stoppet ikke pent")
    plane.close()
    store.close()  # the last changes, before moto goes away
    moto.stop()
    if SkyInfo.load() and SkyInfo.load().pid == os.getpid():
        state_file().unlink(missing_ok=True)
    log.info("Den lokale skyen er stoppet.")


def _loop_factory():  # noqa: ANN202 - an event loop class, or None for asyncio's own
    """uvloop where it is installed (Linux, macOS): it roughly halves the broker's per-message
    overhead in the event loop; asyncio's own loop elsewhere (Windows), with the same behaviour."""
    if os.environ.get("KURS_ASYNCIO_LOOP") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kurs.sky.server")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--mqtts-port", type=int, required=True)
    parser.add_argument("--lan", metavar="ADRESSE", help="also accept mutual-TLS MQTT on this network address")
    parser.add_argument("--rom", metavar="ADRESSE", help="serve the room kept in the state folder on this address")
    args = parser.parse_args(argv)
    _setup_logging()
    from kurs.sky.process import server_lock

    held = server_lock()
    if not held.acquire(timeout=0):
        log.error("En annen lokal sky kjører allerede fra %s; denne stopper.", sky_dir())
        _write_start_error({"reason": "running"})
        return 4
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(run(args.http_port, args.mqtt_port, args.mqtts_port, args.lan, args.rom))
    except StartError as exc:
        _write_start_error(exc.data)
        return 3
    except Exception:
        log.exception("Den lokale skyen krasjet")
        return 1
    finally:
        held.release()
    return 0


def _write_start_error(data: dict) -> None:
    import json

    from kurs.sky.info import start_error_file

    start_error_file().write_text(json.dumps(data))


if __name__ == "__main__":
    sys.exit(main())
