"""Thirty virtual boards on this machine: memory and start time per board, and button→LED
latency through the local cloud while all of them run.

    .venv/bin/python benchmarks/boards_benchmark.py [--boards 30] [--presses 100]

Half the boards run the ``knapp`` app and half ``lys`` (the room of a workshop: everyone on the
shared ``state`` topic). Reports distributions, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boards", type=int, default=30)
    parser.add_argument("--presses", type=int, default=100)
    args = parser.parse_args()

    os.environ["KURS_HOME"] = tempfile.mkdtemp(prefix="kurs-bench-")
    from kurs import sky
    from kurs.esp32 import VirtualBoard
    from kurs.sky.process import free_port

    sky.start(http_port=free_port(), mqtt_port=free_port(), mqtts_port=free_port(), quiet=True)
    boards: list[VirtualBoard] = []
    start_ms: list[float] = []
    rss_before = _rss_mb()
    try:
        for i in range(args.boards):
            app = "knapp" if i % 2 == 0 else "lys"
            board = VirtualBoard(app, device_id=f"esp32_B{i:05d}")
            t0 = time.perf_counter()
            board.start()
            board.wait_for(lambda b=board, a=app: b.connected and (a == "knapp" or "state" in b.subscribed), 30)
            start_ms.append((time.perf_counter() - t0) * 1000)
            boards.append(board)
        per_board_mb = (_rss_mb() - rss_before) / args.boards

        knapp, lys = boards[0], boards[1]
        changed = threading.Event()
        lys.on_pin_change(lambda pin, level: pin == 2 and changed.set())
        latency_ms: list[float] = []
        for _ in range(args.presses):
            changed.clear()
            t0 = time.perf_counter()
            knapp.click(hold_s=0.0)
            if not changed.wait(5):
                raise RuntimeError("the LED did not change within 5 s")
            latency_ms.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.03)  # past the button's 20 ms debounce
    finally:
        for board in boards:
            board.close()
        sky.stop(quiet=True)

    print(f"{args.boards} virtual boards on {os.cpu_count()} cores")
    print(f"memory per board (RSS growth / boards): {per_board_mb:.1f} MB")
    print(f"start until connected: p50 {_pct(start_ms, 50):.0f} ms, p99 {_pct(start_ms, 99):.0f} ms, "
          f"max {max(start_ms):.0f} ms")
    print(f"button→LED through the local cloud with all boards running ({len(latency_ms)} presses): "
          f"p50 {_pct(latency_ms, 50):.1f} ms, p99 {_pct(latency_ms, 99):.1f} ms")


if __name__ == "__main__":
    main()
