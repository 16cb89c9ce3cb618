"""AWS IoT SQL values: Undefined, type conversions and operators.

Follows the tables in the AWS IoT SQL reference ("Data types", "Operators"). Values are
plain Python: ``None`` is SQL Null, ``bool``, ``int`` (Int), ``Decimal`` (Decimal), ``str``,
``list``, ``dict``; ``bytes`` stands for a raw (non-JSON) payload; ``UNDEFINED`` is the
value of a missing field or a function given arguments it cannot use.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import Any

V2015 = "2015-10-08"
V2016 = "2016-03-23"
SQL_VERSIONS = (V2015, V2016, "beta")


class _Undefined:
    """SQL Undefined: not a value, dropped when the result is written as JSON."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()

# AWS documents Decimal as 34 significant digits.
DECIMAL_CONTEXT = Context(prec=34)

_DECIMAL_STRING = re.compile(r"^-?\d+(\.\d+)?([eE]-?\d+)?$")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return is_int(value) or isinstance(value, Decimal)


def normalize_number(value: Any, version: str) -> Any:
    """SQL 2016-03-23 treats whole-number Decimals such as 10.0 as Int (documented quirk)."""
    if isinstance(value, Decimal) and version != V2015 and value.is_finite():
        if value == value.to_integral_value():
            return int(value)
    return value


def parse_json(data: bytes | str, version: str) -> Any:
    """Parse JSON text with exact decimals, as the rules engine does. Raises ValueError."""
    return _normalize_tree(json.loads(data, parse_float=Decimal, parse_constant=_reject_constant), version)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN/Infinity; JSON (and AWS) do not


def _normalize_tree(value: Any, version: str) -> Any:
    if isinstance(value, dict):
        return {k: _normalize_tree(v, version) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_tree(v, version) for v in value]
    return normalize_number(value, version)


# --- conversions ("Conversions" tables) ------------------------------------------------


def to_decimal(value: Any) -> Decimal | None:
    """An Int, Decimal or numeric string as Decimal; None when it cannot be converted."""
    if is_int(value):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and _DECIMAL_STRING.match(value):
        return Decimal(value)
    return None


def to_floor_int(value: Any) -> int | None:
    """A number (or numeric string) rounded down to an Int, as most functions convert."""
    if is_int(value):
        return value
    number = to_decimal(value)
    if number is None or not number.is_finite():
        return None
    return int(number.to_integral_value(rounding=ROUND_FLOOR))


def to_bool(value: Any) -> bool | None:
    """Boolean, or the strings "true"/"false" in any case; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def to_string(value: Any) -> str | _Undefined:
    """The standard string conversion; Null and Undefined give Undefined."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_int(value):
        return str(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, (list, dict)):
        return json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)
    return UNDEFINED


def decimal_text(value: Decimal) -> str:
    text = str(value)
    # Decimal('1E+1') and friends: write whole numbers out in full.
    if "E+" in text:
        text = format(value, "f")
    return text


def to_json(value: Any) -> Any:
    """A value as plain JSON-ready Python (Decimal → int/float); Undefined members dropped."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items() if v is not UNDEFINED}
    if isinstance(value, list):
        return [to_json(v) for v in value if v is not UNDEFINED]
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value() and value.as_tuple().exponent >= 0:
            return int(value)
        return float(value)
    return value


def double(value: float) -> Decimal | _Undefined:
    """A double-precision function result as Decimal (NaN and infinities are Undefined)."""
    if value != value or value in (float("inf"), float("-inf")):
        return UNDEFINED
    return Decimal(repr(value))


# --- operators -------------------------------------------------------------------------


def op_add(left: Any, right: Any) -> Any:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if isinstance(left, str) or isinstance(right, str):
        a, b = to_string(left), to_string(right)
        if a is UNDEFINED or b is UNDEFINED:
            return UNDEFINED
        return a + b
    if is_int(left) and is_int(right):
        return left + right
    if is_number(left) and is_number(right):
        return DECIMAL_CONTEXT.add(to_decimal(left), to_decimal(right))
    return UNDEFINED


def _int_div(a: int, b: int) -> int:
    # Java-style: truncate toward zero.
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _int_rem(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


_INT_OPS = {
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _int_div,
    "%": _int_rem,
}
_DEC_OPS = {
    "-": DECIMAL_CONTEXT.subtract,
    "*": DECIMAL_CONTEXT.multiply,
    "/": DECIMAL_CONTEXT.divide,
    "%": DECIMAL_CONTEXT.remainder,
}


def op_arith(op: str, left: Any, right: Any) -> Any:
    """``-``, ``*``, ``/`` and ``%``: Int with Int stays Int; numeric strings become Decimal."""
    if op == "+":
        return op_add(left, right)
    if is_int(left) and is_int(right):
        if op in "/%" and right == 0:
            return UNDEFINED
        return _INT_OPS[op](left, right)
    a, b = to_decimal(left), to_decimal(right)
    if a is None or b is None:
        return UNDEFINED
    try:
        return _DEC_OPS[op](a, b)
    except (InvalidOperation, ZeroDivisionError, ArithmeticError):
        return UNDEFINED


def sql_equal(left: Any, right: Any) -> bool:
    """Equality of two defined values; mismatched types are simply not equal."""
    if is_number(left) and is_number(right):
        return to_decimal(left) == to_decimal(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(sql_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(sql_equal(left[k], right[k]) for k in left)
    if type(left) is type(right):
        return left == right
    return False


def op_compare(op: str, left: Any, right: Any) -> Any:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if op == "=":
        return sql_equal(left, right)
    if op == "<>":
        return not sql_equal(left, right)
    a, b = to_decimal(left), to_decimal(right)
    if a is None or b is None:
        return UNDEFINED
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b  # ">="


def op_in(left: Any, right: Any) -> Any:
    if left is UNDEFINED or not isinstance(right, list):
        return UNDEFINED
    return any(item is not UNDEFINED and sql_equal(left, item) for item in right)


def op_and(left: Any, right: Any) -> Any:
    a, b = to_bool(left), to_bool(right)
    if a is None or b is None:
        return UNDEFINED
    return a and b


def op_or(left: Any, right: Any) -> Any:
    a, b = to_bool(left), to_bool(right)
    if a is None or b is None:
        return UNDEFINED
    return a or b


def op_not(value: Any) -> Any:
    a = to_bool(value)
    return UNDEFINED if a is None else not a


def op_negate(value: Any) -> Any:
    if is_int(value):
        return -value
    number = to_decimal(value)
    return UNDEFINED if number is None else -number
