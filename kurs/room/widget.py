"""The room in the instructor's notebook: learners with their boards and exercises, the message
stream filterable per learner, and the buttons to broadcast, reset one learner or end the room."""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

from kurs.room import overview

ALL = "Alle"


class RoomOverview:
    def __init__(self, refresh_s: float = 1.0) -> None:
        self.watcher = overview.RoomWatcher()
        self._table = w.HTML()
        self._filter = w.Dropdown(options=[ALL], value=ALL, description="Meldinger fra:")
        self._filter.observe(lambda _: self.refresh(), names="value")
        self._messages = w.HTML()
        self._text = w.Text(placeholder="Beskjed til alle i rommet")
        send = w.Button(description="Send til alle", icon="bullhorn")
        send.on_click(lambda _: self._broadcast())
        self._who = w.Dropdown(options=[], description="Deltaker:")
        reset = w.Button(description="Nullstill deltakeren", icon="undo", button_style="warning",
                         tooltip="Fjerner dingser, sertifikater, policyer og regler deltakeren har laget")
        reset.on_click(lambda _: self._reset())
        finish = w.Button(description="Avslutt rommet", icon="door-closed", button_style="danger",
                          tooltip="Klassekoden og deltakernes nøkler slutter å virke")
        finish.on_click(lambda _: self._end())
        self._status = w.HTML()
        self.widget = w.VBox([w.HTML("<h3>Rommet</h3>"), self._table, w.HBox([self._text, send]),
                              w.HBox([self._who, reset, finish]), self._status, self._filter, self._messages])
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
                f"<code>{html.escape(b.thing)}</code> {overview._connected(b)}, lys {overview._led(b)}, "
                f"trykk {overview._ago(b.last_press)}" for b in sorted(learner.boards.values(), key=lambda b: b.thing))
            marks = "".join(f"<td>{'✅' if learner.passed.get(n) else ('❌' if n in learner.passed else '·')}</td>"
                            for n in overview.EXERCISES)
            rows.append(f"<tr><td>{html.escape(learner.name)}</td><td>{boards or '–'}</td>{marks}</tr>")
        self._table.value = (f"<table><tr><th>Deltaker</th><th>Kort</th>{head}</tr>{''.join(rows)}</table>"
                             if rows else "<i>Ingen deltakere ennå.</i>")
        chosen = self._filter.value
        slug = None if chosen in (None, ALL) else str(chosen).rsplit("(", 1)[-1].rstrip(")")
        lines = [f"<code>{html.escape(m.topic)}</code> {html.escape(m.text)}" for m in self.watcher.messages(slug)[-50:]]
        self._messages.value = "<br>".join(reversed(lines)) or "<i>Ingen meldinger ennå.</i>"

    def _broadcast(self) -> None:
        from kurs.room import broadcast

        if self._text.value.strip():
            broadcast(self._text.value.strip())
            self._status.value = "✅ Beskjeden er sendt."
            self._text.value = ""

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
