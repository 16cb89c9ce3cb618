"""An MQTT console for notebooks, like the test client in the AWS IoT console:
subscribe with a topic filter, watch messages stream in with topic and time, publish."""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
from collections import deque
from typing import Any

import ipywidgets as w

from kurs.errors import CourseError

MAX_SHOWN = 200


def _pretty(payload: bytes) -> str:
    text = payload.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


class MqttConsole:
    """``kurs.widgets.MqttConsole("devices/#")`` in a cell shows the console."""

    def __init__(self, *topic_filters: str, client: Any = None, max_shown: int = MAX_SHOWN,
                 mode: str | None = None) -> None:
        from kurs import mqtt

        self._client = client or mqtt.connect(client_id=None, mode=mode)  # mode="lokal": the exercises
        self._lock = threading.Lock()
        self.messages: deque[tuple[dt.datetime, str, bytes]] = deque(maxlen=max_shown)
        self.filters: list[str] = []

        self._filter = w.Text(value=topic_filters[0] if topic_filters else "#", description="Emnefilter:",
                              layout=w.Layout(width="360px"))
        self._sub_button = w.Button(description="Abonner", button_style="primary", icon="rss")
        self._sub_button.on_click(lambda _: self._subscribe_clicked())
        self._subs_label = w.HTML()
        self._clear_button = w.Button(description="Tøm", icon="trash")
        self._clear_button.on_click(lambda _: self.clear())
        self._log = w.HTML(layout=w.Layout(max_height="320px", overflow="auto", border="1px solid #ccc",
                                           padding="4px"))
        self._pub_topic = w.Text(value="state", description="Emne:", layout=w.Layout(width="360px"))
        self._pub_payload = w.Textarea(value='{"on": true}', description="Melding:",
                                       layout=w.Layout(width="480px", height="70px"))
        self._pub_qos = w.Dropdown(options=[("QoS 0", 0), ("QoS 1", 1)], value=1, layout=w.Layout(width="90px"))
        self._pub_button = w.Button(description="Publiser", button_style="success", icon="paper-plane")
        self._pub_button.on_click(lambda _: self._publish_clicked())
        self._status = w.HTML()
        self.widget = w.VBox([
            w.HTML("<b>MQTT-konsoll</b> – abonner på emner og publiser meldinger"),
            w.HBox([self._filter, self._sub_button, self._clear_button]),
            self._subs_label,
            self._log,
            w.HBox([self._pub_topic, self._pub_qos]),
            w.HBox([self._pub_payload, self._pub_button]),
            self._status,
        ])
        self._render()
        for f in topic_filters:
            self.subscribe(f)

    # --- actions a learner (or a test) can take ------------------------------------------
    def subscribe(self, topic_filter: str) -> None:
        topic_filter = topic_filter.strip()
        if not topic_filter:
            raise CourseError("Emnefilteret er tomt.", "Skriv for eksempel «devices/#» eller «state».")
        if topic_filter in self.filters:
            return
        self._client.message_callback_add(topic_filter, self._on_message)
        result, _ = self._client.subscribe(topic_filter, qos=1)
        if result != 0:
            raise CourseError(f"Kunne ikke abonnere på {topic_filter!r}.", "Sjekk at emnefilteret er gyldig.")
        self.filters.append(topic_filter)
        self._subs_label.value = "Abonnerer på: " + ", ".join(f"<code>{html.escape(f)}</code>" for f in self.filters)

    def publish(self, topic: str, payload: str | bytes | dict, qos: int = 1) -> None:
        data = json.dumps(payload) if isinstance(payload, dict | list) else payload
        info = self._client.publish(topic, data, qos=qos)
        info.wait_for_publish(timeout=5)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
        self._render()

    def close(self) -> None:
        for f in self.filters:
            self._client.message_callback_remove(f)
        self._client.disconnect()
        self._client.loop_stop()

    # --- internals -------------------------------------------------------------------------
    def _subscribe_clicked(self) -> None:
        try:
            self.subscribe(self._filter.value)
            self._status.value = ""
        except CourseError as exc:
            self._status.value = f"<span style='color:#b00'>⚠️ {html.escape(str(exc))}</span>"

    def _publish_clicked(self) -> None:
        topic = self._pub_topic.value.strip()
        if not topic or "+" in topic or "#" in topic:
            self._status.value = ("<span style='color:#b00'>⚠️ Skriv et emne uten jokertegn (+ og # brukes bare "
                                  "når du abonnerer).</span>")
            return
        self.publish(topic, self._pub_payload.value, qos=self._pub_qos.value)
        self._status.value = f"Publiserte på <code>{html.escape(topic)}</code>."

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((dt.datetime.now(), msg.topic, bytes(msg.payload)))
        self._render()

    def _render(self) -> None:
        with self._lock:
            rows = list(self.messages)
        if not rows:
            self._log.value = "<i>Ingen meldinger ennå.</i>"
            return
        items = [
            f"<div><span style='color:#888'>{t:%H:%M:%S}</span> <b>{html.escape(topic)}</b> "
            f"<code>{html.escape(_pretty(payload))}</code></div>"
            for t, topic, payload in reversed(rows)
        ]
        self._log.value = "".join(items)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = f"MQTT-konsoll (abonnerer på {', '.join(self.filters) or 'ingenting ennå'})"
        return data
