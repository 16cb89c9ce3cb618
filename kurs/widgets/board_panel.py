"""The board panel: a virtual ESP32 as a learner sees it – its name and connection, a button to
press (or hold), an LED that lights in colour, and the live console log."""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as w

LED_COLOURS = {"rød": "#e53935", "grønn": "#43a047", "gul": "#fdd835", "blå": "#1e88e5"}
CONSOLE_LINES = 12  # the newest lines, like the bottom of a terminal; board.console has them all


def led_html(lit: bool, colour: str = "rød", label: str = "LED") -> str:
    """An LED drawn in HTML; the classes let a browser test see whether it is lit."""
    rgb = LED_COLOURS.get(colour, colour)
    style = (f"background:{rgb};box-shadow:0 0 14px 5px {rgb};" if lit else "background:#5a5a5a;")
    state = "PÅ" if lit else "AV"
    return (f"<div class='kurs-led {'kurs-led-on' if lit else 'kurs-led-off'}' style='display:flex;"
            f"align-items:center;gap:10px'><div style='width:26px;height:26px;border-radius:50%;"
            f"border:2px solid #333;{style}'></div><span>{html.escape(label)}: <b>{state}</b></span></div>")


class BoardPanel:
    """``kurs.widgets.BoardPanel(board)``: put it last in a cell to show it."""

    def __init__(self, board: Any, *, led_pin: int | None = None, colour: str = "rød",
                 role: str | None = None, refresh_s: float = 0.1) -> None:
        self.board = board
        self.led_pin = led_pin
        self.colour = colour
        self._title = w.HTML()
        self._led = w.HTML()
        self._press = w.Button(description="Trykk på knappen", icon="hand-pointer", button_style="primary",
                               layout=w.Layout(width="auto", min_width="fit-content"),
                               tooltip="Trykker og slipper BOOT-knappen (GPIO 0)")
        self._press.add_class("kurs-knapp")
        self._press.on_click(lambda _: self._click())
        self._hold = w.ToggleButton(description="Hold inne", icon="hand-rock",
                                    layout=w.Layout(width="auto", min_width="fit-content"),
                                    tooltip="Holder knappen nede til du klikker igjen")
        self._hold.add_class("kurs-hold")
        self._hold.observe(self._hold_changed, names="value")
        self._console = w.HTML(layout=w.Layout(border="1px solid #444"))
        self._console.add_class("kurs-konsoll")
        self.widget = w.VBox([
            self._title,
            w.HBox([self._led, self._press, self._hold], layout=w.Layout(align_items="center", grid_gap="16px")),
            w.HTML("<small>Konsoll (som <code>mos console</code>):</small>"),
            self._console,
        ], layout=w.Layout(border="2px solid #1565c0", padding="8px", width="760px"))
        self.widget.add_class("kurs-kort")
        # e.g. "kurs-kort-knapp": lets a browser test (or CSS) find the button or the LED board
        role = role or getattr(getattr(board, "app", None), "name", None)
        if role:
            self.widget.add_class(f"kurs-kort-{role}")
        self._stop = threading.Event()
        self._refresh()
        threading.Thread(target=self._poll, args=(refresh_s,), daemon=True, name="kortpanel").start()

    # --- actions ---------------------------------------------------------------------------
    def _click(self) -> None:
        self.board.press()
        time.sleep(0.08)  # a human press lasts longer than the firmware's debounce
        self.board.release()

    def _hold_changed(self, change: dict) -> None:
        if change["new"]:
            self.board.press()
        else:
            self.board.release()

    def close(self) -> None:
        self._stop.set()

    # --- display ----------------------------------------------------------------------------
    def _lit(self) -> bool:
        try:
            return bool(self.board.led(self.led_pin) if self.led_pin is not None else self.board.led())
        except Exception:  # a board that is rebooting has no pins for a moment
            return False

    def _refresh(self) -> None:
        connected = bool(getattr(self.board, "connected", False))
        name = html.escape(str(getattr(self.board, "device_id", "dings")))
        dot = ("<span style='color:#2e7d32'>● tilkoblet skyen</span>" if connected
               else "<span style='color:#9e9e9e'>○ ikke tilkoblet</span>")
        self._title.value = f"<b>{name}</b> &nbsp; {dot}"
        led_label = f"LED (GPIO {self.led_pin})" if self.led_pin is not None else "LED"
        self._led.value = led_html(self._lit(), self.colour, led_label)
        lines = list(self.board.console.lines)[-CONSOLE_LINES:]
        text = "\n".join(html.escape(str(line)) for line in lines)
        # Only the newest lines, wrapped so a narrow panel (two boards side by side) cuts no message
        # short: the view always ends with the latest, as a terminal does.
        self._console.value = ("<pre style='margin:0;padding:4px;font-size:12px;white-space:pre-wrap;"
                               "word-break:normal;overflow-wrap:break-word;"
                               f"min-height:16em'>{text}</pre>")

    def _poll(self, every: float) -> None:
        last = None
        while not self._stop.wait(every):
            state = (self._lit(), getattr(self.board, "connected", False), len(self.board.console.lines),
                     self.board.console.lines[-1].index if self.board.console.lines else -1)
            if state != last:
                last = state
                self._refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = f"Kortpanel for {getattr(self.board, 'device_id', 'dings')}"
        return data
