"""``kurs demo``: the finished product in a terminal – press Enter, watch the LED board."""

from __future__ import annotations

import argparse
import sys
import threading


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="kjør det ferdige produktet: knappekort og lyskort",
                       description="Starter den lokale skyen, et knappekort og et lyskort. Trykk Enter for å "
                                   "trykke på knappen; lyskortet skifter. Avslutt med Ctrl-C.")
    p.add_argument("--serverless", action="store_true",
                   help="gå via regel, Lambda og skygge i stedet for rett over MQTT")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from kurs.instructor import Demo

    print("Starter den lokale skyen og to virtuelle kort …", flush=True)
    show = Demo(serverless=args.serverless)
    for board, tag in ((show.knapp, "knapp"), (show.lys, "lys  ")):
        board.console.subscribe(lambda line, tag=tag: print(f"[{tag}] {line.text}", flush=True))
    show.lys.on_pin_change(lambda pin, level: pin == 2 and print(
        f"💡 LED-en på {show.lys.device_id} er nå {'PÅ' if show.lys.led(2) else 'AV'}", flush=True))
    print(f"Klar: {show.knapp.device_id} (knapp) og {show.lys.device_id} (lys). Enter = trykk, Ctrl-C = avslutt.",
          flush=True)
    stop = threading.Event()

    def keys() -> None:
        for _ in sys.stdin:
            show.knapp.click()
        stop.set()

    threading.Thread(target=keys, daemon=True).start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nStopper demoen …", flush=True)
        show.stop()
    return 0
