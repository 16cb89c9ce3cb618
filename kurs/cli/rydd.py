"""``kurs rydd [--dry-run] [--bekreft-konto KONTO]``: remove everything the course created."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rydd", help="fjern alt kurset har laget (ting, sertifikater, policyer, regler, …)",
        description="Fjerner alt kurset har laget, og bare det: regler (kurs_…), Lambda-funksjoner (med "
                    "loggene deres i CloudWatch Logs) og DynamoDB-tabeller (kurs-…), skygger, sertifikater, policyer (kurs-…), ting merket "
                    "created_by=kurs, og nøklene på denne maskinen. Trygt å kjøre flere ganger. "
                    "I aws-modus koster rester penger etter gratisperioden, og et aktivt sertifikat er en "
                    "vei inn i kontoen – så rydd når du er ferdig.")
    p.add_argument("--dry-run", action="store_true",
                   help="bare vis hva som ville blitt fjernet; ingenting endres")
    p.add_argument("--bekreft-konto", metavar="KONTO",
                   help="i aws-modus: bekreft at dette er AWS-kontoen (12 sifre) det skal ryddes i")
    p.add_argument("--prefiks", metavar="PREFIKS",
                   help="bare det én deltaker i et rom har laget (navn som begynner med PREFIKS-)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from kurs import aws_mode, cleanup, config

    settings = config.load()
    aws_mode.confirm_for_this_run(args.bekreft_konto)
    print(aws_mode.summary(settings) if settings.mode == "aws" else settings.describe())
    prefix = None
    if args.prefiks:
        from kurs.room.names import slug

        prefix = slug(args.prefiks)
    result = cleanup.clean(dry_run=args.dry_run, settings=settings, confirm_account=args.bekreft_konto, prefix=prefix)
    return 1 if result.errors else 0
