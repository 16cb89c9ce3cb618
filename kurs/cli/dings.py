"""``kurs dings APP``: run one virtual ESP32 in the terminal and show its console log."""

from __future__ import annotations

import argparse
import sys
import threading


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dings",
        help="kjør et virtuelt ESP32-kort med en app og se loggen",
        description="Starter et virtuelt ESP32-kort som kjører appens fs/init.js (mJS), kobler det til "
                    "den lokale skyen og skriver loggen slik «mos console» viser den. Trykk Enter for å "
                    "trykke på BOOT-knappen, skriv r og Enter for å starte kortet på nytt, og avslutt med "
                    "Ctrl-C (eller q og Enter).",
    )
    p.add_argument("app", metavar="APP",
                   help="navnet på en app i firmware/ (start, knapp, lys) eller stien til en app-mappe")
    p.add_argument("--name", metavar="ID", default=None,
                   help="kortets device.id, som også blir thing-navn og MQTT-klient-ID (standard: esp32_XXXXXX "
                        "fra en virtuell MAC-adresse)")
    p.add_argument("--sky-start", action="store_true",
                   help="start den lokale skyen først hvis den ikke kjører")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from kurs import sky
    from kurs.esp32.board import VirtualBoard

    if args.sky_start:
        sky.start()
    elif sky.status() is None:
        print("Den lokale skyen kjører ikke, så kortet får ikke MQTT. Start den med «kurs sky start» "
              "(eller bruk --sky-start) og start kortet på nytt.", file=sys.stderr)
    board = VirtualBoard(args.app, device_id=args.name)
    board.console.echo_to(sys.stdout)
    print(f"Starter {board.device_id} med appen «{board.app.name}». Enter = trykk på knappen, "
          "r + Enter = omstart, Ctrl-C = avslutt.", flush=True)
    board.start()
    done = threading.Event()

    def read_keys() -> None:
        for line in sys.stdin:
            command = line.strip().lower()
            if command in ("q", "quit", "avslutt"):
                done.set()
                return
            try:
                if command == "r":
                    board.reboot()
                else:
                    board.click()
            except Exception as exc:  # noqa: BLE001 - keep the terminal session alive
                print(f"Feil: {exc}", file=sys.stderr)
        # stdin closed (not a terminal): keep running until Ctrl-C

    reader = threading.Thread(target=read_keys, name="dings-stdin", daemon=True)
    reader.start()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("\nStopper kortet …", flush=True)
    finally:
        board.close()
    return 0
