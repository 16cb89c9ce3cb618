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
    # False while the learner has not tried yet (starter code unchanged, nothing published): the
    # report then says so instead of "not quite there", which would read as a wrong answer.
    attempted: bool = True

    def ok(self, text: str) -> None:
        self.items.append(Item(True, text))

    def fail(self, text: str, fix: str | None = None) -> None:
        self.items.append(Item(False, text, fix))

    def note(self, text: str) -> None:
        self.items.append(Item(None, text))

    def not_attempted(self, text: str, fix: str) -> None:
        self.attempted = False
        self.items.append(Item(None, text, fix))

    @property
    def passed(self) -> bool:
        return self.attempted and any(i.ok for i in self.items) and not any(i.ok is False for i in self.items)

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if i.ok is False]

    def text(self) -> str:
        lines = [f"Oppgave {self.exercise} · {self.title}", ""]
        if not self.attempted:
            # Not tried yet: say what is still to do, without ✅/❌ verdicts on the starter code.
            lines += [str(i) for i in self.items if i.ok is None]
            todo = self.problems
            if todo:
                lines.append("Dette er igjen å gjøre:")
                lines += [f"  • {i.text}" + (f"\n    → {i.fix}" if i.fix else "") for i in todo]
        else:
            lines += [str(i) for i in self.items]
        lines.append("")
        if not self.attempted:
            lines.append(f"⏳ Oppgave {self.exercise} er ikke prøvd ennå – ingen fare. "
                         f"oppgave{self.exercise}.hint() hjelper deg i gang.")
        elif self.passed:
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
