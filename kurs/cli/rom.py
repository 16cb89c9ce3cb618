"""``kurs rom``: a classroom on the instructor's local cloud (kurs.room)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rom", help="et klasserom: én lokal sky for hele rommet",
                            description="Instruktøren starter rommet; deltakerne blir med med adresse og klassekode.")
    rom = parser.add_subparsers(dest="rom_kommando", title="kommandoer", metavar="KOMMANDO",
                                parser_class=type(parser))
    start = rom.add_parser("start", help="start rommet (instruktøren)")
    start.add_argument("--adresse", help="maskinens adresse på nettet (finnes selv om du ikke gir den)")
    start.set_defaults(func=_start)
    status = rom.add_parser("status", help="deltakere, kort og oppgaver (instruktøren)")
    status.add_argument("--folg", action="store_true", help="vis rommet på nytt hvert annet sekund (Ctrl-C stopper)")
    status.set_defaults(func=_status)
    tell = rom.add_parser("kringkast", help="send en beskjed til alle deltakerne")
    tell.add_argument("tekst")
    tell.set_defaults(func=lambda a: _broadcast(a.tekst))
    reset = rom.add_parser("nullstill", help="fjern alt én deltaker har laget i rommet")
    reset.add_argument("navn")
    reset.set_defaults(func=lambda a: _reset(a.navn))
    rom.add_parser("slutt", help="avslutt rommet (klassekoden og deltakernes nøkler slutter å virke)") \
        .set_defaults(func=lambda a: _end())
    join = rom.add_parser("bli-med", help="bli med i et rom (deltakeren)")
    join.add_argument("adresse", help="adressen instruktøren viser, for eksempel 192.168.1.20:5055")
    join.add_argument("kode", help="klassekoden, for eksempel K7QM-XR4T")
    join.add_argument("--navn", required=True, help="navnet ditt (blir prefikset på alt du lager)")
    join.set_defaults(func=_join)
    rom.add_parser("forlat", help="forlat rommet og bruk din egen lokale sky igjen").set_defaults(func=_leave)
    board = rom.add_parser("kort", help="sett opp ditt ekte ESP32-kort (USB) i rommet (deltakeren)",
                           description="Legger sertifikatet, rommets innstillinger og (med --par) koden din fra "
                                       "Oppgave 1 eller 4 på kortet, og venter til det er koblet til rommet "
                                       "som <prefiks>-<rolle>.")
    board.add_argument("--rolle", required=True, help="kortets rolle, for eksempel knapp eller lys "
                                                      "(blir <prefiks>-<rolle>)")
    board.add_argument("--port", help="serieporten (finnes selv om du ikke gir den, når ett kort er koblet til)")
    board.add_argument("--par", help="parnavnet du og makkeren bruker, for eksempel ida-ola: da får kortet "
                                     "koden din med emnet kurs/par/<par>/state")
    board.add_argument("--app", help="mappa med koden (mos.yml og fs/init.js), i stedet for Oppgave 1 eller 4")
    board.add_argument("--vent", type=float, default=60.0, metavar="SEKUNDER",
                       help="hvor lenge du venter på at kortet kobler seg til (standard 60)")
    board.set_defaults(func=_board)
    rom.add_parser("env", help="miljøvariabler for aws-kommandoen i rommet (eval \"$(kurs rom env)\")") \
        .set_defaults(func=_env)
    aws = rom.add_parser("aws", help="det samme rommet på en ekte AWS-konto: lag eller fjern deltakernes "
                                     "IAM-brukere og policyer (instruktøren, aws-modus)",
                         description="Se docs/rom-aws.md. Hver deltaker får en IAM-bruker kurs-rom-<prefiks> "
                                     "med rettigheter bare til sine egne ressurser, og IoT-policyen kurs-<prefiks>-rom.")
    aws.add_argument("handling", choices=["lag", "fjern"])
    aws.add_argument("navn", nargs="+", help="deltakernes navn (blir prefiksene)")
    aws.add_argument("--bekreft-konto", metavar="KONTO", help="AWS-kontoen (12 sifre) det gjelder")
    aws.set_defaults(func=_aws)
    parser.set_defaults(func=lambda a: parser.print_help() or 2)


def _start(args: argparse.Namespace) -> int:
    from kurs.room import start

    start(args.adresse)
    return 0


def _status(args: argparse.Namespace) -> int:
    import time

    from kurs.room.classroom import require_open
    from kurs.room.overview import RoomWatcher, text

    require_open()
    watcher = RoomWatcher()
    try:
        time.sleep(0.5)  # the retained reports arrive right after subscribing
        while True:
            if args.folg:
                print("\033[2J\033[H", end="")  # clear the terminal, like watch(1)
            print(text(watcher))
            if not args.folg:
                return 0
            for seen in watcher.messages()[-10:]:
                print(f"  {time.strftime('%H:%M:%S', time.localtime(seen.when))} {seen.topic}: {seen.text[:80]}")
            time.sleep(2)
    finally:
        watcher.close()


def _broadcast(text: str) -> int:
    from kurs.room import broadcast

    broadcast(text)
    print("Beskjeden er sendt til alle i rommet.")
    return 0


def _reset(name: str) -> int:
    from kurs.room import reset_learner

    reset_learner(name)
    return 0


def _end() -> int:
    from kurs.room import end

    end()
    return 0


def _join(args: argparse.Namespace) -> int:
    from kurs.room import join

    join(args.adresse, args.kode, args.navn)
    return 0


def _leave(args: argparse.Namespace) -> int:
    from kurs.room import leave

    leave()
    return 0


def _board(args: argparse.Namespace) -> int:
    from kurs.room import real_board

    real_board(args.rolle, args.port, pair=args.par, app=args.app, wait=args.vent)
    return 0


def _aws(args: argparse.Namespace) -> int:
    from kurs import aws_mode
    from kurs.room import aws_room

    aws_mode.confirm_for_this_run(args.bekreft_konto)
    if args.handling == "lag":
        aws_room.create_learners(args.navn, confirm_account=args.bekreft_konto)
    else:
        aws_room.remove_learners(args.navn, confirm_account=args.bekreft_konto)
    return 0


def _env(args: argparse.Namespace) -> int:
    import shlex

    from kurs.room.membership import current

    for key, value in current().env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0
