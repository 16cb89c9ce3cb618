"""The AWS IoT Device Shadow service, in memory, for the local cloud.

One ``ShadowService`` holds every shadow (classic and named) and answers both sides with the
same state, as AWS IoT does:

- MQTT: ``handle_mqtt(topic, payload)`` takes any publish and returns the messages AWS would
  publish in reply (``…/update/accepted``, ``…/update/delta``, ``…/update/documents``,
  ``…/get/accepted`` and so on); topics that are not shadow requests give ``[]``.
- HTTP (iot-data ``UpdateThingShadow``, ``GetThingShadow``, ``DeleteThingShadow``,
  ``ListNamedShadowsForThing``): ``http_*`` return ``(status, body, messages)``; ``messages``
  are the MQTT messages the request causes (an HTTP update reaches devices through
  ``…/update/accepted``, ``…/update/delta`` and ``…/update/documents``). Errors over HTTP
  publish nothing. ``HTTP_ERROR_TYPES`` names the botocore exception for each error status
  (send it as the ``x-amzn-ErrorType`` header).

Behaviour follows the AWS IoT developer guide (device-shadow-document, device-shadow-data-flow,
device-shadow-mqtt, device-shadow-error-messages, diagnosing-shadows) and messages seen from the
real service. Choices where the guide is silent are marked "unverified" below.

- Shadows exist independently of the thing registry (AWS does not require a registered
  thing; ``UpdateThingShadow`` has no "not found" error), so there is no existence check.
- ``desired``/``reported`` merge: objects merge key by key, arrays and values replace whole,
  ``null`` deletes a key, ``"desired": null`` removes the section, ``"state": null`` empties the
  shadow. Empty objects are never stored (AWS answers a state made only of ``{}`` with
  "Missing required node: state").
- Every accepted update increments ``version``; a request naming another ``version`` gets 409.
  Delete keeps the version, and the next update continues from it.
- ``metadata`` mirrors the state with ``{"timestamp": <epoch seconds>}`` per leaf and per array
  element.
- The delta holds desired leaves that differ from reported (arrays compare whole) and is
  published after every accepted update that leaves a non-empty delta (unverified: AWS's own
  local shadow service, Greengrass ShadowManager, does this; the guide is ambiguous).
- Limits: 8 KB for desired + reported as compact JSON (metadata not counted), 6 levels of
  nesting inside ``desired``/``reported``, ``clientToken`` at most 64 bytes, payload 128 KB.
- Error documents are ``{"code", "message"}`` plus ``clientToken`` when the request had one.
  The real service leaves ``timestamp`` out of the errors we have seen (404 on get, 400
  missing state, 409), and the guide says it is not in every error, so we leave it out.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_STATE_BYTES = 8 * 1024
MAX_PAYLOAD_BYTES = 128 * 1024
MAX_DEPTH = 6
MAX_CLIENT_TOKEN_BYTES = 64

# botocore's error shape for each status of the iot-data shadow operations.
HTTP_ERROR_TYPES: dict[int, str] = {
    400: "InvalidRequestException",
    401: "UnauthorizedException",
    404: "ResourceNotFoundException",
    405: "MethodNotAllowedException",
    409: "ConflictException",
    413: "RequestEntityTooLargeException",
    415: "UnsupportedDocumentEncodingException",
    429: "ThrottlingException",
    500: "InternalFailureException",
    503: "ServiceUnavailableException",
}

_SECTIONS = ("desired", "reported")
_OPERATIONS = ("update", "get", "delete")

Json = Any


@dataclass(frozen=True)
class Outgoing:
    """One MQTT message the shadow service publishes."""

    topic: str
    payload: bytes


class _Rejected(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Shadow:
    state: dict[str, Json]  # "desired"/"reported" present only when non-empty
    metadata: dict[str, Json]  # mirrors state
    version: int
    exists: bool


@dataclass
class _Result:
    status: int
    body: dict[str, Json]
    messages: list[Outgoing]  # MQTT side effects besides the reply itself


def shadow_topic_prefix(thing: str, shadow_name: str | None = None) -> str:
    """``$aws/things/<thing>/shadow`` or ``$aws/things/<thing>/shadow/name/<name>``."""
    prefix = f"$aws/things/{thing}/shadow"
    return f"{prefix}/name/{shadow_name}" if shadow_name else prefix


def parse_shadow_topic(topic: str) -> tuple[str, str | None, str] | None:
    """``(thing, shadow_name or None, operation)`` for a shadow request topic, else None."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "$aws" or parts[1] != "things" or parts[3] != "shadow":
        return None
    thing = parts[2]
    if len(parts) == 5:
        name, operation = None, parts[4]
    elif len(parts) == 7 and parts[4] == "name":
        name, operation = parts[5], parts[6]
        if not name:
            return None
    else:
        return None
    if not thing or operation not in _OPERATIONS:
        return None
    return thing, name, operation


def _dumps(document: Json) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _reject_constant(name: str) -> None:
    raise ValueError(f"not JSON: {name}")


def _loads(payload: bytes) -> Json:
    """Strict JSON (no NaN/Infinity); raises _Rejected as the shadow service would."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise _Rejected(415, "Unsupported documented encoding; supported encoding is UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _Rejected(400, "Payload contains invalid json") from None


def _leaf_metadata(value: Json, ts: int) -> Json:
    """Metadata for a stored value: objects and arrays mirrored, one timestamp per leaf."""
    if isinstance(value, dict):
        return {key: _leaf_metadata(item, ts) for key, item in value.items()}
    if isinstance(value, list):
        return [_leaf_metadata(item, ts) for item in value]
    return {"timestamp": ts}


def _patch_metadata(patch: Json, ts: int) -> Json:
    """Metadata for the request as echoed in /update/accepted (a ``null`` gets a timestamp too)."""
    if isinstance(patch, dict):
        return {key: _patch_metadata(item, ts) for key, item in patch.items()}
    return _leaf_metadata(patch, ts)


def _prune_empty(section: dict[str, Json]) -> dict[str, Json]:
    """Copy of an object without empty objects (at any depth), as AWS never stores them."""
    result: dict[str, Json] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            value = _prune_empty(value)
            if not value:
                continue
        result[key] = value
    return result


def _has_null_in_array(value: Json, in_array: bool = False) -> bool:
    if value is None:
        return in_array
    if isinstance(value, dict):
        return any(_has_null_in_array(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_null_in_array(item, True) for item in value)
    return False


def _too_deep(node: Json, depth: int) -> bool:
    """True when a non-empty object or array sits deeper than MAX_DEPTH (the section is depth 1)."""
    if not isinstance(node, dict | list) or not node:
        return False
    if depth > MAX_DEPTH:
        return True
    children = node.values() if isinstance(node, dict) else node
    return any(_too_deep(child, depth + 1) for child in children)


def _merge(state: dict[str, Json], metadata: dict[str, Json], patch: dict[str, Json], ts: int) -> None:
    """Apply one section of an update to the stored section and its metadata, in place."""
    for key, value in patch.items():
        if value is None:
            state.pop(key, None)
            metadata.pop(key, None)
        elif isinstance(value, dict):
            if not isinstance(state.get(key), dict) or not isinstance(metadata.get(key), dict):
                state[key], metadata[key] = {}, {}
            _merge(state[key], metadata[key], value, ts)
            if not state[key]:  # every key of a nested object deleted: the object goes too
                del state[key]
                del metadata[key]
        else:
            state[key] = copy.deepcopy(value)
            metadata[key] = _leaf_metadata(value, ts)


def _json_equal(a: Json, b: Json) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _delta(desired: dict[str, Json], reported: dict[str, Json] | None) -> dict[str, Json]:
    """Desired leaves that differ from reported; nested objects keep the path to the root."""
    result: dict[str, Json] = {}
    for key, wanted in desired.items():
        if reported is None or key not in reported:
            result[key] = copy.deepcopy(wanted)
            continue
        actual = reported[key]
        if isinstance(wanted, dict) and isinstance(actual, dict):
            nested = _delta(wanted, actual)
            if nested:
                result[key] = nested
        elif not _json_equal(wanted, actual):
            result[key] = copy.deepcopy(wanted)
    return result


def _delta_metadata(delta: dict[str, Json], desired_metadata: dict[str, Json]) -> dict[str, Json]:
    """The delta's metadata is the desired metadata of the same leaves."""
    return {
        key: _delta_metadata(value, desired_metadata[key]) if isinstance(value, dict)
        else copy.deepcopy(desired_metadata[key])
        for key, value in delta.items()
    }


def _state_size(state: dict[str, Json]) -> int:
    return sum(len(_dumps(state[section])) for section in _SECTIONS if section in state)


def _client_token(document: Json) -> str | None:
    """The request's clientToken; raises _Rejected when it is not a string of at most 64 bytes."""
    if not isinstance(document, dict) or document.get("clientToken") is None:
        return None
    token = document["clientToken"]
    if not isinstance(token, str) or len(token.encode("utf-8")) > MAX_CLIENT_TOKEN_BYTES:
        raise _Rejected(400, "Invalid clientToken")
    return token


def _lenient_client_token(payload: bytes) -> str | None:
    """clientToken of a get/delete request; AWS ignores the rest of those payloads."""
    if not payload.strip():
        return None
    try:
        return _client_token(_loads(payload))
    except _Rejected:
        return None


def _with_token(body: dict[str, Json], token: str | None) -> dict[str, Json]:
    if token is not None:
        body["clientToken"] = token
    return body


def _error(code: int, message: str, token: str | None) -> dict[str, Json]:
    return _with_token({"code": code, "message": message}, token)


class ShadowService:
    """Every device shadow of the local cloud, shared by the MQTT and the HTTP side.

    Thread-safe: one lock guards all shadows, and each request's reply and side-effect
    messages are built under it, so their versions are consistent. Bad input gets the error
    reply AWS would send; nothing raises out of the public methods.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._shadows: dict[tuple[str, str], _Shadow] = {}
        # Called (under the lock, so it must be cheap) after every accepted update or delete:
        # the local cloud's persistence marks its snapshot out of date.
        self.on_change: Callable[[], None] | None = None

    # --- MQTT -------------------------------------------------------------------------
    def handle_mqtt(self, topic: str, payload: bytes) -> list[Outgoing]:
        """The messages AWS IoT publishes in reply to a publish on ``topic`` ([] if none)."""
        parsed = parse_shadow_topic(topic)
        if parsed is None:
            return []
        thing, name, operation = parsed
        payload = bytes(payload or b"")
        prefix = shadow_topic_prefix(thing, name)
        result = self._run(operation, thing, name, payload)
        status = "accepted" if result.status == 200 else "rejected"
        reply = Outgoing(f"{prefix}/{operation}/{status}", _dumps(result.body))
        if operation == "update" and result.status == 200:
            # /update/accepted first, then /update/delta and /update/documents.
            return [reply, *result.messages]
        return [reply]

    # --- HTTP (iot-data) --------------------------------------------------------------
    def http_update(self, thing: str, payload: bytes, shadow_name: str | None = None
                    ) -> tuple[int, bytes, list[Outgoing]]:
        """UpdateThingShadow: status, response body, and the MQTT messages to publish."""
        result = self._run("update", thing, shadow_name or None, bytes(payload or b""))
        if result.status != 200:
            return result.status, _dumps(result.body), []
        accepted = Outgoing(f"{shadow_topic_prefix(thing, shadow_name)}/update/accepted", _dumps(result.body))
        return 200, accepted.payload, [accepted, *result.messages]

    def http_get(self, thing: str, shadow_name: str | None = None) -> tuple[int, bytes, list[Outgoing]]:
        """GetThingShadow: status and response body (a read publishes nothing)."""
        result = self._run("get", thing, shadow_name or None, b"")
        return result.status, _dumps(result.body), []

    def http_delete(self, thing: str, shadow_name: str | None = None) -> tuple[int, bytes, list[Outgoing]]:
        """DeleteThingShadow: status, response body, and ``…/delete/accepted`` for subscribers."""
        result = self._run("delete", thing, shadow_name or None, b"")
        if result.status != 200:
            return result.status, _dumps(result.body), []
        body = _dumps(result.body)
        return 200, body, [Outgoing(f"{shadow_topic_prefix(thing, shadow_name)}/delete/accepted", body)]

    def http_list_named_shadows(self, thing: str) -> tuple[int, bytes, list[Outgoing]]:
        """ListNamedShadowsForThing (one page holding every name)."""
        body = {"results": self.list_named_shadows(thing), "timestamp": self._now()}
        return 200, _dumps(body), []

    def list_named_shadows(self, thing: str) -> list[str]:
        """Names of the thing's existing named shadows, sorted; the classic shadow is not listed."""
        with self._lock:
            return sorted(name for (owner, name), shadow in self._shadows.items()
                          if owner == thing and name and shadow.exists)

    def reset(self) -> None:
        """Forget every shadow (the local cloud's reset)."""
        with self._lock:
            self._shadows.clear()

    # --- persistence (kurs.sky.persistence) -------------------------------------------
    def export(self) -> list[dict[str, Json]]:
        """Every shadow as plain JSON (deleted ones too: their version lives on)."""
        with self._lock:
            return [{"thing": thing, "name": name, "state": copy.deepcopy(shadow.state),
                     "metadata": copy.deepcopy(shadow.metadata), "version": shadow.version,
                     "exists": shadow.exists}
                    for (thing, name), shadow in self._shadows.items()]

    def load(self, record: dict[str, Json]) -> None:
        """Put back one shadow from :meth:`export`; raises ValueError for a malformed record."""
        thing, name, version = record.get("thing"), record.get("name") or "", record.get("version")
        state, metadata = record.get("state") or {}, record.get("metadata") or {}
        if (not isinstance(thing, str) or not thing or not isinstance(name, str) or isinstance(version, bool)
                or not isinstance(version, int) or version < 0 or not isinstance(state, dict)
                or not isinstance(metadata, dict) or set(state) - set(_SECTIONS)):
            raise ValueError("malformed shadow record")
        with self._lock:
            self._shadows[(thing, name)] = _Shadow(state, metadata, version, exists=bool(record.get("exists", True)))

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # persistence must never break a shadow request
                log.exception("Kunne ikke melde fra om en endret skygge")

    # --- core -------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self._clock())

    def _run(self, operation: str, thing: str, name: str | None, payload: bytes) -> _Result:
        handler = {"update": self._update, "get": self._get, "delete": self._delete}[operation]
        try:
            with self._lock:
                return handler(thing, name, payload)
        except Exception:  # a bug here must not take the broker or moto down
            log.exception("Skyggetjenesten feilet på %s for %r (skygge %r)", operation, thing, name)
            return _Result(500, _error(500, "Internal service failure", None), [])

    def _not_found(self, thing: str, name: str | None, token: str | None) -> _Result:
        return _Result(404, _error(404, f"No shadow exists with name: '{name or thing}'", token), [])

    def _get(self, thing: str, name: str | None, payload: bytes) -> _Result:
        token = _lenient_client_token(payload)
        shadow = self._shadows.get((thing, name or ""))
        if shadow is None or not shadow.exists:
            return self._not_found(thing, name, token)
        state = copy.deepcopy(shadow.state)
        if "desired" in shadow.state:
            delta = _delta(shadow.state["desired"], shadow.state.get("reported"))
            if delta:
                state["delta"] = delta
        body = {"state": state, "metadata": copy.deepcopy(shadow.metadata),
                "version": shadow.version, "timestamp": self._now()}
        return _Result(200, _with_token(body, token), [])

    def _delete(self, thing: str, name: str | None, payload: bytes) -> _Result:
        token = _lenient_client_token(payload)
        shadow = self._shadows.get((thing, name or ""))
        if shadow is None or not shadow.exists:
            return self._not_found(thing, name, token)
        # The version survives the delete: the next update continues from it.
        shadow.exists, shadow.state, shadow.metadata = False, {}, {}
        self._changed()
        body = {"version": shadow.version, "timestamp": self._now()}
        return _Result(200, _with_token(body, token), [])

    def _update(self, thing: str, name: str | None, payload: bytes) -> _Result:
        token: str | None = None
        try:
            if len(payload) > MAX_PAYLOAD_BYTES:
                raise _Rejected(413, "The payload exceeds the maximum size allowed")
            document = _loads(payload)
            token = _client_token(document)
            patch = self._validated_state(document)
            version = self._validated_version(document)
            return self._apply(thing, name, patch, version, token)
        except _Rejected as rejected:
            return _Result(rejected.code, _error(rejected.code, rejected.message, token), [])

    @staticmethod
    def _validated_state(document: Json) -> dict[str, Json] | None:
        """The request's state with empty objects removed; None for ``"state": null``."""
        if not isinstance(document, dict) or "state" not in document:
            raise _Rejected(400, "Missing required node: state")
        state = document["state"]
        if state is None:
            return None
        if not isinstance(state, dict):
            raise _Rejected(400, "State node must be an object")
        for key in state:
            if key not in _SECTIONS:
                raise _Rejected(400, f"State contains an invalid node: '{key}'")
        patch: dict[str, Json] = {}
        for section in _SECTIONS:
            if section not in state:
                continue
            value = state[section]
            if value is not None and not isinstance(value, dict):
                raise _Rejected(400, f"{section.capitalize()} node must be an object")
            if value is None:
                patch[section] = None
                continue
            if _has_null_in_array(value):  # "Arrays can't have null values" (message unverified)
                raise _Rejected(400, "State contains an invalid node")
            pruned = _prune_empty(value)
            if pruned:
                patch[section] = pruned
        if not patch:
            raise _Rejected(400, "Missing required node: state")
        if any(_too_deep(section, 1) for section in patch.values()):
            raise _Rejected(400, f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}")
        return patch

    @staticmethod
    def _validated_version(document: dict[str, Json]) -> int | None:
        version = document.get("version")
        if version is None:
            return None
        if isinstance(version, float) and math.isfinite(version) and version.is_integer():
            version = int(version)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise _Rejected(400, "Invalid version")
        return version

    def _apply(self, thing: str, name: str | None, patch: dict[str, Json] | None,
               version: int | None, token: str | None) -> _Result:
        shadow = self._shadows.get((thing, name or ""))
        current_version = shadow.version if shadow is not None else 0
        if version is not None and version != current_version:
            raise _Rejected(409, "Version conflict")

        ts = self._now()
        existed = shadow is not None and shadow.exists
        old_state = copy.deepcopy(shadow.state) if existed else {}
        old_metadata = copy.deepcopy(shadow.metadata) if existed else {}
        state, metadata = copy.deepcopy(old_state), copy.deepcopy(old_metadata)
        if patch is None:
            state, metadata = {}, {}
        else:
            for section, section_patch in patch.items():
                if section_patch is None:
                    state.pop(section, None)
                    metadata.pop(section, None)
                    continue
                state.setdefault(section, {})
                metadata.setdefault(section, {})
                _merge(state[section], metadata[section], section_patch, ts)
                if not state[section]:
                    del state[section]
                    del metadata[section]
            # AWS lists desired before reported whatever order the updates came in.
            state = {section: state[section] for section in _SECTIONS if section in state}
            metadata = {section: metadata[section] for section in _SECTIONS if section in metadata}
        if _state_size(state) > MAX_STATE_BYTES:
            raise _Rejected(413, "The payload exceeds the maximum size allowed")

        new_version = current_version + 1
        self._shadows[(thing, name or "")] = _Shadow(state, metadata, new_version, exists=True)
        self._changed()

        prefix = shadow_topic_prefix(thing, name)
        if patch is None:
            accepted: dict[str, Json] = {"state": None, "metadata": {"timestamp": ts}}
        else:
            accepted = {"state": copy.deepcopy(patch),
                        "metadata": {section: _patch_metadata(value, ts) for section, value in patch.items()}}
        accepted.update(version=new_version, timestamp=ts)
        _with_token(accepted, token)

        messages: list[Outgoing] = []
        delta = _delta(state["desired"], state.get("reported")) if "desired" in state else {}
        if delta:
            delta_doc = {"version": new_version, "timestamp": ts, "state": delta,
                         "metadata": _delta_metadata(delta, metadata["desired"])}
            messages.append(Outgoing(f"{prefix}/update/delta", _dumps(_with_token(delta_doc, token))))
        previous = ({"state": old_state, "metadata": old_metadata, "version": current_version}
                    if existed else None)
        documents = {"previous": previous,
                     "current": {"state": copy.deepcopy(state), "metadata": copy.deepcopy(metadata),
                                 "version": new_version},
                     "timestamp": ts}
        messages.append(Outgoing(f"{prefix}/update/documents", _dumps(_with_token(documents, token))))
        return _Result(200, accepted, messages)
