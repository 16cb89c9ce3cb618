"""The AWS IoT SQL expression tree: each node evaluates itself against a :class:`Scope`."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kurs.sky.rules import functions
from kurs.sky.rules.context import Scope
from kurs.sky.rules.values import (
    UNDEFINED,
    normalize_number,
    op_and,
    op_arith,
    op_compare,
    op_in,
    op_negate,
    op_not,
    op_or,
    sql_equal,
)

# --- expression nodes ---------------------------------------------------------------------


class Node:
    """An expression. ``key`` names its output when selected without AS."""

    key: str | None = None

    def eval(self, scope: Scope) -> Any:
        raise NotImplementedError


@dataclass
class Literal(Node):
    value: Any

    def eval(self, scope: Scope) -> Any:
        return copy.deepcopy(self.value) if isinstance(self.value, (dict, list)) else self.value


@dataclass
class Field(Node):
    name: str

    @property
    def key(self) -> str:  # type: ignore[override]
        return self.name

    def eval(self, scope: Scope) -> Any:
        doc = scope.doc
        return doc.get(self.name, UNDEFINED) if isinstance(doc, dict) else UNDEFINED


@dataclass
class Variable(Node):
    """``@name``: a value from the SET clause (AWS IoT SQL reference, "SET clause")."""

    name: str  # without the @

    @property
    def key(self) -> str:  # type: ignore[override]
        return self.name

    def eval(self, scope: Scope) -> Any:
        value = scope.variables.get(self.name, UNDEFINED)
        return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


@dataclass
class Member(Node):
    base: Node
    name: str

    @property
    def key(self) -> str:  # type: ignore[override]
        return self.name

    def eval(self, scope: Scope) -> Any:
        value = self.base.eval(scope)
        return value.get(self.name, UNDEFINED) if isinstance(value, dict) else UNDEFINED


class StarArg(Node):
    """``*`` as a function argument: the whole payload as bytes (``encode(*, 'base64')``)."""

    def eval(self, scope: Scope) -> Any:
        return scope.raw


@dataclass
class Call(Node):
    function: functions.Function
    args: list[Node]

    @property
    def key(self) -> str:  # type: ignore[override]
        return self.function.name

    def eval(self, scope: Scope) -> Any:
        values = [a.eval(scope) for a in self.args]
        return normalize_number(self.function.impl(scope, *values), scope.version)


@dataclass
class Cast(Node):
    expr: Node
    type_name: str

    def eval(self, scope: Scope) -> Any:
        return normalize_number(functions.cast(self.expr.eval(scope), self.type_name), scope.version)


@dataclass
class Negate(Node):
    expr: Node

    def eval(self, scope: Scope) -> Any:
        return normalize_number(op_negate(self.expr.eval(scope)), scope.version)


@dataclass
class Arith(Node):
    op: str
    left: Node
    right: Node

    def eval(self, scope: Scope) -> Any:
        result = op_arith(self.op, self.left.eval(scope), self.right.eval(scope))
        return normalize_number(result, scope.version)


@dataclass
class Compare(Node):
    op: str
    left: Node
    right: Node

    def eval(self, scope: Scope) -> Any:
        return op_compare(self.op, self.left.eval(scope), self.right.eval(scope))


@dataclass
class In(Node):
    left: Node
    right: Node

    def eval(self, scope: Scope) -> Any:
        return op_in(self.left.eval(scope), self.right.eval(scope))


@dataclass
class Logic(Node):
    op: str  # "AND" | "OR"
    left: Node
    right: Node

    def eval(self, scope: Scope) -> Any:
        fn = op_and if self.op == "AND" else op_or
        return fn(self.left.eval(scope), self.right.eval(scope))


@dataclass
class Not(Node):
    expr: Node

    def eval(self, scope: Scope) -> Any:
        return op_not(self.expr.eval(scope))


@dataclass
class Case(Node):
    subject: Node
    whens: list[tuple[Node, Node]]
    otherwise: Node | None

    def eval(self, scope: Scope) -> Any:
        value = self.subject.eval(scope)
        if value is UNDEFINED:
            return UNDEFINED
        for test, result in self.whens:
            candidate = test.eval(scope)
            if candidate is not UNDEFINED and sql_equal(value, candidate):
                return result.eval(scope)
        return self.otherwise.eval(scope) if self.otherwise is not None else UNDEFINED


@dataclass
class ObjectLiteral(Node):
    pairs: list[tuple[str, Node]]

    def eval(self, scope: Scope) -> Any:
        result = {}
        for key, node in self.pairs:
            value = node.eval(scope)
            if value is not UNDEFINED:
                result[key] = value
        return result


@dataclass
class ArrayLiteral(Node):
    items: list[Node]

    def eval(self, scope: Scope) -> Any:
        return [v for v in (n.eval(scope) for n in self.items) if v is not UNDEFINED]


# --- SELECT lists ---------------------------------------------------------------------------


@dataclass
class SelectItem:
    kind: str  # "star" | "star_alias" | "expr"
    expr: Node | None = None
    alias: list[str] | None = None


@dataclass
class Select:
    value: Node | None  # SELECT VALUE <expr>
    items: list[SelectItem]

    def run(self, scope: Scope, *, top_level: bool) -> Any:
        if self.value is not None:
            return self.value.eval(scope)
        doc = scope.doc
        if top_level and len(self.items) == 1 and self.items[0].kind == "star" and not isinstance(doc, dict):
            return scope.raw  # SELECT * of a non-JSON payload: the raw bytes pass through
        result: dict[str, Any] = {}
        for position, item in enumerate(self.items, start=1):
            if item.kind == "star":
                if isinstance(doc, dict):
                    result.update(copy.deepcopy(doc))
                continue
            if item.kind == "star_alias":
                value = copy.deepcopy(doc) if isinstance(doc, dict) else UNDEFINED
                _put(result, item.alias or [], value)
                continue
            assert item.expr is not None
            value = item.expr.eval(scope)
            path = item.alias or [item.expr.key or f"_{position}"]
            _put(result, path, value)
        return result


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    if value is UNDEFINED:
        return  # Undefined is left out of the output
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[path[-1]] = value


@dataclass
class NestedSelect(Node):
    select: Select
    source: Node
    where: Node | None

    def eval(self, scope: Scope) -> Any:
        source = self.source.eval(scope)
        if isinstance(source, dict):
            source = [source]
        if not isinstance(source, list):
            return UNDEFINED
        results = []
        for element in source:
            inner = scope.with_doc(element if isinstance(element, dict) else UNDEFINED)
            if self.where is not None and self.where.eval(inner) is not True:
                continue
            value = self.select.run(inner, top_level=False)
            if value is not UNDEFINED:
                results.append(value)
        return results
