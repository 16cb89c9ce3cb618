"""A source transform that makes QuickJS give mJS's answers where mJS and standard JS differ.

Each rewrite keeps every token on its own line, so error line numbers stay right. What it
changes, and where mJS does it (cesanta/mjs ``src/mjs_exec.c`` unless said otherwise):

* arithmetic (``+ - * / % & | ^ << >> >>>``, their ``op=`` forms, ``++`` and ``--``) goes through
  ``__kurs_bin``: numbers with numbers, ``+`` on two strings, else "implicit type conversion is
  prohibited" (``do_op`` / ``op_assign``);
* ``< <= > >=`` and unary ``-`` read both sides with ``mjs_get_double``, which "returns NaN
  for non-numbers" (``mjs.h``): ``'b' > 'a'`` is false; unary ``+`` does nothing (``TOK_UNARY_PLUS``);
* ``typeof x`` is ``__kurs_typeof(x)``: ``'null'``, ``'array'``, ``'foreign_ptr'`` (``mjs_typeof``);
* ``for (k in o)`` visits keys newest first (properties are a list added to at the head,
  ``mjs_object.c``), and a non-object is "can't iterate over non-object";
* string literals are byte strings: non-ASCII characters become their UTF-8 bytes, so
  ``'blåbær'.length`` is 8 (mJS strings are bytes, README "Restrictions");
* ``let`` at the top level of a file is a property of the global scope object, so ``let a``
  twice, or a file ``load()``-ed twice, runs again instead of failing (mJS's scopes are objects).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", ">>>"})
RELATIONAL = frozenset({"<", "<=", ">", ">="})
GLOBAL = "__kurs_g"


@dataclass
class _Edits:
    """Text insertions and token replacements, applied back to front."""

    inserts: list[tuple[int, int, int, str]] = field(default_factory=list)  # pos, phase, order, text
    replaces: list[tuple[int, int, str]] = field(default_factory=list)

    def open(self, pos: int, depth: int, text: str) -> None:
        self.inserts.append((pos, 1, depth, text))      # outer openers first

    def close(self, pos: int, depth: int, text: str) -> None:
        self.inserts.append((pos, 0, -depth, text))     # inner closers first, before any opener

    def replace(self, start: int, end: int, text: str) -> None:
        self.replaces.append((start, end, text))

    def apply(self, source: str) -> str:
        pieces: list[tuple[int, int, int, int, str]] = [(p, ph, o, p, t) for p, ph, o, t in self.inserts]
        pieces += [(s, 1, -10**6, e, t) for s, e, t in self.replaces]
        pieces.sort(key=lambda item: (item[0], item[1], item[2]))
        out: list[str] = []
        cursor = 0
        for start, _phase, _order, end, text in pieces:
            if start < cursor:
                continue  # overlapping edit: never produced for valid trees; skip rather than corrupt
            out.append(source[cursor:start])
            out.append(text)
            cursor = end
        out.append(source[cursor:])
        return "".join(out)


def _byte_string(raw: str) -> str:
    """A string literal's source text with every non-ASCII character written as \\xNN bytes."""
    if raw.isascii():
        return raw
    return "".join(ch if ord(ch) < 0x80 else "".join(f"\\x{b:02x}" for b in ch.encode("utf-8")) for ch in raw)


class _Transformer:
    def __init__(self, source: str, tokens: list[Any]) -> None:
        self.source = source
        self.tokens = tokens
        self.edits = _Edits()

    def token_between(self, start: int, end: int, value: str) -> Any | None:
        for token in self.tokens:
            begin = token.range[0]
            if begin >= end:
                break
            if begin >= start and token.value == value:
                return token
        return None

    def visit(self, node: Any, depth: int, top_level: bool = False) -> None:
        if isinstance(node, list):
            for item in node:
                self.visit(item, depth, top_level)
            return
        if not hasattr(node, "type"):
            return
        kind = node.type
        if kind == "BinaryExpression" and node.operator in ARITHMETIC:
            op = self.token_between(node.left.range[1], node.right.range[0], node.operator)
            if op is not None:
                self.edits.open(node.range[0], depth, f"__kurs_bin('{node.operator}',")
                self.edits.replace(op.range[0], op.range[1], ",")
                self.edits.close(node.range[1], depth, ")")
        elif kind == "BinaryExpression" and node.operator in RELATIONAL:
            op = self.token_between(node.left.range[1], node.right.range[0], node.operator)
            if op is not None:
                self.edits.open(node.range[0], depth, f"__kurs_rel('{node.operator}',")
                self.edits.replace(op.range[0], op.range[1], ",")
                self.edits.close(node.range[1], depth, ")")
        elif kind == "UnaryExpression" and node.operator == "-" and not _number_literal(node.argument):
            self.edits.replace(node.range[0], node.range[0] + 1, "__kurs_neg(")
            self.edits.close(node.range[1], depth, ")")
        elif kind == "UnaryExpression" and node.operator == "+":
            self.edits.replace(node.range[0], node.range[0] + 1, " ")
        elif kind == "AssignmentExpression" and node.operator[:-1] in ARITHMETIC and _pure(node.left):
            op = self.token_between(node.left.range[1], node.right.range[0], node.operator)
            if op is not None:
                target = self.source[node.left.range[0]:node.left.range[1]]
                self.edits.replace(op.range[0], op.range[1], f"= __kurs_bin('{node.operator[:-1]}',{target},")
                self.edits.close(node.range[1], depth, ")")
        elif kind == "UpdateExpression" and _pure(node.argument):
            # ++/-- go through do_op with the number 1 (TOK_POSTFIX_PLUS ...): numbers only.
            # __kurs_num(x, x++): checks the old value, returns the update's own result; starts
            # with a name, not '(', so a previous line without ';' is not called.
            target = self.source[node.argument.range[0]:node.argument.range[1]]
            self.edits.open(node.range[0], depth, f"__kurs_num({target}, ")
            self.edits.close(node.range[1], depth, ")")
        elif kind == "UnaryExpression" and node.operator == "typeof":
            self.edits.replace(node.range[0], node.range[0] + len("typeof"), "__kurs_typeof(")
            self.edits.close(node.range[1], depth, ")")
        elif kind == "ForInStatement":
            word = self.token_between(node.left.range[1], node.right.range[0], "in")
            if word is not None:
                self.edits.replace(word.range[0], word.range[1], "of __kurs_keys(")
                self.edits.close(node.right.range[1], depth, ")")
        elif kind == "Literal" and isinstance(node.value, str):
            raw = self.source[node.range[0]:node.range[1]]
            if not raw.isascii():
                self.edits.replace(node.range[0], node.range[1], _byte_string(raw))
        elif kind == "VariableDeclaration" and top_level and node.kind == "let":
            self.global_let(node)
        for key, value in vars(node).items():
            if key in ("range", "loc"):
                continue
            if isinstance(value, list) or hasattr(value, "type"):
                child_top = top_level and kind == "Program"
                self.visit(value, depth + 1, child_top)

    def global_let(self, node: Any) -> None:
        """``let a = 1, b;`` at file level -> ``__kurs_g.a = 1, __kurs_g.b = undefined;``."""
        start = node.range[0]
        self.edits.replace(start, start + len("let"), "")
        for decl in node.declarations:
            if decl.id.type != "Identifier":
                return
            self.edits.open(decl.id.range[0], 0, f"{GLOBAL}.")
            if decl.init is None:
                self.edits.close(decl.id.range[1], 0, " = undefined")


def _pure(node: Any) -> bool:
    """An assignment target that can be evaluated twice without side effects."""
    if node.type == "Identifier":
        return True
    if node.type == "MemberExpression":
        key_ok = not node.computed or node.property.type in ("Identifier", "Literal")
        return key_ok and _pure(node.object)
    return False


def _number_literal(node: Any) -> bool:
    return node.type == "Literal" and isinstance(node.value, int | float) and not isinstance(node.value, bool)


@functools.lru_cache(maxsize=256)
def transform(source: str) -> str:
    """``source`` rewritten for mJS semantics; code that does not parse is returned unchanged
    (QuickJS then reports the syntax error itself)."""
    try:
        import esprima

        tree = esprima.parseScript(source, {"range": True})
        tokens = esprima.tokenize(source, {"range": True})
    except Exception:  # noqa: BLE001 - esprima's errors, or code it does not know
        return source
    transformer = _Transformer(source, tokens)
    transformer.visit(tree, 0, top_level=True)
    return transformer.edits.apply(source)
