"""The instructor's tools: everything in the local cloud at a glance, a reset in seconds, and the
finished product as a demo. Guide: docs/instruktor.md."""

from __future__ import annotations

import html
import json
import threading
import time
from typing import Any

import ipywidgets as w

from kurs import sky
from kurs.widgets.mqtt_console import MqttConsole

# Everything a room of learners produces: their topics, shadows and lifecycle events.
ALL_TOPICS = ("#", "$aws/things/+/shadow/#", "$aws/events/#")


def connected_clients() -> dict[str, dict[str, Any]]:
    """Who is connected to the running local cloud now (client id -> info)."""
    from kurs.sky.info import sky_dir

    try:
        return json.loads((sky_dir() / "klienter.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


class Overview:
    """``kurs.instructor.Overview()``: clients, things and every message, live."""

    def __init__(self, refresh_s: float = 1.0) -> None:
        sky.start(quiet=True)
        self._clients = w.HTML()
        self._things = w.HTML()
        self._reset_button = w.Button(description="Tøm den lokale skyen", icon="broom", button_style="danger",
                                      tooltip="Sletter alle dingser, sertifikater, regler og skygger")
        self._reset_button.on_click(lambda _: self._reset())
        self._status = w.HTML()
        self.console = MqttConsole(*ALL_TOPICS)
        self.widget = w.VBox([
            w.HTML("<h3>Instruktøroversikt – den lokale skyen</h3>"),
            w.HBox([self._clients, self._things], layout=w.Layout(grid_gap="40px")),
            w.HBox([self._reset_button, self._status]),
            self.console.widget,
        ])
        self.room = None
        from kurs.room import roster

        current = sky.status()
        if current is not None and current.room and roster.load() is not None:
            # A room runs on this cloud: its learners, boards and progress first (kurs.room).
            from kurs.room.widget import RoomOverview

            self.room = RoomOverview(refresh_s=refresh_s)
            self.widget.children = (self.widget.children[0], self.room.widget, *self.widget.children[1:])
        self._stop = threading.Event()
        self.refresh()
        threading.Thread(target=self._poll, args=(refresh_s,), daemon=True, name="instruktor").start()

    def refresh(self) -> None:
        import boto3

        clients = connected_clients()
        rows = "".join(
            f"<tr><td><code>{html.escape(cid)}</code></td><td>{'TLS' if info.get('tls') else 'TCP'}</td>"
            f"<td>{int(time.time() - info.get('since', time.time()))} s</td></tr>"
            for cid, info in sorted(clients.items()))
        self._clients.value = (f"<b>Tilkoblet nå ({len(clients)})</b><table>"
                               f"<tr><th>Klient</th><th></th><th>Tilkoblet i</th></tr>{rows}</table>")
        try:
            things = sorted(t["thingName"] for t in boto3.client("iot").list_things()["things"])
        except Exception as exc:  # the cloud may be restarting
            things, self._status.value = [], f"⚠️ {html.escape(str(exc))}"
        self._things.value = (f"<b>Dingser i registeret ({len(things)})</b><br>"
                              + "<br>".join(f"<code>{html.escape(t)}</code>" for t in things))

    def _reset(self) -> None:
        sky.reset(quiet=True)
        self.console.clear()
        self._status.value = "✅ Den lokale skyen er tømt."
        self.refresh()

    def _poll(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.refresh()
            except Exception:  # never let a display thread die loudly in a lesson
                pass

    def close(self) -> None:
        self._stop.set()
        self.console.close()
        if self.room is not None:
            self.room.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = "Instruktøroversikt for den lokale skyen"
        return data


def reset() -> None:
    """Empty the local cloud in place (things, certificates, policies, rules, shadows)."""
    started = time.monotonic()
    sky.reset(quiet=True)
    print(f"Den lokale skyen er tømt på {time.monotonic() - started:.1f} s.")


class Demo:
    """The finished product: a button board and an LED board talking through the local cloud."""

    def __init__(self, *, serverless: bool = False) -> None:
        from kurs.esp32 import VirtualBoard

        sky.start(quiet=True)
        self.serverless = serverless
        if serverless:
            # Button events go rule -> Lambda -> shadow; the LED board follows only its shadow.
            from kurs import serverless as wiring

            self.knapp = VirtualBoard("knapp", device_id="esp32_DEMO01")
            self.lys = VirtualBoard("start", device_id="esp32_DEMO02")
            wiring.deploy_button_to_light(self.knapp.device_id, self.lys.device_id)
        else:
            self.knapp = VirtualBoard("knapp", device_id="esp32_DEMO01")
            self.lys = VirtualBoard("lys", device_id="esp32_DEMO02")
        self.knapp.start()
        self.lys.start()

    def panels(self) -> Any:
        from kurs.widgets.board_panel import BoardPanel

        self._panels = [BoardPanel(self.knapp, role="knapp"),
                        BoardPanel(self.lys, led_pin=2, colour="gul", role="lys")]
        return w.HBox([p.widget for p in self._panels])

    def stop(self) -> None:
        for panel in getattr(self, "_panels", []):
            panel.close()
        self.knapp.close()
        self.lys.close()


def demo(*, serverless: bool = False) -> Any:
    """Start the demo and return both board panels side by side (put it last in a cell)."""
    global _demo
    if _demo is not None:
        _demo.stop()
    _demo = Demo(serverless=serverless)
    return _demo.panels()


_demo: Demo | None = None
