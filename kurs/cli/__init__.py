"""The ``kurs`` command. Each sub-command lives in its own module with a ``register(sub)``."""

from __future__ import annotations

import argparse
import importlib
import sys

from kurs.errors import CourseError

# Modules under kurs.cli that add a sub-command; a missing one is skipped quietly.
COMMANDS = ["sky", "dings", "sjekk", "kort", "demo", "rydd"]


class _NorwegianParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors, in Norwegian
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: feil: {message}\nSkriv «{self.prog} --help» for hjelp.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _NorwegianParser(
        prog="kurs",
        description="Verktøy for kurset i serverless IoT med Mongoose OS og AWS IoT.",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="help", help="vis denne hjelpeteksten og avslutt")
    sub = parser.add_subparsers(dest="kommando", title="kommandoer", metavar="KOMMANDO",
                                parser_class=_NorwegianParser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"kurs.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"kurs.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CourseError as exc:
        print(f"Feil: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
