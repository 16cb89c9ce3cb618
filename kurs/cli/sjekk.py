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


# Mongoose OS's default root filesystem on an ESP32 (SPIFFS), where fs/*.js is stored:
# MGOS_ROOT_FS_SIZE ?= 262144 in platforms/esp32/Makefile.build of mongoose-os. A JS file larger
# than the whole filesystem can never be uploaded to a board, so it is refused before the
# checker (which holds the file and its syntax tree in memory) ever sees it.
BOARD_FS_BYTES = 262144


def _too_big_for_board(path: Path) -> str | None:
    """A Norwegian refusal when the file cannot fit on a board; reads at most BOARD_FS_BYTES + 1 bytes."""
    try:
        with open(path, "rb") as f:
            size = len(f.read(BOARD_FS_BYTES + 1))
    except OSError:
        return None  # the checker reports unreadable files in its own words
    if size <= BOARD_FS_BYTES:
        return None
    try:
        actual = f"{path.stat().st_size / 1024:.0f} KB"
    except OSError:
        actual = f"mer enn {BOARD_FS_BYTES // 1024} KB"
    return (f"Filen «{path}» er for stor for et ESP32-kort ({actual}): hele filsystemet på kortet "
            f"(Mongoose OS, SPIFFS) er {BOARD_FS_BYTES // 1024} KB, så den får aldri plass. "
            "Sjekk at det er riktig fil, og ta bare med koden kortet trenger.")


def _check(args: argparse.Namespace) -> int:
    from kurs.errors import CourseError
    from kurs.mjs import check_file

    files, missing = _expand(args.filer)
    for message in missing:
        print(message, file=sys.stderr)
    failed = too_big = 0
    for path in files:
        refusal = _too_big_for_board(path)
        if refusal is not None:
            print(refusal, file=sys.stderr)
            too_big += 1
            continue
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
    return 1 if failed or too_big else 0
