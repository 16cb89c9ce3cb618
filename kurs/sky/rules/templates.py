"""Substitution templates in rule action parameters: ``${topic(2)}``, ``${clientid()}`` ...

Each ``${expression}`` is evaluated against the original message (not the SELECT output:
aliases are not visible, as the developer guide says) and replaced by its string form;
an Undefined result becomes the empty string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from kurs.sky.rules.context import MessageContext
from kurs.sky.rules.sql import (
    DEFAULT_VERSION,
    Node,
    SqlParseError,
    aws_parse_message,
    make_scope,
    parse_expression,
)
from kurs.sky.rules.values import UNDEFINED, to_string


def _split(template: str) -> list[str | tuple[str]]:
    """Literal text and ``(expression,)`` parts. ``}`` inside quotes or nested braces is kept."""
    parts: list[str | tuple[str]] = []
    text, i = [], 0
    while i < len(template):
        if template.startswith("${", i):
            depth, j, quote = 0, i + 2, ""
            while j < len(template):
                ch = template[j]
                if quote:
                    if ch == "\\":
                        j += 1
                    elif ch == quote:
                        quote = ""
                elif ch in "'\"":
                    quote = ch
                elif ch == "{":
                    depth += 1
                elif ch == "}":
                    if depth == 0:
                        break
                    depth -= 1
                j += 1
            if j >= len(template):
                raise SqlParseError(
                    f"Malen «{template}» har en «${{» uten avsluttende «}}».",
                    "Skriv uttrykket som ${uttrykk}, f.eks. ${topic(2)}.",
                    aws_message=aws_parse_message(f"Unterminated substitution template in '{template}'."),
                )
            if text:
                parts.append("".join(text))
                text = []
            parts.append((template[i + 2 : j],))
            i = j + 1
        else:
            text.append(template[i])
            i += 1
    if text:
        parts.append("".join(text))
    return parts


@lru_cache(maxsize=512)
def _compile(template: str, version: str) -> tuple[str | Node, ...]:
    return tuple(
        part if isinstance(part, str) else parse_expression(part[0], version) for part in _split(template)
    )


def validate(template: str, version: str = DEFAULT_VERSION) -> None:
    """Raise :class:`SqlParseError` if a template's expressions do not parse."""
    _compile(template, version)


def substitute(template: str, payload: bytes, ctx: MessageContext, version: str = DEFAULT_VERSION,
               variables: dict[str, Any] | None = None) -> str:
    """Fill in a template for one message. Raises :class:`SqlParseError` for a bad template.

    ``variables`` are the rule's SET values (``${@name}``, SQL reference "SET clause")."""
    if "${" not in template:
        return template
    parts = _compile(template, version)
    scope = make_scope(payload, ctx, version, variables=variables)
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = to_string(part.eval(scope))
        out.append("" if value is UNDEFINED else value)
    return "".join(out)
