"""The built-in AWS IoT SQL functions that make sense without other AWS services.

Each follows its table in the SQL reference ("Functions"): arguments of the wrong type
give Undefined rather than an error. Names are case-insensitive (the reference writes
``Round(1.5)`` and ``round(1.5)`` alike).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from kurs.sky.rules.context import Scope
from kurs.sky.rules.values import (
    UNDEFINED,
    V2015,
    V2016,
    double,
    is_int,
    is_number,
    op_arith,
    parse_json,
    to_bool,
    to_decimal,
    to_floor_int,
    to_string,
)


@dataclass(frozen=True)
class Function:
    name: str
    impl: Callable[..., Any]  # impl(scope, *args)
    min_args: int
    max_args: int | None
    since: str = V2015


FUNCTIONS: dict[str, Function] = {}

# Documented functions that need other AWS services or Java date patterns; the local
# cloud refuses them with a clear message instead of silently returning Undefined.
NOT_SUPPORTED_LOCALLY = {
    "get_dynamodb",
    "get_secret",
    "get_registry_data",
    "get_mqtt_property",
    "get_or_default",
    "get_user_properties",
    "machinelearning_predict",
    "parse_time",
    "time_to_epoch",
    "transform",
    "md2",
}


def _register(name: str, min_args: int, max_args: int | None = -1, since: str = V2015):
    def wrap(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(name, impl, min_args, min_args if max_args == -1 else max_args, since)
        return impl

    return wrap


def lookup(name: str) -> Function | None:
    return FUNCTIONS.get(name.lower())


# --- message functions -----------------------------------------------------------------


@_register("topic", 0, 1)
def _topic(scope: Scope, n: Any = None) -> Any:
    if n is None:
        return scope.ctx.topic
    index = to_floor_int(n)
    levels = scope.ctx.topic.split("/")
    if index is None or not 1 <= index <= len(levels):
        return UNDEFINED
    return levels[index - 1]


@_register("timestamp", 0)
def _timestamp(scope: Scope) -> Any:
    return scope.ctx.timestamp_ms


@_register("clientid", 0)
def _clientid(scope: Scope) -> Any:
    return scope.ctx.clientid if scope.ctx.clientid is not None else "n/a"


@_register("principal", 0)
def _principal(scope: Scope) -> Any:
    return scope.ctx.principal if scope.ctx.principal is not None else UNDEFINED


@_register("accountid", 0)
def _accountid(scope: Scope) -> Any:
    return scope.ctx.account_id


@_register("traceid", 0)
def _traceid(scope: Scope) -> Any:
    return scope.ctx.trace_id if scope.ctx.trace_id is not None else UNDEFINED


@_register("newuuid", 0)
def _newuuid(scope: Scope) -> Any:
    return str(uuid.uuid4())


@_register("rand", 0)
def _rand(scope: Scope) -> Any:
    return double(random.random())


@_register("sql_version", 0)
def _sql_version(scope: Scope) -> Any:
    return scope.version


# --- type tests --------------------------------------------------------------------------


@_register("isnull", 1)
def _isnull(scope: Scope, value: Any) -> Any:
    return value is None


@_register("isundefined", 1, since=V2016)
def _isundefined(scope: Scope, value: Any) -> Any:
    return value is UNDEFINED


@_register("nanvl", 2)
def _nanvl(scope: Scope, value: Any, fallback: Any) -> Any:
    if value is UNDEFINED or value is None or (isinstance(value, Decimal) and value.is_nan()):
        return fallback
    return value


# --- numbers -----------------------------------------------------------------------------


def _numeric(value: Any) -> Decimal | None:
    return to_decimal(value) if not isinstance(value, bool) else None


@_register("abs", 1)
def _abs(scope: Scope, value: Any) -> Any:
    if is_int(value):
        return abs(value)
    number = _numeric(value)
    return UNDEFINED if number is None else abs(number)


def _rounding(mode: str) -> Callable[[Scope, Any], Any]:
    def impl(scope: Scope, value: Any) -> Any:
        if is_int(value):
            return value
        number = _numeric(value)
        if number is None or not number.is_finite():
            return UNDEFINED
        return int(number.to_integral_value(rounding=mode))

    return impl


_register("ceil", 1)(_rounding(ROUND_CEILING))
_register("floor", 1)(_rounding(ROUND_FLOOR))
# round(1.5) = 2 and round(-1.5) = -2 in the reference: halves go away from zero.
_register("round", 1)(_rounding(ROUND_HALF_UP))


@_register("sign", 1)
def _sign(scope: Scope, value: Any) -> Any:
    number = _numeric(value)
    if number is None or number.is_nan():
        return UNDEFINED
    return (number > 0) - (number < 0)


def _remainder(scope: Scope, a: Any, b: Any) -> Any:
    return op_arith("%", a, b)


_register("mod", 2)(_remainder)
_register("remainder", 2)(_remainder)


@_register("trunc", 2)
def _trunc(scope: Scope, value: Any, places: Any) -> Any:
    if is_int(value) and is_int(places):
        return value
    number, digits = _numeric(value), to_floor_int(places)
    if number is None or digits is None or not number.is_finite():
        return UNDEFINED
    digits = min(max(digits, 0), 34)
    result = number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_DOWN)
    # "Trailing zeroes are stripped from the result."
    if result == result.to_integral_value():
        return int(result)
    return result.normalize()


def _double_fn(fn: Callable[..., float], arity: int = 1) -> Callable[..., Any]:
    def impl(scope: Scope, *args: Any) -> Any:
        numbers = [_numeric(a) for a in args]
        if any(n is None for n in numbers):
            return UNDEFINED
        try:
            return double(fn(*(float(n) for n in numbers)))
        except (ValueError, OverflowError, ZeroDivisionError):
            return UNDEFINED

    return impl


for _name, _fn in {
    "acos": math.acos,
    "asin": math.asin,
    "atan": math.atan,
    "cos": math.cos,
    "cosh": math.cosh,
    "exp": math.exp,
    "ln": math.log,
    "log": math.log10,
    "sin": math.sin,
    "sinh": math.sinh,
    "sqrt": math.sqrt,
    "tan": math.tan,
    "tanh": math.tanh,
}.items():
    _register(_name, 1)(_double_fn(_fn))
_register("atan2", 2)(_double_fn(math.atan2))
_register("power", 2)(_double_fn(math.pow))


def _bitwise(fn: Callable[..., int]) -> Callable[..., Any]:
    def impl(scope: Scope, *args: Any) -> Any:
        ints = [to_floor_int(a) if not isinstance(a, bool) else None for a in args]
        if any(i is None for i in ints):
            return UNDEFINED
        return fn(*ints)

    return impl


_register("bitand", 2)(_bitwise(lambda a, b: a & b))
_register("bitor", 2)(_bitwise(lambda a, b: a | b))
_register("bitxor", 2)(_bitwise(lambda a, b: a ^ b))
_register("bitnot", 1)(_bitwise(lambda a: ~a))


# --- strings -----------------------------------------------------------------------------


def _string_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Convert every argument with the standard string conversion first."""

    def impl(scope: Scope, *args: Any) -> Any:
        texts = [to_string(a) for a in args]
        if any(t is UNDEFINED for t in texts):
            return UNDEFINED
        return fn(*texts)

    return impl


_register("lower", 1)(_string_fn(str.lower))
_register("upper", 1)(_string_fn(str.upper))
_register("ltrim", 1)(_string_fn(lambda s: s.lstrip(" \t")))
_register("rtrim", 1)(_string_fn(lambda s: s.rstrip(" \t")))
_register("trim", 1)(_string_fn(str.strip))
_register("length", 1, since=V2016)(_string_fn(len))
_register("numbytes", 1, since=V2016)(_string_fn(lambda s: len(s.encode("utf-8"))))
_register("indexof", 2, since=V2016)(_string_fn(lambda s, sub: s.find(sub)))
_register("startswith", 2)(_string_fn(lambda s, prefix: s.startswith(prefix)))
_register("endswith", 2)(_string_fn(lambda s, suffix: s.endswith(suffix)))
_register("replace", 3)(_string_fn(lambda s, old, new: s.replace(old, new)))

for _hash in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
    _register(_hash, 1)(_string_fn(lambda s, _h=_hash: hashlib.new(_h, s.encode("utf-8")).hexdigest()))


def _pad(left: bool) -> Callable[[Scope, Any, Any], Any]:
    def impl(scope: Scope, value: Any, count: Any) -> Any:
        text, n = to_string(value), to_floor_int(count) if not isinstance(count, bool) else None
        if text is UNDEFINED or n is None:
            return UNDEFINED
        spaces = " " * min(max(n, 0), 1000)
        return spaces + text if left else text + spaces

    return impl


_register("lpad", 2)(_pad(left=True))
_register("rpad", 2)(_pad(left=False))


@_register("chr", 1)
def _chr(scope: Scope, code: Any) -> Any:
    n = to_floor_int(code) if not isinstance(code, bool) else None
    return chr(n) if n is not None and 0 <= n <= 127 else UNDEFINED


@_register("substring", 2, 3)
def _substring(scope: Scope, value: Any, start: Any, end: Any = None) -> Any:
    text = to_string(value)
    begin = to_floor_int(start) if not isinstance(start, bool) else None
    if text is UNDEFINED or begin is None:
        return UNDEFINED
    begin = min(max(begin, 0), len(text))
    if end is None:
        return text[begin:]
    stop = to_floor_int(end) if not isinstance(end, bool) else None
    if stop is None:
        return UNDEFINED
    stop = min(max(stop, 0), len(text))
    return text[begin:stop] if begin < stop else ""


@_register("concat", 0, None)
def _concat(scope: Scope, *args: Any) -> Any:
    if not args:
        return UNDEFINED
    if len(args) == 1:
        return args[0]
    if any(isinstance(a, list) for a in args):
        result: list[Any] = []
        for a in args:
            result.extend(a if isinstance(a, list) else [a])
        return result
    if any(isinstance(a, str) for a in args):
        texts = [to_string(a) for a in args]
        return UNDEFINED if any(t is UNDEFINED for t in texts) else "".join(texts)
    return UNDEFINED


def _regex(pattern: Any) -> re.Pattern[str] | None:
    text = to_string(pattern)
    if text is UNDEFINED:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


@_register("regexp_matches", 2)
def _regexp_matches(scope: Scope, value: Any, pattern: Any) -> Any:
    text, regex = to_string(value), _regex(pattern)
    if text is UNDEFINED or regex is None:
        return UNDEFINED
    return regex.search(text) is not None


@_register("regexp_substr", 2)
def _regexp_substr(scope: Scope, value: Any, pattern: Any) -> Any:
    text, regex = to_string(value), _regex(pattern)
    if text is UNDEFINED or regex is None:
        return UNDEFINED
    match = regex.search(text)
    return match.group(0) if match else ""


def _java_replacement(template: str) -> Callable[[re.Match[str]], str]:
    """Java replacement strings: ``$1`` is a group, ``\\$`` a literal dollar."""

    def expand(match: re.Match[str]) -> str:
        out, i = [], 0
        while i < len(template):
            ch = template[i]
            if ch == "\\" and i + 1 < len(template):
                out.append(template[i + 1])
                i += 2
            elif ch == "$" and i + 1 < len(template) and template[i + 1].isdigit():
                j = i + 1
                while j < len(template) and template[j].isdigit():
                    j += 1
                out.append(match.group(int(template[i + 1 : j])) or "")
                i = j
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    return expand


@_register("regexp_replace", 3)
def _regexp_replace(scope: Scope, value: Any, pattern: Any, replacement: Any) -> Any:
    text, regex, repl = to_string(value), _regex(pattern), to_string(replacement)
    if text is UNDEFINED or regex is None or repl is UNDEFINED:
        return UNDEFINED
    try:
        return regex.sub(_java_replacement(repl), text)
    except (IndexError, re.error):
        return UNDEFINED


# --- collections and encodings ----------------------------------------------------------


@_register("get", 2)
def _get(scope: Scope, collection: Any, key: Any) -> Any:
    if isinstance(collection, dict):
        return collection.get(key, UNDEFINED) if isinstance(key, str) else UNDEFINED
    if isinstance(collection, (list, str)):
        index = to_floor_int(key) if not isinstance(key, bool) else None
        if index is None or not 0 <= index < len(collection):
            return UNDEFINED
        return collection[index]
    return UNDEFINED


@_register("encode", 2, since=V2016)
def _encode(scope: Scope, value: Any, scheme: Any) -> Any:
    if not isinstance(scheme, str) or scheme.lower() != "base64":
        return UNDEFINED
    if isinstance(value, bytes):
        data = value
    else:
        text = to_string(value)
        if text is UNDEFINED:
            return UNDEFINED
        data = text.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


@_register("decode", 2, since=V2016)
def _decode(scope: Scope, value: Any, scheme: Any) -> Any:
    if not isinstance(scheme, str) or scheme.lower() != "base64" or not isinstance(value, str):
        return UNDEFINED
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None  # "returns NULL if the string cannot be decoded"
    try:
        return parse_json(text, scope.version)
    except ValueError:
        return text


# --- cast() ------------------------------------------------------------------------------

CAST_TYPES = {
    "string": "string",
    "nvarchar": "string",
    "text": "string",
    "ntext": "string",
    "varchar": "string",
    "int": "int",
    "integer": "int",
    "double": "double",
    "decimal": "decimal",
    "bool": "bool",
    "boolean": "bool",
}
CAST_TYPES_SINCE_2016 = {"decimal", "bool", "boolean"}


def cast(value: Any, type_name: str) -> Any:
    kind = CAST_TYPES[type_name.lower()]
    if kind == "string":
        return to_string(value)
    if kind == "bool":
        if is_number(value):
            return value != 0
        b = to_bool(value)
        return UNDEFINED if b is None else b
    if isinstance(value, bool):
        number: Decimal | None = Decimal(1) if value else Decimal(0)
    else:
        number = to_decimal(value)
    if number is None:
        return UNDEFINED
    if kind == "int":
        return int(number.to_integral_value(rounding=ROUND_FLOOR))
    if kind == "double":
        return double(float(number))
    return number


# get_thing_shadow() and aws_lambda() reach other services; they register themselves.
from kurs.sky.rules import external as _external  # noqa: E402, F401
