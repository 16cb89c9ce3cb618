"""mJS's ``ffi('int mgos_gpio_read(int)')``: parse the C signature and find the symbol.

The virtual board's "C side" is a table of Python functions named like the Mongoose OS C
functions. A signature naming a symbol that is not in the table fails the way ``dlsym`` fails
on a board: ``bad ffi signature: "...": dlsym('foo') failed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# C types mJS's ffi understands, normalised (spaces removed).
_VALUE_TYPES = {
    "void": "void", "int": "int", "bool": "bool", "double": "double", "float": "float",
    "char*": "char*", "void*": "void*", "userdata": "userdata", "structmg_str*": "mg_str*",
    "int8_t": "int", "uint8_t": "int", "int16_t": "int", "uint16_t": "int", "int32_t": "int",
    "uint32_t": "int", "long": "int", "unsignedint": "int", "unsigned": "int", "constchar*": "char*",
}


class FfiError(Exception):
    """A signature the board would reject; ``str()`` is mJS's own error text."""


@dataclass
class Signature:
    text: str
    name: str
    ret: str
    args: list[str]            # 'callback' where a function pointer goes
    cb_args: list[str] | None  # the callback's own argument types
    cb_ud: int                 # where the callback's userdata goes among its arguments (-1: none)

    def descriptor(self, symbol_id: int) -> dict[str, Any]:
        return {"id": symbol_id, "ret": self.ret, "args": self.args, "cb_ud": self.cb_ud}


def _norm(type_text: str) -> str:
    return "".join(type_text.split())


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def _value_type(text: str, sig: str) -> str:
    norm = _norm(text)
    if norm not in _VALUE_TYPES:
        raise FfiError(f'bad ffi signature: "{sig}": failed to parse val type "{text.strip()}"')
    return _VALUE_TYPES[norm]


def parse_signature(sig: str) -> Signature:
    text = sig.strip()
    open_paren = text.find("(")
    if open_paren < 0 or not text.endswith(")"):
        raise FfiError(f'bad ffi signature: "{sig}"')
    head, arg_text = text[:open_paren].strip(), text[open_paren + 1:-1]
    # "void *malloc" / "char *mgos_x" / "int foo": the name is the last identifier.
    name = head.replace("*", " * ").split()[-1] if head else ""
    ret_text = head[: len(head) - len(name)].strip() if name else ""
    if not name or not ret_text or not name.replace("_", "a").isalnum():
        raise FfiError(f'bad ffi signature: "{sig}"')
    ret = _value_type(ret_text, sig)
    if ret == "userdata":
        raise FfiError(f'bad ffi signature: "{sig}"')
    args: list[str] = []
    cb_args: list[str] | None = None
    cb_ud = -1
    raw_args = _split_top(arg_text)
    if len(raw_args) == 1 and _norm(raw_args[0]) == "void":
        raw_args = []
    for raw in raw_args:
        if "(" in raw:
            if cb_args is not None:
                raise FfiError(f'bad ffi signature: "{sig}": only one callback is allowed')
            inner_open = raw.find("(*)")
            if inner_open < 0 or not raw.rstrip().endswith(")"):
                raise FfiError(f'bad ffi signature: "{sig}"')
            inner = raw[inner_open + 3:].strip()
            if not inner.startswith("("):
                raise FfiError(f'bad ffi signature: "{sig}"')
            cb_raw = _split_top(inner[1:-1])
            if len(cb_raw) == 1 and _norm(cb_raw[0]) == "void":
                cb_raw = []
            cb_args = [_value_type(a, sig) for a in cb_raw]
            cb_ud = cb_args.index("userdata") if "userdata" in cb_args else -1
            args.append("callback")
        else:
            kind = _value_type(raw, sig)
            if kind == "void":
                raise FfiError(f'bad ffi signature: "{sig}": bad ffi arg type: "void"')
            args.append(kind)
    if args.count("userdata") > 1:
        raise FfiError(f'bad ffi signature: "{sig}": two or more userdata args')
    if "callback" in args and "userdata" not in args:
        raise FfiError(f'bad ffi signature: "{sig}": the callback signature is valid, but there\'s no '
                       "existing callback implementation for it")
    return Signature(sig, name, ret, args, cb_args, cb_ud)


class SymbolTable:
    """The board's C functions, by name; signatures resolved to ids the JS side calls by."""

    def __init__(self) -> None:
        self._impls: dict[str, Callable[..., Any]] = {}
        self._resolved: list[tuple[Signature, Callable[..., Any]]] = []
        self._by_text: dict[str, int] = {}

    def define(self, name: str, impl: Callable[..., Any]) -> None:
        self._impls[name] = impl

    def define_many(self, impls: dict[str, Callable[..., Any]]) -> None:
        self._impls.update(impls)

    def has(self, name: str) -> bool:
        return name in self._impls

    def resolve(self, sig: str) -> dict[str, Any]:
        """The JS side's descriptor for ``sig``; raises FfiError with mJS's message."""
        if sig in self._by_text:
            index = self._by_text[sig]
            return self._resolved[index][0].descriptor(index)
        parsed = parse_signature(sig)
        impl = self._impls.get(parsed.name)
        if impl is None:
            raise FfiError(f"bad ffi signature: \"{sig}\": dlsym('{parsed.name}') failed")
        self._resolved.append((parsed, impl))
        index = len(self._resolved) - 1
        self._by_text[sig] = index
        return parsed.descriptor(index)

    def lookup(self, index: int) -> tuple[Signature, Callable[..., Any]]:
        return self._resolved[index]


# -- values crossing between the C side (Python) and JS --------------------------------------

def foreign(value: Any) -> dict[str, Any]:
    """How a ``void *`` reaches a JS callback: an opaque pointer, optionally over a string."""
    if isinstance(value, str):
        return {"__kurs_foreign__": 0x3FFB2000, "str": value}
    return {"__kurs_foreign__": 0x3FFB1000 if value is None else (hash(repr(value)) & 0xFFFFF) | 0x3FF00000}


def byte_length(text: str) -> int:
    """A string's length as mJS counts it: its UTF-8 bytes (mJS strings are byte strings)."""
    return len(text.encode("utf-8"))


def to_js(text: str) -> str:
    """Python text -> an mJS byte string (one JS character a UTF-8 byte)."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def from_js(value: Any) -> str:
    """An mJS byte string -> Python text (characters above 0xFF, from JSON escapes, kept)."""
    text = str(value)
    try:
        return text.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text


def strings_to_js(value: Any) -> Any:
    """Every string in a JSON-like value as an mJS byte string."""
    if isinstance(value, str):
        return to_js(value)
    if isinstance(value, list):
        return [strings_to_js(v) for v in value]
    if isinstance(value, dict):
        return {to_js(k): strings_to_js(v) for k, v in value.items()}
    return value
