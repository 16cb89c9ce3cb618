"""The ``kurs`` command. Each sub-command lives in its own module with a ``register(sub)``."""

from __future__ import annotations

import argparse
import importlib
import sys

from kurs.errors import CourseError

# Modules under kurs.cli that add a sub-command; a missing one is skipped quietly.
COMMANDS = ["sky", "rom", "dings", "sjekk", "kort", "demo", "rydd"]


class NorwegianHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):  # noqa: ANN001 - argparse's signature
        return super().add_usage(usage, actions, groups, "bruk: " if prefix is None else prefix)


class NorwegianParser(argparse.ArgumentParser):
    """Every ``kurs`` (sub-)command's parser: help, usage, headings and errors in Norwegian."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - argparse's signature
        kwargs["add_help"] = False
        kwargs.setdefault("formatter_class", NorwegianHelpFormatter)
        super().__init__(*args, **kwargs)
        self._positionals.title = "argumenter"
        self._optionals.title = "valg"
        self.add_argument("-h", "--help", action="help", help="vis denne hjelpeteksten og avslutt")

    def error(self, message: str) -> None:  # argparse's own errors, in Norwegian
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: feil: {message}\nSkriv «{self.prog} --help» for hjelp.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = NorwegianParser(
        prog="kurs",
        description="Verktøy for kurset i serverless IoT med Mongoose OS og AWS IoT.",
    )
    sub = parser.add_subparsers(dest="kommando", title="kommandoer", metavar="KOMMANDO",
                                parser_class=NorwegianParser)
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
