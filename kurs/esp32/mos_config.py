"""Mongoose OS configuration: the schema the libraries define, the app's ``config_schema``,
the ESP32 board defaults, and the device's own saved settings (``conf9.json``) on top.

Layers, lowest first (like ``mos build`` + the device's config files):

1. the libraries' schemas with their defaults (``mqtt``, ``shadow``, ``aws``, ``boards``, …),
2. the ``boards`` library's ESP32 overrides (``board.btn1.pin`` 0 with pull-up, ``board.led1.pin`` 13),
3. the app's ``mos.yml`` ``config_schema`` (new keys and overrides),
4. ``conf9.json`` in the device's file system (``Cfg.set(..., true)``, ``mos config-set``),
5. overrides given to the virtual board in Python (not saved).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kurs.errors import CourseError

USER_CONFIG_FILE = "conf9.json"

# Our summary of the libraries the course firmware uses (mongoose-os-libs: core, mjs, boards,
# wifi, mqtt, shadow, aws, rpc-*). Entries use mos.yml's own form.
_LIB_SCHEMA: list[list[Any]] = [
    ["device", "o", {}],
    ["device.id", "s", "esp32_??????", {}],
    ["device.license", "s", "", {}],
    ["device.mac", "s", "", {}],
    ["debug", "o", {}],
    ["debug.level", "i", 2, {}],
    ["debug.file_level", "s", "", {}],
    ["debug.stdout_uart", "i", 0, {}],
    ["debug.stderr_uart", "i", 0, {}],
    ["debug.stdout_topic", "s", "", {}],
    ["debug.stderr_topic", "s", "", {}],
    ["sys", "o", {}],
    ["sys.tz_spec", "s", "", {}],
    ["sys.wdt_timeout", "i", 30, {}],
    ["mjs", "o", {}],
    ["mjs.generate_jsc", "b", True, {}],
    ["rpc", "o", {}],
    ["rpc.enable", "b", True, {}],
    ["rpc.max_frame_size", "i", 4096, {}],
    ["rpc.uart", "o", {}],
    ["rpc.uart.uart_no", "i", 0, {}],
    ["rpc.uart.baud_rate", "i", 115200, {}],
    ["i2c", "o", {}],
    ["i2c.enable", "b", False, {}],
    ["wifi", "o", {}],
    ["wifi.ap", "o", {}],
    ["wifi.ap.enable", "b", True, {}],
    ["wifi.ap.ssid", "s", "Mongoose_??????", {}],
    ["wifi.ap.pass", "s", "Mongoose", {}],
    ["wifi.sta", "o", {}],
    ["wifi.sta.enable", "b", False, {}],
    ["wifi.sta.ssid", "s", "", {}],
    ["wifi.sta.pass", "s", "", {}],
    ["board", "o", {}],
    ["board.led1", "o", {}],
    ["board.led1.pin", "i", -1, {}],
    ["board.led1.active_high", "b", True, {}],
    ["board.led2", "o", {}],
    ["board.led2.pin", "i", -1, {}],
    ["board.led2.active_high", "b", True, {}],
    ["board.led3", "o", {}],
    ["board.led3.pin", "i", -1, {}],
    ["board.led3.active_high", "b", True, {}],
    ["board.btn1", "o", {}],
    ["board.btn1.pin", "i", -1, {}],
    ["board.btn1.pull_up", "b", False, {}],
    ["board.btn2", "o", {}],
    ["board.btn2.pin", "i", -1, {}],
    ["board.btn2.pull_up", "b", False, {}],
    ["board.btn3", "o", {}],
    ["board.btn3.pin", "i", -1, {}],
    ["board.btn3.pull_up", "b", False, {}],
    ["mqtt", "o", {}],
    ["mqtt.enable", "b", False, {}],
    ["mqtt.server", "s", "iot.eclipse.org:1883", {}],
    ["mqtt.client_id", "s", "", {}],
    ["mqtt.user", "s", "", {}],
    ["mqtt.pass", "s", "", {}],
    ["mqtt.reconnect_timeout_min", "d", 2.0, {}],
    ["mqtt.reconnect_timeout_max", "d", 60.0, {}],
    ["mqtt.ssl_cert", "s", "", {}],
    ["mqtt.ssl_key", "s", "", {}],
    ["mqtt.ssl_ca_cert", "s", "", {}],
    ["mqtt.ssl_cipher_suites", "s", "", {}],
    ["mqtt.ssl_psk_identity", "s", "", {}],
    ["mqtt.ssl_psk_key", "s", "", {}],
    ["mqtt.clean_session", "b", True, {}],
    ["mqtt.keep_alive", "i", 60, {}],
    ["mqtt.will_topic", "s", "", {}],
    ["mqtt.will_message", "s", "", {}],
    ["mqtt.will_retain", "b", False, {}],
    ["mqtt.max_qos", "i", 2, {}],
    ["mqtt.recv_mbuf_limit", "i", 3072, {}],
    ["mqtt.require_time", "b", False, {}],
    ["mqtt.cloud_events", "b", True, {}],
    ["mqtt.max_queue_length", "i", 5, {}],
    ["shadow", "o", {}],
    ["shadow.enable", "b", True, {}],
    ["shadow.lib", "s", "", {}],
    ["shadow.get_on_connect", "b", True, {}],
    ["aws", "o", {}],
    ["aws.thing_name", "s", "", {}],
    ["aws.greengrass", "o", {}],
    ["aws.greengrass.enable", "b", False, {}],
]

# The boards library's `when: mos.platform == "esp32"` block, and the aws library's for ESP32.
_ESP32_OVERRIDES: list[list[Any]] = [
    ["board.led1.pin", 13],
    ["board.btn1.pin", 0],
    ["board.btn1.pull_up", True],
    ["mqtt.recv_mbuf_limit", 8192],
]

_TYPE_DEFAULTS = {"s": "", "i": 0, "b": False, "d": 0.0}
_TYPE_NAMES = {"s": "tekst", "i": "heltall", "b": "true/false", "d": "tall"}


class ConfigError(CourseError):
    pass


def _split(path: str) -> list[str]:
    return [p for p in str(path).split(".") if p]


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        parts = _split(path)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


class Schema:
    """Key → type (``o`` object, ``s`` string, ``i`` int, ``b`` bool, ``d`` double) and defaults."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.defaults: dict[str, Any] = {}

    def apply_entries(self, entries: Iterable[list[Any]], origin: str) -> None:
        for entry in entries:
            self._apply(entry, origin)

    def _apply(self, entry: Any, origin: str) -> None:
        if not isinstance(entry, list | tuple) or not entry or not isinstance(entry[0], str):
            raise ConfigError(f"Ugyldig config_schema-linje i {origin}: {entry!r}",
                              'Hver linje skal se ut som ["navn", "s", "standardverdi", {title: "..."}] '
                              'eller ["navn", verdi] for å endre en verdi som finnes fra før.')
        name = entry[0]
        rest = [x for x in entry[1:] if not isinstance(x, dict)]
        if rest and isinstance(rest[0], str) and rest[0] in ("o", "s", "i", "b", "d"):
            kind = rest[0]
            self._define_parents(name)
            self.types[name] = kind
            if kind != "o":
                default = rest[1] if len(rest) > 1 else _TYPE_DEFAULTS[kind]
                self.defaults[name] = coerce(name, kind, default)
            return
        if rest and isinstance(rest[0], str) and self.types.get(rest[0]) == "o" and name not in self.types:
            self._copy_subtree(rest[0], name)
            return
        if len(rest) != 1:
            raise ConfigError(f"Skjønner ikke config_schema-linja {entry!r} i {origin}.",
                              'Bruk ["navn", "type", standardverdi] for en ny nøkkel eller ["navn", verdi] '
                              "for å endre en som finnes.")
        if name not in self.types or self.types[name] == "o":
            raise ConfigError(f"config_schema i {origin} endrer «{name}», men den nøkkelen finnes ikke.",
                              'Legg den til med type først, for eksempel ["' + name + '", "s", "verdi", {}], '
                              "eller sjekk stavemåten.")
        self.defaults[name] = coerce(name, self.types[name], rest[0])

    def _define_parents(self, name: str) -> None:
        parts = _split(name)
        for i in range(1, len(parts)):
            self.types.setdefault(".".join(parts[:i]), "o")

    def _copy_subtree(self, source: str, target: str) -> None:
        for key, kind in list(self.types.items()):
            if key == source or key.startswith(source + "."):
                new_key = target + key[len(source):]
                self.types[new_key] = kind
                if key in self.defaults:
                    self.defaults[new_key] = self.defaults[key]
        self._define_parents(target)


def coerce(name: str, kind: str, value: Any) -> Any:
    """A value converted to the key's type, the way mgos_config_apply accepts JSON."""
    try:
        if kind == "s":
            if isinstance(value, dict | list):
                raise TypeError
            return "" if value is None else (json.dumps(value) if isinstance(value, bool) else str(value))
        if kind == "b":
            if isinstance(value, bool):
                return value
            if isinstance(value, int | float):
                return value != 0
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise TypeError
        if kind == "i":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int):
                return value
            if isinstance(value, str):
                return int(value, 0)
            raise TypeError
        if kind == "d":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"Konfigurasjonen «{name}» skal være {_TYPE_NAMES.get(kind, kind)}, ikke {value!r}.",
                      "Gi en verdi av riktig type.")


class Config:
    """The effective configuration of one device (read on its event loop, written through ``set``)."""

    def __init__(self, schema: Schema, saved: dict[str, Any], overrides: dict[str, Any],
                 mac: str) -> None:
        self.schema = schema
        self.mac = mac
        self._saved = {k: v for k, v in flatten(saved).items() if self._known_leaf(k)}
        # The caller's dict, flat and shared: a key set later through apply() leaves it for good,
        # so a saved change is not shadowed by the override again after a reboot.
        flat = flatten(unflatten(dict(overrides)))
        overrides.clear()
        overrides.update({k: coerce(k, schema.types[k], v) for k, v in flat.items() if self._require_leaf(k)})
        self._overrides = overrides
        self.values: dict[str, Any] = {}
        self._rebuild()

    # -- building --------------------------------------------------------------------------
    def _known_leaf(self, key: str) -> bool:
        return self.schema.types.get(key) not in (None, "o")

    def _require_leaf(self, key: str) -> bool:
        if not self._known_leaf(key):
            raise ConfigError(f"Konfigurasjonen har ingen nøkkel «{key}».",
                              "Sjekk stavemåten (for eksempel «mqtt.server» eller «board.led1.pin»).")
        return True

    def _rebuild(self) -> None:
        values = dict(self.schema.defaults)
        for layer in (self._saved, self._overrides):
            for key, value in layer.items():
                values[key] = coerce(key, self.schema.types[key], value)
        for key, value in values.items():
            if isinstance(value, str) and "?" in value:
                values[key] = expand_mac_placeholders(value, self.mac)
        if values.get("aws.thing_name") == "":  # mgos_aws_init: the thing name defaults to device.id
            values["aws.thing_name"] = values.get("device.id", "")
        self.values = values

    # -- reading ---------------------------------------------------------------------------
    def get(self, path: str) -> Any:
        """A leaf value, a nested dict for an object path, or None when the key does not exist."""
        kind = self.schema.types.get(path)
        if kind is None:
            if path == "":
                return unflatten(self.values)
            return None
        if kind != "o":
            return self.values.get(path)
        prefix = path + "."
        return unflatten({k[len(prefix):]: v for k, v in self.values.items() if k.startswith(prefix)})

    def type_of(self, path: str) -> str | None:
        return self.schema.types.get(path)

    def as_tree(self) -> dict[str, Any]:
        return unflatten(self.values)

    def is_default(self, path: str) -> bool:
        return path not in self._saved and path not in self._overrides

    # -- writing ---------------------------------------------------------------------------
    def apply(self, updates: dict[str, Any]) -> list[str]:
        """Set values from a (nested or dotted) dict; returns the keys it changed. Not saved."""
        flat = flatten(updates) if any(isinstance(v, dict) for v in updates.values()) else dict(updates)
        flat = flatten(unflatten(flat))
        checked = {}
        for key, value in flat.items():
            self._require_leaf(key)
            checked[key] = coerce(key, self.schema.types[key], value)
        changed = [k for k, v in checked.items() if self.values.get(k) != v]
        self._saved.update(checked)
        for key in checked:
            self._overrides.pop(key, None)
        self._rebuild()
        return changed

    def saved_tree(self) -> dict[str, Any]:
        """What goes into conf9.json: every value that differs from the firmware defaults."""
        return unflatten({k: v for k, v in self._saved.items() if v != self.schema.defaults.get(k)})

    def save(self, fs_dir: Path) -> None:
        (fs_dir / USER_CONFIG_FILE).write_text(json.dumps(self.saved_tree(), indent=2) + "\n", encoding="utf-8")


def expand_mac_placeholders(value: str, mac: str) -> str:
    """Replace a trailing run of ``?`` with the same number of MAC hex digits (mgos does this)."""
    hexmac = mac.replace(":", "").upper()
    count = 0
    while count < len(value) and value[len(value) - 1 - count] == "?":
        count += 1
    if count == 0 or count > len(hexmac):
        return value
    return value[:-count] + hexmac[-count:]


def build_schema(app_entries: list[list[Any]], app_name: str) -> Schema:
    schema = Schema()
    schema.apply_entries(_LIB_SCHEMA, "bibliotekene")
    schema.apply_entries(_ESP32_OVERRIDES, "boards-biblioteket (ESP32)")
    schema.apply_entries(app_entries, f"mos.yml for {app_name}")
    return schema


def load_saved(fs_dir: Path) -> dict[str, Any]:
    path = fs_dir / USER_CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def deep_copy(tree: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(tree)
