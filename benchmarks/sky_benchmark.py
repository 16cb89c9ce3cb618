"""Local cloud benchmark: start-up time, MQTT round trip (p50/p99) and QoS 1 throughput
(one sender, and three senders at once; distinct messages counted, losses reported),
with mosquitto measured the same way beside it when a ``mosquitto`` binary is installed.

    .venv/bin/python benchmarks/sky_benchmark.py [--rounds 500] [--messages 2000] [--starts 5]

Prints a table; nothing here is asserted. The local cloud does more per message than a bare
broker (AWS limits, policy checks, shadow and rules routing), so the ratio is the figure to watch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt  # noqa: E402

from kurs.sky.process import free_port  # noqa: E402


@dataclass
class Result:
    name: str
    start_s: list[float]
    rtt_ms: list[float]
    qos1: tuple[float, int]
    qos1_three: tuple[float, int]


def _client(port: int, cid: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid)
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def measure_rtt(port: int, rounds: int) -> list[float]:
    """Publish on one client, receive on another; time each message there and back."""
    got = threading.Event()
    sub = _client(port, "bench-sub")
    sub.on_message = lambda c, u, m: got.set()
    ready = threading.Event()
    sub.on_subscribe = lambda *a: ready.set()
    sub.subscribe("bench/rtt", qos=0)
    ready.wait(5)
    pub = _client(port, "bench-pub")
    times = []
    for _ in range(rounds):
        got.clear()
        t0 = time.perf_counter()
        pub.publish("bench/rtt", b"x" * 64, qos=0)
        if not got.wait(5):
            raise RuntimeError("a message was lost")
        times.append((time.perf_counter() - t0) * 1000)
    for c in (sub, pub):
        c.disconnect()
        c.loop_stop()
    return times


def measure_qos1(port: int, messages: int, publishers: int = 1) -> tuple[float, int]:
    """(messages per second, messages lost) for QoS 1 messages sent by ``publishers`` clients
    at once to one QoS 1 subscriber. Distinct payloads are counted, so a resend (DUP) does not
    inflate the figure; a message still missing after 60 s of silence counts as lost."""
    done = threading.Event()
    seen: set[bytes] = set()
    total = messages * publishers
    last = {"t": time.perf_counter()}

    def on_message(c, u, m):  # noqa: ANN001
        seen.add(m.payload)
        last["t"] = time.perf_counter()
        if len(seen) >= total:
            done.set()

    sub = _client(port, "bench-q-sub")
    sub.on_message = on_message
    ready = threading.Event()
    sub.on_subscribe = lambda *a: ready.set()
    sub.subscribe("bench/qos1/#", qos=1)
    ready.wait(5)
    pubs = [_client(port, f"bench-q-pub{k}") for k in range(publishers)]

    def send(k: int) -> None:
        for i in range(messages):
            pubs[k].publish(f"bench/qos1/{k}", f"{k}-{i}".encode(), qos=1)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=send, args=(k,)) for k in range(publishers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while not done.wait(1):
        if time.perf_counter() - last["t"] > 60:
            break
    elapsed = last["t"] - t0
    for c in (sub, *pubs):
        c.disconnect()
        c.loop_stop()
    return len(seen) / elapsed, total - len(seen)


def _wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"nothing listens on {port}")


def bench_local_cloud(starts: int, rounds: int, messages: int) -> Result:
    from kurs import sky

    start_times = []
    for i in range(starts):
        os.environ["KURS_HOME"] = tempfile.mkdtemp(prefix="kurs-bench-")
        t0 = time.perf_counter()
        info = sky.start(http_port=free_port(), mqtt_port=free_port(), mqtts_port=free_port(), quiet=True)
        start_times.append(time.perf_counter() - t0)
        if i < starts - 1:
            sky.stop(quiet=True)
    try:
        return Result("lokal sky (kurs-megleren)", start_times, measure_rtt(info.mqtt_port, rounds),
                      measure_qos1(info.mqtt_port, messages), measure_qos1(info.mqtt_port, messages, 3))
    finally:
        sky.stop(quiet=True)


def bench_mosquitto(binary: str, starts: int, rounds: int, messages: int) -> Result:
    start_times = []
    proc = None
    for _ in range(starts):
        port = free_port()
        conf = Path(tempfile.mkdtemp()) / "mosquitto.conf"
        # Drops nothing, like the local cloud: no cap on a client's queue (the default, 1000, loses
        # messages under a burst), and 100 in flight per client as AWS IoT and our broker allow.
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                        "max_inflight_messages 100\n")
        t0 = time.perf_counter()
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(port)
        start_times.append(time.perf_counter() - t0)
        if _ < starts - 1:
            proc.terminate()
            proc.wait()
    try:
        return Result("mosquitto", start_times, measure_rtt(port, rounds), measure_qos1(port, messages),
                      measure_qos1(port, messages, 3))
    finally:
        proc.terminate()
        proc.wait()


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    results = [bench_local_cloud(args.starts, args.rounds, args.messages)]
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary:
        results.append(bench_mosquitto(binary, args.starts, args.rounds, args.messages))
    else:
        print("(mosquitto er ikke installert: bare den lokale skyen måles)")
    print(f"{'broker':<20}{'start median s':>16}{'RTT p50 ms':>12}{'RTT p99 ms':>12}{'QoS1 msg/s':>12}"
          f"{'tapt':>6}{'3 avsendere msg/s':>19}{'tapt':>6}")
    for r in results:
        print(f"{r.name:<20}{statistics.median(r.start_s):>16.3f}{_pct(r.rtt_ms, 50):>12.2f}"
              f"{_pct(r.rtt_ms, 99):>12.2f}{r.qos1[0]:>12.0f}{r.qos1[1]:>6}{r.qos1_three[0]:>19.0f}{r.qos1_three[1]:>6}")
    if len(results) == 2:
        a, b = results
        print(f"ratio (lokal sky / mosquitto): start {statistics.median(a.start_s) / statistics.median(b.start_s):.1f}x, "
              f"RTT p50 {_pct(a.rtt_ms, 50) / _pct(b.rtt_ms, 50):.1f}x, "
              f"QoS1 throughput {a.qos1[0] / b.qos1[0]:.2f}x, with three senders {a.qos1_three[0] / b.qos1_three[0]:.2f}x")


if __name__ == "__main__":
    main()
