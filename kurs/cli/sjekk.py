"""``kurs sjekk FIL…``: check firmware files against what real mJS runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sjekk",
        help="sjekk at JavaScript-filer bare bruker det ekte mJS støtter",
        description="Sjekker at JavaScript-filene bare bruker det ekte mJS på et ESP32-kort støtter "
                    "(det virtuelle kortet kjører full JavaScript). Er FIL en mappe, sjekkes alle "
                    ".js-filer i den. Avslutter med kode 0 bare når alle filene er i orden.",
    )
    p.add_argument("filer", nargs="+", metavar="FIL", help="en .js-fil eller en mappe med .js-filer")
    p.set_defaults(func=_check)


def _expand(paths: list[str]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    missing: list[str] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.rglob("*.js"))
            if not found:
                missing.append(f"Fant ingen .js-filer i mappen «{name}».")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(f"Fant ikke filen «{name}». Sjekk stavemåten og hvilken mappe du står i.")
    return files, missing


def _check(args: argparse.Namespace) -> int:
    from kurs.errors import CourseError
    from kurs.mjs import check_file

    files, missing = _expand(args.filer)
    for message in missing:
        print(message, file=sys.stderr)
    failed = 0
    for path in files:
        try:
            problems = check_file(path)
        except CourseError as exc:
            print(exc, file=sys.stderr)
            missing.append(str(path))
            continue
        if not problems:
            print(f"OK: {path}")
            continue
        failed += 1
        for problem in problems:
            print(problem)
    if failed:
        noun = "fil" if failed == 1 else "filer"
        print(f"\n{failed} {noun} bruker noe ekte mJS ikke støtter.", file=sys.stderr)
    if missing:
        return 2
    return 1 if failed else 0
