"""``kurs kort porter|info|flash|wifi|konsoll|put``: an ESP32 board on USB from a terminal.

The port may also be a pseudo-terminal with a virtual board behind it. Every problem a
learner meets (no board, busy port, no permission, wrong firmware file, a board that does
not answer) is a CourseError: ``kurs.cli.main`` prints its Norwegian text and exits with 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kurs.errors import CourseError


def _parser(sub: argparse._SubParsersAction, name: str, text: str, description: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text, description=description)
    return p


def _port_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", metavar="PORT",
                   help="serieporten til kortet, f.eks. /dev/ttyUSB0, /dev/cu.SLAB_USBtoUART eller COM3 "
                        "(eller en pseudoterminal med et virtuelt kort); uten --port finner kurs kortet selv")


def _timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=5.0, metavar="SEK",
                   help="hvor lenge kortet får på seg til å svare, i sekunder (standard 5)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kort",
        help="finn, flash og sett opp et ESP32-kort på USB",
        description="Snakk med et ESP32-kort koblet til med USB (eller et virtuelt kort på en "
                    "pseudoterminal): finn porten, les informasjon, flash fastvare, sett Wi-Fi, "
                    "følg loggen og last opp filer.",
    )
    actions = p.add_subparsers(dest="handling", title="handlinger", metavar="HANDLING")

    porter = _parser(actions, "porter", "vis serieportene og hvilken som er ESP32-kortet",
                     "Viser USB-serieportene på maskinen og hvilke som er ESP32-kort (kjent på "
                     "USB-brikken). Finnes ikke noe kort, får du råd om driver, kabel og tilgang for "
                     "ditt operativsystem. Avslutter med kode 0 når minst ett kort er funnet, ellers 1.")
    porter.add_argument("--alle", action="store_true", help="vis også serieporter som ikke er USB")
    porter.add_argument("--os", choices=["macos", "linux", "windows"], dest="system",
                        help="vis rådene for et annet operativsystem enn dette")
    porter.set_defaults(func=_porter)

    info = _parser(actions, "info", "vis app, fastvareversjon, MAC-adresse og dingsnavn",
                   "Spør kortet med RPC-kallet Sys.GetInfo (som «mos call Sys.GetInfo») og viser app, "
                   "fastvareversjon, MAC-adresse og dingsnavnet (thing name).")
    _port_option(info)
    _timeout_option(info)
    info.set_defaults(func=_info)

    fl = _parser(actions, "flash", "skriv en Mongoose OS-fastvare (zip) til kortet",
                 "Sjekker fastvarefila (manifest.json og kontrollsummene for hver del) før kortet røres, "
                 "og skriver den så med esptool, med fremdriftsvisning og kontroll etterpå. Wi-Fi og "
                 "AWS-oppsett må gjøres på nytt etter flashing, som med «mos flash».")
    fl.add_argument("fastvare", metavar="FASTVARE.zip", help="zip-fila «mos build» laget (build/fw.zip)")
    _port_option(fl)
    fl.add_argument("--baud", type=int, default=460800, metavar="B",
                    help="hastighet under skrivingen (standard 460800; kurs faller tilbake til 115200 "
                         "hvis USB-brikken ikke klarer den)")
    fl.add_argument("--behold-filer", action="store_true",
                    help="ikke skriv filsystemet: filer og innstillinger på kortet (Wi-Fi, sertifikater) blir værende")
    fl.add_argument("--slett-alt", action="store_true",
                    help="slett hele flashminnet først (alle filer og innstillinger)")
    fl.add_argument("--forsok", type=int, default=7, metavar="N",
                    help="antall forsøk på å få kortet i nedlastingsmodus (standard 7)")
    fl.set_defaults(func=_flash)

    wifi = _parser(actions, "wifi", "sett Wi-Fi-nettet kortet skal koble seg til",
                   "Setter Wi-Fi-navn og passord på kortet, slår av kortets eget tilgangspunkt, lagrer "
                   "og starter kortet på nytt (som «mos wifi SSID PASSORD»). Passordet skrives ikke ut.")
    wifi.add_argument("ssid", metavar="SSID", help="navnet på Wi-Fi-nettet")
    wifi.add_argument("passord", metavar="PASSORD", help="Wi-Fi-passordet (8–63 tegn; tomt for et åpent nett)")
    _port_option(wifi)
    wifi.add_argument("--vent", type=float, default=30.0, metavar="SEK",
                      help="vent så lenge på at kortet kommer på nettet (standard 30; 0: ikke vent)")
    _timeout_option(wifi)
    wifi.set_defaults(func=_wifi)

    konsoll = _parser(actions, "konsoll", "følg loggen kortet skriver",
                      "Viser loggen kortet skriver på serieporten, linje for linje, til du trykker Ctrl-C. "
                      "Kortet startes ikke på nytt når porten åpnes.")
    _port_option(konsoll)
    konsoll.add_argument("--sekunder", type=float, metavar="SEK",
                         help="stopp etter så mange sekunder (standard: til du trykker Ctrl-C)")
    konsoll.set_defaults(func=_konsoll)

    put = _parser(actions, "put", "last opp en fil til kortets filsystem",
                  "Laster opp en fil fra maskinen til filsystemet på kortet (som «mos put FIL»), for "
                  "eksempel et sertifikat.")
    put.add_argument("fil", metavar="FIL", help="fila på maskinen som skal opp på kortet")
    put.add_argument("--navn", metavar="NAVN", help="filnavnet på kortet (standard: samme navn som fila)")
    _port_option(put)
    _timeout_option(put)
    put.set_defaults(func=_put)

    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _porter(args: argparse.Namespace) -> int:
    from kurs import board_tools

    text, boards = board_tools.ports_overview(board_tools.platform_for(args.system), include_other=args.alle)
    print(text)
    return 0 if boards else 1


def _info(args: argparse.Namespace) -> int:
    from kurs import board_tools
    from kurs.hardware.rpc import RpcClient

    with RpcClient(args.port, timeout=args.timeout) as client:
        info = client.get_info()
        print(board_tools.describe_info(info, client.port))
    return 0


def _flash(args: argparse.Namespace) -> int:
    from kurs import board_tools
    from kurs.hardware import flash
    from kurs.hardware.firmware_zip import read_firmware_zip

    if args.baud <= 0:
        raise CourseError(f"Hastigheten {args.baud} er ugyldig.", "Bruk f.eks. --baud 460800 eller --baud 115200.")
    plan = read_firmware_zip(args.fastvare, keep_fs=args.behold_filer)  # all checks before the board
    print(plan.describe())
    device = args.port or _find_port()
    print(f"Kobler til kortet på {device} …", flush=True)
    try:
        result = flash.flash(plan, device, baud=args.baud, erase_all=args.slett_alt, progress=True,
                             connect_attempts=max(1, args.forsok))
    except CourseError as exc:
        if board_tools.looks_like_pty(device):
            fix = (exc.fix + " " if exc.fix else "") + (
                f"{device} er en pseudoterminal, ikke en USB-port: et virtuelt kort kan ikke flashes over "
                "porten (det kjører fastvaren fra firmware-mappa direkte)."
            )
            raise CourseError(exc.message, fix) from exc
        raise
    print(f"Ferdig: {result.bytes_written} byte skrevet og kontrollert på {result.port} "
          f"({result.chip}, {result.baud} baud).")
    print(f"MAC-adresse: {result.mac}   Dingsnavn: {result.thing_name}")
    if not args.behold_filer:
        print("Husk: Wi-Fi og AWS-oppsettet må gjøres på nytt etter flashing, "
              f"f.eks. «kurs kort wifi NETT PASSORD --port {result.port}».")
    return 0


def _find_port() -> str:
    from kurs.hardware import ports

    return ports.find_board().device


def _wifi(args: argparse.Namespace) -> int:
    from kurs import board_tools
    from kurs.hardware.rpc import RpcClient, check_wifi

    check_wifi(args.ssid, args.passord)  # refuse a bad SSID or password before touching the board
    with RpcClient(args.port, timeout=args.timeout) as client:
        client.set_wifi(args.ssid, args.passord, reboot=True)
        port = client.port
    secret = "med passordet du oppga" if args.passord else "uten passord (et åpent nett)"
    print(f"Wi-Fi satt på kortet på {port}: «{args.ssid}» {secret}. Innstillingene er lagret.")
    if args.vent <= 0:
        print(f"Kortet starter på nytt og kobler seg til nettet. Følg med: «kurs kort konsoll --port {port}».")
        return 0
    print(f"Kortet starter på nytt; venter opptil {args.vent:g} s på at det kommer på nettet …", flush=True)
    board_tools.wait_for_wifi(port, ssid=args.ssid, timeout=args.vent)
    return 0


def _konsoll(args: argparse.Namespace) -> int:
    from kurs import board_tools
    from kurs.hardware import ports

    if args.sekunder is not None and args.sekunder <= 0:
        raise CourseError("--sekunder må være større enn 0.", "Utelat --sekunder for å følge loggen til Ctrl-C.")
    device = args.port or ports.find_board().device
    until = "" if args.sekunder else " (avslutt med Ctrl-C)"
    try:
        board_tools.follow_console(
            device,
            seconds=args.sekunder,
            on_line=lambda line: print(line, flush=True),
            on_open=lambda name: print(f"Loggen fra kortet på {name}{until}:", file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt:
        print("\nAvsluttet.", file=sys.stderr)
    return 0


def _put(args: argparse.Namespace) -> int:
    from kurs.hardware.rpc import RpcClient

    source = Path(args.fil)
    if not source.is_file():
        where = "er en mappe, ikke en fil" if source.is_dir() else "finnes ikke"
        raise CourseError(f"Fila «{args.fil}» {where} på maskinen din.",
                          "Sjekk stavemåten og hvilken mappe du står i (pwd / cd).")
    name = args.navn or source.name
    data = source.read_bytes()
    with RpcClient(args.port, timeout=args.timeout) as client:
        client.fs_put(name, data)
        port = client.port
        present = name in client.fs_list()
    if not present:
        raise CourseError(f"Kortet på {port} sa ja, men «{name}» finnes ikke i filsystemet etterpå.",
                          "Prøv igjen; hjelper ikke det, start kortet på nytt (EN/RST) og prøv en gang til.")
    print(f"Lastet opp {source.name} ({len(data)} byte) til kortet på {port} som «{name}».")
    return 0
