"""Button → LED latency in the local cloud: the serverless path (rule + Lambda + shadow delta)
beside the direct MQTT path (the LED board subscribes to the button's topic).

    .venv/bin/python benchmarks/serverless_latency.py [--rounds 40] [--no-boards]

Two kinds of stand-ins for the boards are measured, each on both paths:
- MQTT clients: a press is a publish on "state" from the knapp client id; the LED "lights" when
  the lys client gets that message (direct) or its shadow delta (serverless). The lys client
  reports the new state back, as the firmware does, so every press makes a delta.
- virtual ESP32 boards (kurs.esp32) running the course's firmware: from pressing the knapp
  board's button until the lys board's LED pin changes. Direct: firmware/lys (subscribes to
  "state"); serverless: the start app (its LED follows only the shadow delta).
Prints p50/p99 in milliseconds; nothing is asserted. Lambda code runs in warm worker processes,
as on AWS: the first press pays a cold start (a new Python process importing boto3), which
shows in p99; later presses reuse the warm worker.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kurs import mqtt  # noqa: E402

TOPIC = "state"


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _rounds(rounds: int, press: Callable[[int], None], lit: threading.Event, *, gap_s: float = 0.05,
            timeout_s: float = 30) -> list[float]:
    times = []
    for i in range(rounds):
        lit.clear()
        t0 = time.perf_counter()
        press(i)
        if not lit.wait(timeout_s):
            raise RuntimeError(f"the LED never followed press {i + 1}")
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(gap_s)  # longer than the firmware's 20 ms debounce
    return times


# --- MQTT clients standing in for the boards -----------------------------------------------------

def mqtt_direct(rounds: int) -> list[float]:
    knapp, lys = f"bench_knapp_{uuid.uuid4().hex[:6]}", f"bench_lys_{uuid.uuid4().hex[:6]}"
    lit = threading.Event()
    with mqtt.Monitor(TOPIC, client_id=lys) as mon:
        mon.client.message_callback_add(TOPIC, lambda c, u, m: lit.set())
        sender = mqtt.connect(knapp)
        try:
            return _rounds(rounds, lambda i: sender.publish(TOPIC, json.dumps({"on": i % 2 == 0, "btnCount": i}), 1),
                           lit)
        finally:
            sender.disconnect()
            sender.loop_stop()


def mqtt_serverless(rounds: int, table: str) -> list[float]:
    from kurs import serverless

    knapp, lys = f"bench_knapp_{uuid.uuid4().hex[:6]}", f"bench_lys_{uuid.uuid4().hex[:6]}"
    serverless.deploy_button_to_light(knapp, lys, table=table)
    shadow = f"$aws/things/{lys}/shadow"
    lit, reported = threading.Event(), threading.Event()
    board = mqtt.connect(lys)

    def on_delta(client, userdata, message):  # noqa: ANN001 - paho's signature
        lit.set()
        on = json.loads(message.payload)["state"]["on"]
        client.publish(f"{shadow}/update", json.dumps({"state": {"reported": {"on": on}}}), 1)

    board.message_callback_add(f"{shadow}/update/delta", on_delta)
    board.message_callback_add(f"{shadow}/update/accepted", lambda c, u, m: reported.set())
    board.subscribe([(f"{shadow}/update/delta", 1), (f"{shadow}/update/accepted", 1)])
    time.sleep(0.3)
    sender = mqtt.connect(knapp)

    def press(i: int) -> None:
        reported.clear()
        sender.publish(TOPIC, json.dumps({"on": i % 2 == 0, "btnCount": i + 1}), 1)

    try:
        times = _rounds(rounds, press, lit)
        reported.wait(5)
        return times
    finally:
        for c in (sender, board):
            c.disconnect()
            c.loop_stop()
        serverless.remove_button_to_light(table=table)


# --- virtual ESP32 boards ----------------------------------------------------------------------------

def _led_event(board) -> threading.Event:  # noqa: ANN001
    lit = threading.Event()
    pin = int(board.config_get("board.led1.pin"))
    board.on_pin_change(lambda p, level: lit.set() if p == pin else None)
    return lit


def _board_rounds(knapp, lys, rounds: int) -> list[float]:  # noqa: ANN001
    """Hold the button until the LED changes, release, repeat."""
    lit = _led_event(lys)
    times = []
    for i in range(rounds):
        lit.clear()
        t0 = time.perf_counter()
        knapp.press()
        if not lit.wait(30):
            raise RuntimeError(f"the LED never followed press {i + 1}")
        times.append((time.perf_counter() - t0) * 1000)
        knapp.release()
        time.sleep(0.1)  # longer than the firmware's 20 ms debounce
    return times


def _started(app: str, ready: str | None = None):  # noqa: ANN202
    from kurs.esp32.board import VirtualBoard

    board = VirtualBoard(app, seed=f"bench-{uuid.uuid4().hex}").start()
    board.wait_for(ready or (lambda: board.connected))
    return board


def boards(rounds: int, table: str) -> tuple[list[float], list[float]]:
    """(direct, serverless); a fresh pair of boards for each, so every press flips the LED."""
    from kurs import serverless

    knapp, lys = _started("knapp"), _started("lys")
    try:
        time.sleep(0.5)  # the lys board's subscription to "state"
        direct = _board_rounds(knapp, lys, rounds)
    finally:
        knapp.close()
        lys.close()
    knapp, lys = _started("knapp"), _started("start", "online: true")
    try:
        serverless.deploy_button_to_light(knapp.thing_name, lys.thing_name, table=table)
        via_cloud = _board_rounds(knapp, lys, rounds)
    finally:
        serverless.remove_button_to_light(table=table)
        knapp.close()
        lys.close()
    return direct, via_cloud


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--no-boards", action="store_true", help="only MQTT clients, no virtual ESP32 boards")
    args = parser.parse_args()

    from kurs import sky
    from kurs.sky.process import free_port

    os.environ["KURS_HOME"] = tempfile.mkdtemp(prefix="kurs-bench-")
    os.environ.pop("KURS_MODUS", None)
    sky.start(http_port=free_port(), mqtt_port=free_port(), mqtts_port=free_port(), quiet=True)
    results: list[tuple[str, list[float]]] = []
    try:
        results.append(("MQTT-klienter, direkte", mqtt_direct(args.rounds)))
        results.append(("MQTT-klienter, regel+Lambda+skygge", mqtt_serverless(args.rounds, "kurs-bench-mqtt")))
        if not args.no_boards:
            try:
                direct, via_cloud = boards(args.rounds, "kurs-bench-kort")
            except ImportError:
                print("(kurs.esp32 finnes ikke her: bare MQTT-klienter måles)")
            else:
                results.append(("virtuelle kort, direkte", direct))
                results.append(("virtuelle kort, regel+Lambda+skygge", via_cloud))
    finally:
        sky.stop(quiet=True)

    print(f"{'vei (knapp → LED)':<40}{'runder':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for name, times in results:
        print(f"{name:<40}{len(times):>8}{_pct(times, 50):>10.1f}{_pct(times, 99):>10.1f}")


if __name__ == "__main__":
    main()
