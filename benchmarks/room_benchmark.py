"""Room benchmark (issue 14): a classroom of N learners on this machine, on loopback only.

The instructor's room is one cloud process on its own 127.0.x.y address. Each learner is a
separate process with its own KURS_HOME (a "laptop"): it joins with the class code, opens the
notebook's MQTT connection to the room (``<prefix>-notatbok``) and runs two virtual boards, a
button board and an LED board. Learners pair up: A's button lights B's LED and B's button lights
A's, each direction on its own pair topic. Every learner presses its button ``--presses`` times,
``--interval`` seconds apart with jitter, all at once. Two latencies, both ending at the LED pin change in
the partner's process: from the press (it includes the firmware's 20 ms debounce, as on a real board:
mgos fires the button handler only when the level is still low after ``debounce_ms``), and from the
moment the button board's handler published (its console line's time) — the room's own path. All
processes share one clock (the system's wall clock).

    .venv/bin/python benchmarks/room_benchmark.py [--learners 30] [--presses 20] [--interval 1.0]

Prints memory (the cloud's RSS and each laptop's), join time (join, and join until both boards are
connected) and button→LED p50/p99 with losses; nothing here is asserted. Aim: p50 ≤ 20 ms, p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# -- one laptop --------------------------------------------------------------------------------------

def laptop(api: str, code: str, name: str, send_pair: str, receive_pair: str, presses: int,
           interval: float) -> None:
    """Runs in its own process: join, boards up, wait for "go", press, report JSON on stdout."""
    out = sys.stdout
    sys.stdout = sys.stderr  # the course's own prints are not the report
    import kurs.room
    from kurs.room import devices

    t0 = time.monotonic()
    kurs.room.join(api, code, name, quiet=True)
    joined = time.monotonic() - t0
    devices.notebook_client()
    knapp = kurs.room.board("knapp", "knapp", pair=send_pair)
    lys = kurs.room.board("lys", "lys", pair=receive_pair)
    lys.wait_for(lambda: f"kurs/par/{receive_pair}/state" in lys.subscribed, 20)
    knapp.wait_for(lambda: knapp.cloud_connected, 20)
    ready = time.monotonic() - t0
    led_changes: list[float] = []
    lys.on_pin_change(lambda pin, level: led_changes.append(time.time()) if pin == 2 else None)
    out.write(json.dumps({"ready": True, "join_s": joined, "ready_s": ready, "pid": os.getpid()}) + "\n")
    out.flush()
    sys.stdin.readline()  # "go"
    pressed: list[float] = []
    rng = random.Random(name)
    time.sleep(rng.random() * interval)
    for _ in range(presses):
        pressed.append(time.time())
        knapp.click(hold_s=0.1)  # well past the firmware's 20 ms debounce, as a finger is
        time.sleep(interval * (0.75 + rng.random() / 2))
    time.sleep(2.0)  # the partner's last presses arrive
    sent = [line.time for line in knapp.console.lines if "Sendte til" in line.text]
    out.write(json.dumps({"pressed": pressed, "sent": sent, "led": led_changes,
                          "rss_mb": _rss_mb(os.getpid())}) + "\n")
    out.flush()
    sys.stdin.readline()  # "stop"
    knapp.close()
    lys.close()


# -- the room ------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--laptop", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.laptop:
        api, code, name, send, receive, presses, interval = args.laptop
        laptop(api, code, name, send, receive, int(presses), float(interval))
        return
    if args.learners % 2:
        parser.error("--learners must be even (pairs)")

    from kurs.sky.process import free_port

    base = Path(tempfile.mkdtemp(prefix="rom-benchmark-"))
    instructor = base / "instruktor"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KURS_MQTT", "KURS_CA"))}
    address = f"127.0.{random.randint(1, 254)}.{random.randint(2, 254)}"
    ports = {"http_port": free_port(), "mqtt_port": free_port(), "mqtts_port": free_port()}
    start = (f"import kurs.room; kurs.room.start({address!r}, quiet=True, **{ports!r})")
    t = time.monotonic()
    subprocess.run([sys.executable, "-c", start], env={**env, "KURS_HOME": str(instructor)}, check=True)
    print(f"State folders under {base} (the room's log: {instructor}/sky/sky.log)")
    room_start_s = time.monotonic() - t
    code = json.loads((instructor / "sky" / "rom" / "rom.json").read_text())["code"]
    cloud_pid = json.loads((instructor / "sky" / "sky.json").read_text())["pid"]
    api = f"{address}:{ports['http_port']}"
    rss_idle = _rss_mb(cloud_pid)
    print(f"Room on {api}, started in {room_start_s:.1f} s; cloud RSS {rss_idle:.0f} MB before anyone joins")

    procs: list[subprocess.Popen] = []
    names = [f"elev{i:02d}" for i in range(args.learners)]
    t_all = time.monotonic()
    for i, name in enumerate(names):
        partner = names[i ^ 1]
        home = base / name
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "--laptop", api, code, name, f"{name}-{partner}", f"{partner}-{name}",
             str(args.presses), str(args.interval)],
            env={**env, "KURS_HOME": str(home), "KURS_ARBEID": str(home / "arbeid")}, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    ready = []
    try:
        for proc in procs:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise SystemExit(f"a laptop stopped before it was ready (exit {proc.wait()})")
            ready.append(json.loads(line))
        all_ready_s = time.monotonic() - t_all
        rss_joined = _rss_mb(cloud_pid)
        for proc in procs:
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        reports: list[dict] = [None] * len(procs)  # type: ignore[list-item]
        sampled: list[float] = []

        def sample() -> None:
            while any(r is None for r in reports):
                sampled.append(_rss_mb(cloud_pid))
                time.sleep(0.5)

        threading.Thread(target=sample, daemon=True).start()
        for i, proc in enumerate(procs):
            reports[i] = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
    finally:
        for proc in procs:
            try:
                proc.stdin.write("stop\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            except OSError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run([sys.executable, "-m", "kurs", "rom", "slutt"], env={**env, "KURS_HOME": str(instructor)},
                       capture_output=True)
        subprocess.run([sys.executable, "-m", "kurs", "sky", "stop"], env={**env, "KURS_HOME": str(instructor)},
                       capture_output=True)

    latencies: list[float] = []
    from_handler: list[float] = []
    lost = 0
    for i, report in enumerate(reports):
        partner = reports[i ^ 1]
        pressed, sent, led = report["pressed"], report["sent"], partner["led"]
        lost += max(0, len(sent) - len(led))
        # Each LED change belongs to the partner's latest press (and publish) before it: a press the
        # firmware did not send must not shift every later pairing.
        for t_led in led:
            before = bisect.bisect_right(pressed, t_led)
            if before:
                latencies.append((t_led - pressed[before - 1]) * 1000)
            before = bisect.bisect_right(sent, t_led)
            if before:
                from_handler.append((t_led - sent[before - 1]) * 1000)
    unsent = sum(max(0, len(r["pressed"]) - len(r["sent"])) for r in reports)
    joins = [r["join_s"] * 1000 for r in ready]
    readies = [r["ready_s"] * 1000 for r in ready]
    laptops = [r["rss_mb"] for r in reports]
    print(f"Learners: {args.learners} (separate processes, two virtual boards and a notebook client each), "
          f"{args.presses} presses each, ~{args.interval:g} s apart")
    print(f"Join (code -> own key):       p50 {_pct(joins, 50):7.0f} ms   p99 {_pct(joins, 99):7.0f} ms")
    print(f"Join until both boards up:    p50 {_pct(readies, 50):7.0f} ms   p99 {_pct(readies, 99):7.0f} ms   "
          f"whole room ready in {all_ready_s:.1f} s")
    print(f"Button -> LED across a pair:  p50 {_pct(latencies, 50):7.1f} ms   p99 {_pct(latencies, 99):7.1f} ms   "
          f"max {max(latencies or [float('nan')]):.1f} ms   n={len(latencies)} (with 20 ms debounce; "
          f"{unsent} presses the firmware did not send)")
    print(f"Publish -> LED (the room):    p50 {_pct(from_handler, 50):7.1f} ms   p99 {_pct(from_handler, 99):7.1f} ms   "
          f"max {max(from_handler or [float('nan')]):.1f} ms   n={len(from_handler)}   lost in the room={lost}")
    print(f"Cloud RSS: {rss_idle:.0f} MB empty, {rss_joined:.0f} MB with everyone joined, "
          f"{max(sampled or [rss_joined]):.0f} MB peak while pressing")
    print(f"Laptop RSS: median {statistics.median(laptops):.0f} MB, max {max(laptops):.0f} MB "
          f"(total {sum(laptops):.0f} MB for {len(laptops)} laptops)")


if __name__ == "__main__":
    main()
