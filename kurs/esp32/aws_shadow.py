"""The device shadow over AWS IoT's MQTT topics, as the Mongoose OS ``aws`` library does it.

Behaviour (``aws/src/mgos_aws_shadow.c`` of the course's era, before the version check was
removed in 2020):

* starts only with ``shadow.enable``, ``mqtt.enable``, a thing name, and either an
  ``amazonaws.com`` server or ``shadow.lib: aws``;
* on CONNACK it subscribes (QoS 1, one SUBSCRIBE) to get/accepted, get/rejected,
  update/accepted, update/rejected and update/delta; on that SUBACK it is connected: fires
  ``CONNECTED``, ``Event.CLOUD_CONNECTED`` and, with ``shadow.get_on_connect``, publishes a GET;
* ``Shadow.update(v, obj)`` publishes ``{"state":{"reported":obj},"version":v,"clientToken":T}``
  (no version when 0); T is the CRC-32 of the thing name as 8 hex digits; updates made while
  offline wait (at most ``mqtt.max_queue_length``) and go out after the next subscription;
* accepted replies count only with our clientToken; deltas and rejections always do;
  a message with a version older than the newest seen is dropped;
* the JS handler gets the payload's ``state``; ``AWS.Shadow`` handlers get deltas only after a GET.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kurs.esp32 import events as ev
from kurs.esp32.console import LL_DEBUG, LL_ERROR, LL_INFO, LL_WARN
from kurs.esp32.events import EV_CLOSE, EV_CONNACK, EV_PUBLISH, EV_SUBACK
from kurs.esp32.ffi import byte_length

if TYPE_CHECKING:
    from kurs.esp32.services import FirmwareServices

_SRC = "mgos_aws_shadow.c"

# Topic ids (mgos_aws_shadow_topic_id) and the AWS shadow events (mgos_aws_shadow_event).
GET, GET_ACCEPTED, GET_REJECTED, UPDATE, UPDATE_ACCEPTED, UPDATE_REJECTED, UPDATE_DELTA = range(1, 8)
AWS_CONNECTED, AWS_GET_ACCEPTED, AWS_GET_REJECTED, AWS_UPDATE_ACCEPTED, AWS_UPDATE_REJECTED, AWS_UPDATE_DELTA = range(6)
_TOPIC_TO_AWS_EV = {GET_ACCEPTED: AWS_GET_ACCEPTED, GET_REJECTED: AWS_GET_REJECTED,
                    UPDATE_ACCEPTED: AWS_UPDATE_ACCEPTED, UPDATE_REJECTED: AWS_UPDATE_REJECTED,
                    UPDATE_DELTA: AWS_UPDATE_DELTA}
_SUFFIXES = {"get": GET, "get/accepted": GET_ACCEPTED, "get/rejected": GET_REJECTED, "update": UPDATE,
             "update/accepted": UPDATE_ACCEPTED, "update/rejected": UPDATE_REJECTED, "update/delta": UPDATE_DELTA}
SHADOW_EVENT_NAMES = {ev.SHADOW_GET: "GET", ev.SHADOW_UPDATE: "UPDATE", ev.SHADOW_CONNECTED: "CONNECTED",
                      ev.SHADOW_GET_ACCEPTED: "GET_ACCEPTED", ev.SHADOW_GET_REJECTED: "GET_REJECTED",
                      ev.SHADOW_UPDATE_ACCEPTED: "UPDATE_ACCEPTED", ev.SHADOW_UPDATE_REJECTED: "UPDATE_REJECTED",
                      ev.SHADOW_UPDATE_DELTA: "UPDATE_DELTA"}
AWS_EVENT_NAMES = ["CONNECTED", "GET_ACCEPTED", "GET_REJECTED", "UPDATE_ACCEPTED", "UPDATE_REJECTED", "UPDATE_DELTA"]


def client_token(thing_name: str) -> str:
    """The token mgos puts in its requests: CRC-32 of the thing name, 8 lower-case hex digits."""
    return f"{zlib.crc32(thing_name.encode()) & 0xFFFFFFFF:08x}"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class AwsShadow:
    def __init__(self, fw: FirmwareServices) -> None:
        self.fw = fw
        self.active = False
        self.thing_name = ""
        self.token = ""
        self.connected = False
        self.want_get = False
        self.sent_get = False
        self.have_get = False
        self.sub_id = 0
        self.current_version = 0
        self.last_state_version = 0
        self.pending: list[bytes] = []
        self._state_handlers: list[int] = []
        self._poll_scheduled = False

    # -- start-up ----------------------------------------------------------------------------
    def init(self) -> bool:
        cfg = self.fw.config
        if not cfg.get("shadow.enable"):
            return False
        lib = str(cfg.get("shadow.lib") or "")
        if lib and lib != "aws":
            self._log(LL_DEBUG, f"shadow.lib={lib}, not initialising AWS shadow", 556)
            return False
        if not cfg.get("mqtt.enable"):
            self._log(LL_DEBUG, "AWS Device Shadow requires MQTT", 560)
            return False
        thing = str(cfg.get("aws.thing_name") or "") or str(cfg.get("device.id") or "")
        if not thing:
            self._log(LL_ERROR, "AWS Device Shadow requires thing_name or device.id", 565)
            return False
        server = str(cfg.get("mqtt.server") or "")
        if not lib and "amazonaws.com" not in server:
            self._log(LL_ERROR, "MQTT is not configured for AWS, not initialising shadow", 571)
            return False
        self.active = True
        self.thing_name = thing
        self.token = client_token(thing)
        self.fw.mqtt.add_python_handler(self.on_mqtt)
        self.fw.events.add_handler(ev.SHADOW_GET, lambda e, data: self.get())
        self.fw.events.add_handler(ev.SHADOW_UPDATE, lambda e, data: self.update(data[0], data[1]))
        self._log(LL_INFO, f"Device shadow name: {thing} (token {self.token})", 589)
        return True

    def _log(self, level: int, message: str, line: int) -> None:
        self.fw.console.log(f"{_SRC}:{line}", level, message)

    def topic(self, suffix: str) -> str:
        return f"$aws/things/{self.thing_name}/shadow/{suffix}"

    def topic_id(self, topic: str) -> int:
        prefix = f"$aws/things/{self.thing_name}/shadow/"
        if not topic.startswith(prefix):
            return 0
        return _SUFFIXES.get(topic[len(prefix):], 0)

    # -- requests from the firmware ----------------------------------------------------------
    def get(self) -> bool:
        self.want_get = True
        self._schedule_poll()
        return True

    def update(self, version: float, state_json: str, *, extended: bool = False) -> bool:
        body = str(state_json) if extended else '{"reported":' + str(state_json) + "}"
        payload = '{"state":' + body
        if version and int(version) > 0:
            payload += f',"version":{int(version)}'
        payload += f',"clientToken":"{self.token}"}}'
        limit = max(1, int(self.fw.config.get("mqtt.max_queue_length") or 5))
        while len(self.pending) >= limit:
            self._log(LL_ERROR, "Update queue overflow, dropping the oldest update", 249)
            self.pending.pop(0)
        self.pending.append(payload.encode("utf-8"))
        self._schedule_poll()
        return True

    def _schedule_poll(self) -> None:
        if not self._poll_scheduled:
            self._poll_scheduled = True
            self.fw.post(self.poll)

    def poll(self) -> None:
        self._poll_scheduled = False
        if not self.connected:
            return
        if self.want_get and not self.sent_get:
            self._log(LL_INFO, f"Requesting state, current version {self.current_version}", 230)
            self.fw.mqtt.publish(self.topic("get"), _compact({"clientToken": self.token}).encode(), 1)
            self.sent_get = True
        while self.pending and self.connected:
            data = self.pending.pop(0)
            self._log(LL_INFO, f"Update: {data[:200].decode('utf-8', 'replace')}", 249)
            self.fw.mqtt.publish(self.topic("update"), data, 1)

    # -- MQTT events (a global handler: it sees what no MQTT.sub took) -----------------------
    def on_mqtt(self, event: int, data: Any) -> None:
        if event == EV_CONNACK:
            self._log(LL_DEBUG, "Subscribing to topics", 277)
            topics = [self.topic(s) for s in ("get/accepted", "get/rejected", "update/accepted",
                                              "update/rejected", "update/delta")]
            self.sub_id = self.fw.mqtt.subscribe_many(topics, 1)
        elif event == EV_SUBACK:
            if data.get("message_id") == self.sub_id and self.sub_id:
                self._on_subscribed()
        elif event == EV_CLOSE:
            if self.connected:
                self.fw.events.trigger(ev.CLOUD_DISCONNECTED, {"type": "aws"})
            self.connected = self.sent_get = False
        elif event == EV_PUBLISH:
            self._on_publish(data["topic"], data["payload"])

    def _on_subscribed(self) -> None:
        self._log(LL_INFO, "Subscribed", 294)
        self.connected = True
        self.sent_get = self.have_get = False
        self.want_get = bool(self.fw.config.get("shadow.get_on_connect"))
        for callback in list(self._state_handlers):
            self.fw.invoke(callback, [AWS_CONNECTED, "", "", "", ""])
        self.fw.events.trigger(ev.CLOUD_CONNECTED, {"type": "aws"})
        self.fw.events.trigger(ev.SHADOW_CONNECTED, None)
        self._schedule_poll()

    def _on_publish(self, topic: str, payload: bytes) -> None:
        topic_id = self.topic_id(topic)
        if topic_id in (0, GET, UPDATE):
            return
        try:
            doc = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        if not isinstance(doc, dict):
            doc = {}
        if topic_id not in (UPDATE_DELTA, GET_REJECTED, UPDATE_REJECTED):
            token = doc.get("clientToken")
            if not (isinstance(token, str) and len(token) >= 8 and token[:8] == self.token):
                return  # an answer to somebody else's request
        if topic_id in (GET_ACCEPTED, GET_REJECTED):
            self.want_get = self.sent_get = False
        aws_ev = _TOPIC_TO_AWS_EV[topic_id]
        if topic_id in (GET_ACCEPTED, UPDATE_ACCEPTED, UPDATE_DELTA):
            version = doc.get("version") if isinstance(doc.get("version"), int) else 0
            self._log(LL_INFO, f"Version: {self.current_version} -> {version} ({topic_id})", 356)
            if version < self.current_version:
                return  # "Thanks, not interested."
            if topic_id == GET_ACCEPTED:
                self.have_get = True
            state = doc.get("state")
            self.fw.events.trigger(ev.SHADOW_CONNECTED + aws_ev, _compact(state) if state is not None else "")
            if self._state_handlers and (topic_id != UPDATE_DELTA or self.have_get):
                if topic_id == UPDATE_DELTA:
                    reported, desired = "", _compact(state) if state is not None else ""
                    metadata = doc.get("metadata")
                    reported_md, desired_md = "", _compact(metadata) if metadata is not None else ""
                else:
                    st = state if isinstance(state, dict) else {}
                    md = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
                    reported = _compact(st["reported"]) if "reported" in st else ""
                    desired = _compact(st["desired"]) if "desired" in st else ""
                    reported_md = _compact(md["reported"]) if "reported" in md else ""
                    desired_md = _compact(md["desired"]) if "desired" in md else ""
                for callback in list(self._state_handlers):
                    self.fw.invoke(callback, [aws_ev, reported, desired, reported_md, desired_md])
                self.last_state_version = version
            self.current_version = version
        else:
            code = doc.get("code") if isinstance(doc.get("code"), int) else -1
            message = str(doc.get("message") or "")
            self.fw.events.trigger(ev.SHADOW_CONNECTED + aws_ev, {"code": code, "message": message})
            self._log(LL_ERROR, f"Error: {code} {message}", 424)

    # -- the C functions ---------------------------------------------------------------------
    def set_state_handler(self, callback: int, _ud: Any = None) -> None:
        self._log(LL_WARN, "mgos_aws_shadow is deprecated and will be removed soon, use the shadow lib "
                           "with AWS backend instead (https://github.com/mongoose-os-libs/shadow).", 450)
        self._state_handlers.append(int(callback))

    def symbols(self) -> dict[str, Callable[..., Any]]:
        fw = self.fw
        return {
            "mgos_shadow_get": lambda: fw.events.trigger(ev.SHADOW_GET, None) > 0,
            "mgos_shadow_update": lambda version, state: fw.events.trigger(
                ev.SHADOW_UPDATE, (version, state)) > 0,
            "mgos_shadow_event_name": lambda e: SHADOW_EVENT_NAMES.get(int(e), ""),
            "mgos_get_mgstr_ptr": lambda data: data if isinstance(data, str) else None,
            "mgos_get_mgstr_len": lambda data: byte_length(data) if isinstance(data, str) else 0,
            "mgos_aws_is_connected": lambda: self.active and self.connected,
            "mgos_aws_shadow_set_state_handler_simple": self.set_state_handler,
            "mgos_aws_shadow_update_simple": lambda v, s: int(self.active and self.update(v, s)),
            "mgos_aws_shadow_update_ext_simple": lambda v, s: int(self.active and self.update(v, s, extended=True)),
            "mgos_aws_shadow_get": lambda: self.active and self.get(),
            "mgos_aws_shadow_get_last_state_version": lambda: float(self.last_state_version),
            "mgos_aws_shadow_event_name": lambda e: AWS_EVENT_NAMES[int(e)] if 0 <= int(e) < 6 else "",
        }
