"""Bokmål spelling of everything a learner reads in the notebooks' Markdown (hunspell with Debian's
hunspell-no and the course's word list kurs/ordliste.txt). Skipped where hunspell is not installed;
CI installs it (scripts/setup-spelling.sh)."""

from __future__ import annotations

import pytest

from kurs import spelling
from kurs.paths import NOTEBOOK_DIR

needs_hunspell = pytest.mark.skipif(not spelling.available(),
                                    reason="hunspell med norsk ordbok (hunspell-no) er ikke installert")


def test_markdown_cells_are_taken_from_the_jupytext_source_without_code():
    source = "# %% [markdown]\n# Tekst her\n\n# %%\nprint('kode')\n\n# %% [markdown]\n# Mer *device* `kode`\n"
    cells = spelling.markdown_cells(source)
    assert cells == ["Tekst her", "Mer *device* `kode`"]
    assert spelling.candidate_words(spelling.prose(cells[1])) == ["Mer"]


def test_acronyms_links_and_code_are_not_spell_checked():
    text = spelling.prose("Se [AWS-konsollen](https://example.com/x) og `aws iot` med MQTT og boto3.")
    assert spelling.candidate_words(text) == ["Se", "konsollen", "og", "med", "og"]


@needs_hunspell
def test_the_checker_catches_the_words_a_learner_reported():
    assert spelling.unknown_words(["logggrupper", "logg", "grupper", "notatboka"]) == {"logggrupper"}


@needs_hunspell
@pytest.mark.parametrize("source", sorted((NOTEBOOK_DIR / "kilde").glob("*.py")), ids=lambda p: p.stem)
def test_notebook_markdown_is_spelled_in_bokmaal(source):
    unknown = spelling.notebook_report([source]).get(source.name, set())
    assert not unknown, (f"Ukjente ord i {source.name}: {', '.join(sorted(unknown))}. Rett skrivefeilen, "
                         "eller legg ordet i kurs/ordliste.txt hvis det er riktig.")
