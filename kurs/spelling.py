"""Bokmål spell-check of the notebooks' Markdown with hunspell (Debian's hunspell-no) and the course's
own word list (``ordliste.txt`` beside this file). Used by tests/test_spelling.py; a developer can run
``python -m kurs.spelling`` to list unknown words per notebook."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

WORD_LIST = Path(__file__).with_name("ordliste.txt")
DICTIONARY = "nb_NO"

# What is not Norwegian prose: code, links, HTML, and *italics* (the course sets English terms in italics).
_STRIP = [
    re.compile(r"```.*?```", re.S),
    re.compile(r"`[^`\n]*`"),
    re.compile(r"!?\[([^\]]*)\]\([^)]*\)"),  # keep a link's text, drop its address
    re.compile(r"<[^>\n]+>"),
    re.compile(r"https?://\S+"),
    re.compile(r"(?<![*\w])\*(?!\*)[^*\n]+\*(?!\*)"),
]
_WORD = re.compile(r"\w+(?:[-']\w+)*")


def markdown_cells(source: str) -> list[str]:
    """The Markdown cells of a jupytext percent-format notebook source, without the leading "# "."""
    cells: list[str] = []
    current: list[str] | None = None
    for line in source.splitlines():
        if line.startswith("# %%"):
            if current is not None:
                cells.append("\n".join(current))
            current = [] if "[markdown]" in line else None
            continue
        if current is not None and line.startswith("#"):
            current.append(line[2:] if line.startswith("# ") else line[1:])
    if current is not None:
        cells.append("\n".join(current))
    return cells


def prose(markdown: str) -> str:
    text = markdown
    for pattern in _STRIP:
        text = pattern.sub(lambda m: m.group(1) if m.re.groups else " ", text)
    return text


def candidate_words(text: str) -> list[str]:
    """Words worth asking hunspell about: no acronyms or names with inner capitals (MQTT, IoT, boto3)."""
    words = []
    for word in _WORD.findall(text):
        for part in word.split("-"):
            if len(part) > 1 and part.isalpha() and not any(c.isupper() for c in part[1:]):
                words.append(part)
    return words


def available() -> bool:
    if shutil.which("hunspell") is None:
        return False
    listed = subprocess.run(["hunspell", "-D"], capture_output=True, text=True, input="").stderr
    return DICTIONARY in listed


def unknown_words(words: Iterable[str]) -> set[str]:
    """The words neither hunspell's bokmål dictionary nor the course's word list knows."""
    answer = subprocess.run(["hunspell", "-d", DICTIONARY, "-p", str(WORD_LIST), "-l"],
                            input="\n".join(words), capture_output=True, text=True, check=True)
    return set(answer.stdout.split())


def notebook_report(sources: Iterable[Path]) -> dict[str, set[str]]:
    """Unknown words per notebook source."""
    found: dict[str, set[str]] = {}
    for path in sources:
        words = candidate_words(prose("\n".join(markdown_cells(path.read_text(encoding="utf-8")))))
        unknown = unknown_words(words)
        if unknown:
            found[path.name] = unknown
    return found


if __name__ == "__main__":
    from kurs.paths import NOTEBOOK_DIR

    for name, words in notebook_report(sorted((NOTEBOOK_DIR / "kilde").glob("*.py"))).items():
        print(f"{name}: {' '.join(sorted(words))}")
