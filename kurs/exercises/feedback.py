"""What a check says: ✅ and ❌ lines in Norwegian, each ❌ with what to do about it."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Item:
    ok: bool | None  # None: a note, neither right nor wrong
    text: str
    fix: str | None = None

    def __str__(self) -> str:
        mark = {True: "✅", False: "❌", None: "ℹ️ "}[self.ok]
        lines = [f"{mark} {self.text}"]
        if self.fix:
            lines.append(f"   → {self.fix}")
        return "\n".join(lines)


@dataclass
class Report:
    """The result of one check. ``passed`` when nothing failed and something was right."""

    exercise: int
    title: str
    items: list[Item] = field(default_factory=list)

    def ok(self, text: str) -> None:
        self.items.append(Item(True, text))

    def fail(self, text: str, fix: str | None = None) -> None:
        self.items.append(Item(False, text, fix))

    def note(self, text: str) -> None:
        self.items.append(Item(None, text))

    @property
    def passed(self) -> bool:
        return any(i.ok for i in self.items) and not any(i.ok is False for i in self.items)

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if i.ok is False]

    def text(self) -> str:
        lines = [f"Oppgave {self.exercise} · {self.title}", ""]
        lines += [str(i) for i in self.items]
        lines.append("")
        if self.passed:
            lines.append(f"🎉 Riktig! Oppgave {self.exercise} er løst.")
        else:
            lines.append(f"Ikke helt i mål ennå. Rett opp punktene med ❌ og kjør sjekken igjen; "
                         f"oppgave{self.exercise}.hint() gir deg et hint.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


class CodeView:
    """Code to show in a notebook: folded away in a ``<details>`` until the learner opens it."""

    def __init__(self, summary: str, code: str, *, language: str = "javascript", note: str = "") -> None:
        self.summary = summary
        self.code = code.rstrip("\n")
        self.language = language
        self.note = note

    def _repr_html_(self) -> str:
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return (f"<details class='kurs-fasit'><summary><b>{html.escape(self.summary)}</b> "
                f"(klikk for å vise)</summary>{note}<pre><code class='language-{self.language}'>"
                f"{html.escape(self.code)}</code></pre></details>")

    def __repr__(self) -> str:
        parts = [self.summary]
        if self.note:
            parts.append(self.note)
        parts.append(self.code)
        return "\n\n".join(parts)
