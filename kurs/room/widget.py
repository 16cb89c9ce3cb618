"""The room in the instructor's notebook: learners with their boards and exercises, the message
stream filterable per learner, and the buttons to broadcast, reset one learner or end the room."""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w

from kurs.room import overview

ALL = "Alle"
CONFIRM_S = 5.0


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + " …"


class RoomOverview:
    def __init__(self, refresh_s: float = 1.0) -> None:
        self.watcher = overview.RoomWatcher()
        self._table = w.HTML()
        wide = {"description_width": "initial"}
        self._filter = w.Dropdown(options=[ALL], value=ALL, description="Meldinger fra:", style=wide)
        self._filter.observe(lambda _: self.refresh(), names="value")
        self._messages = w.HTML()
        self._text = w.Text(placeholder="Beskjed til alle i rommet")
        auto = w.Layout(width="auto")
        send = w.Button(description="Send til alle", icon="bullhorn", layout=auto)
        send.on_click(lambda _: self._broadcast())
        self._who = w.Dropdown(options=[], description="Deltaker:", style=wide)
        self._reset_button = w.Button(description="Nullstill deltakeren", icon="undo", button_style="warning",
                                      layout=auto, tooltip="Fjerner alt deltakeren har laget i rommet: dingser, "
                                      "sertifikater, policyer, skygger, regler, funksjoner, tabeller og roller")
        self._reset_button.on_click(lambda _: self._confirmed("reset", self._reset))
        self._end_button = w.Button(description="Avslutt rommet", icon="door-closed", button_style="danger",
                                    layout=auto, tooltip="Klassekoden og deltakernes nøkler slutter å virke")
        self._end_button.on_click(lambda _: self._confirmed("end", self._end))
        self._armed: tuple[str, float] | None = None  # a dangerous button clicked once, and when
        self._status = w.HTML()
        self.widget = w.VBox([w.HTML("<h3>Rommet</h3>"), self._table, w.HBox([self._text, send]),
                              w.HBox([self._who, self._reset_button, self._end_button]), self._status,
                              self._filter, self._messages])
        self._stop = threading.Event()
        self.refresh()
        threading.Thread(target=self._poll, args=(refresh_s,), daemon=True, name="rom-oversikt").start()

    def refresh(self) -> None:
        learners = self.watcher.learners()
        names = [ALL, *(f"{x.name} ({x.slug})" for x in learners)]
        if list(self._filter.options) != names:
            self._filter.options = names
        who = [(f"{x.name} ({x.slug})", x.slug) for x in learners]
        if list(self._who.options) != who:
            self._who.options = who
        head = "".join(f"<th>{n}</th>" for n in overview.EXERCISES)
        rows = []
        for learner in learners:
            boards = "<br>".join(
                f"<code>{html.escape(b.thing)}</code> {overview._connected(b)}, "
                + ("ekte kort" if b.real else f"lys {overview._led(b)}, trykk {overview._ago(b.last_press)}")
                for b in sorted(learner.boards.values(), key=lambda b: b.thing))
            marks = "".join(f"<td>{'✅' if learner.passed.get(n) else ('❌' if n in learner.passed else '·')}</td>"
                            for n in overview.EXERCISES)
            rows.append(f"<tr><td>{html.escape(learner.name)}</td><td>{boards or '–'}</td>{marks}</tr>")
        self._table.value = (f"<table><tr><th>Deltaker</th><th>Kort</th>{head}</tr>{''.join(rows)}</table>"
                             if rows else "<i>Ingen deltakere ennå.</i>")
        chosen = self._filter.value
        slug = None if chosen in (None, ALL) else str(chosen).rsplit("(", 1)[-1].rstrip(")")
        names = {x.slug: x.name for x in learners}
        lines = [f"<tr><td>{time.strftime('%H:%M:%S', time.localtime(m.when))}</td>"
                 f"<td>{html.escape(names.get(m.slug or '', ''))}</td><td><code>{html.escape(m.topic)}</code></td>"
                 f"<td>{html.escape(_short(m.text))}</td></tr>" for m in self.watcher.messages(slug)[-50:]]
        self._messages.value = (
            f"<div style='max-height: 20em; overflow-y: auto'><table style='font-size: 90%'>{''.join(reversed(lines))}"
            "</table></div>" if lines else "<i>Ingen meldinger ennå.</i>")

    def _broadcast(self) -> None:
        from kurs.room import broadcast

        if self._text.value.strip():
            broadcast(self._text.value.strip())
            self._status.value = "✅ Beskjeden er sendt."
            self._text.value = ""

    def _confirmed(self, what: str, action: Any) -> None:
        """Reset and end act on the second click within CONFIRM_S: one stray click in front of a
        room must not wipe a learner's work or end everyone's keys."""
        now = time.monotonic()
        if self._armed is not None and self._armed[0] == what and now - self._armed[1] < CONFIRM_S:
            self._armed = None
            action()
            return
        self._armed = (what, now)
        target = f"alt {self._who.label or 'deltakeren'} har laget" if what == "reset" else "rommet for alle"
        self._status.value = f"⚠️ Klikk én gang til innen {CONFIRM_S:.0f} sekunder for å fjerne {target}."

    def _reset(self) -> None:
        from kurs.room import reset_learner

        if self._who.value:
            removed = reset_learner(self._who.value, quiet=True)
            self._status.value = f"✅ Fjernet {len(removed)} ting."

    def _end(self) -> None:
        from kurs.room import end

        self.close()
        end(quiet=True)
        self._status.value = "✅ Rommet er avsluttet."

    def _poll(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - never let a display thread die loudly in a lesson
                pass

    def close(self) -> None:
        self._stop.set()
        self.watcher.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = overview.text(self.watcher)
        return data
