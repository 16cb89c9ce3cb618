"""Which mJS type an expression certainly has, through variables, assignments and returns.

The checker uses it to catch ``'n=' + n`` before the board does: mJS's ``+`` only adds two
numbers or joins two strings, anything else stops with "implicit type conversion is prohibited"
(cesanta/mjs ``mjs_exec.c``, ``do_op``).

The inference is deliberately simple and errs on "unknown": a name's type is known only when
*every* value the file ever gives a variable of that name (``let`` initialisers, ``=``, ``+=``,
``++``, ``for..in``) has the same known type, and no function has a parameter of that name.
Shadowing is therefore never a problem, only a reason to know less. A function's result is
known when every ``return`` gives the same known type and the body ends with a ``return``.
"""

from __future__ import annotations

from typing import Any

NUMBER_CALLS = frozenset({"Sys.uptime", "Sys.free_ram", "Sys.total_ram", "Timer.now", "Timer.set",
                          "GPIO.read", "GPIO.toggle", "MQTT.pub", "Math.floor", "Math.ceil",
                          "Math.round", "Math.random", "Math.abs", "Math.max", "Math.min",
                          "Math.sqrt", "Math.pow"})
STRING_CALLS = frozenset({"JSON.stringify", "Timer.fmt", "chr"})
ARITHMETIC = frozenset({"-", "*", "/", "%", "&", "|", "^", "<<", ">>", ">>>"})
BOOLEAN_OPS = frozenset({"===", "!==", "==", "!=", "<", "<=", ">", ">=", "in", "instanceof"})
_FUNCTIONS = ("FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression")
_UNKNOWN = "?"  # a value whose type cannot be known: poisons the name


class TypeInference:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}           # name -> its one known type
        self.functions: dict[str, Any] = {}       # name -> the function node it always holds
        self._values: dict[str, list[Any]] = {}   # name -> value expressions (or _UNKNOWN / a type)
        self._returns: dict[int, list[Any]] = {}  # id(function node) -> return arguments
        self._busy: set[int] = set()              # functions whose result is being worked out

    # -- learning the file ------------------------------------------------------------------
    def learn(self, tree: Any) -> None:
        self._collect(tree, None)
        for _ in range(6):  # a few rounds: b = a needs a's type first
            known = {name: t for name in self._values if (t := self._name_type(name)) is not None}
            if known == self.names:
                break
            self.names = known
        self.functions = {name: values[0] for name, values in self._values.items()
                          if len(values) == 1 and getattr(values[0], "type", None) in _FUNCTIONS}

    def _add(self, name: str, value: Any) -> None:
        self._values.setdefault(name, []).append(value)

    def _collect(self, node: Any, function: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self._collect(item, function)
            return
        if not hasattr(node, "type"):
            return
        kind = node.type
        if kind == "VariableDeclarator" and node.id.type == "Identifier":
            self._add(node.id.name, node.init if node.init is not None else "undefined")
        elif kind == "FunctionDeclaration" and node.id is not None:
            self._add(node.id.name, node)
        elif kind in _FUNCTIONS:
            for param in node.params:
                if param.type == "Identifier":
                    self._add(param.name, _UNKNOWN)
        elif kind == "AssignmentExpression" and node.left.type == "Identifier" and node.operator == "=":
            self._add(node.left.name, node.right)
        # 'a op= b' and 'a++' keep a's type or stop with an error (do_op, op_assign): no new type.
        elif kind == "ForInStatement":
            left = node.left
            target = left.declarations[0].id if left.type == "VariableDeclaration" else left
            if target.type == "Identifier":
                self._add(target.name, _UNKNOWN)  # keys: strings, or numbers for arrays
        elif kind == "ReturnStatement" and function is not None:
            self._returns.setdefault(id(function), []).append(node.argument)
        elif kind == "CatchClause" and node.param is not None and node.param.type == "Identifier":
            self._add(node.param.name, _UNKNOWN)
        inner = node if kind in _FUNCTIONS else function
        for key, value in vars(node).items():
            if key not in ("range", "loc") and (isinstance(value, list) or hasattr(value, "type")):
                self._collect(value, inner)

    def _name_type(self, name: str) -> str | None:
        found: set[str] = set()
        for value in self._values.get(name, []):
            if value == _UNKNOWN:
                return None
            if isinstance(value, str):
                found.add(value)
            else:
                kind = self.type_of(value)
                if kind is None:
                    return None
                found.add(kind)
        return found.pop() if len(found) == 1 else None

    def _return_type(self, function: Any) -> str | None:
        if id(function) in self._busy:  # recursion: the other returns decide
            return None
        self._busy.add(id(function))
        try:
            return self._returns_agree(function)
        finally:
            self._busy.discard(id(function))

    def _returns_agree(self, function: Any) -> str | None:
        body = function.body
        if body.type != "BlockStatement":
            return self.type_of(body)
        if not body.body or body.body[-1].type != "ReturnStatement":
            return None
        kinds = {self.type_of(arg) if arg is not None else "undefined"
                 for arg in self._returns.get(id(function), [])}
        return kinds.pop() if len(kinds) == 1 and None not in kinds else None

    # -- answering ----------------------------------------------------------------------------
    def type_of(self, node: Any) -> str | None:
        """The value type an expression certainly has in mJS, or None when it cannot be known."""
        kind = node.type
        if kind == "Literal":
            value = node.value
            if getattr(node, "regex", None) is not None:
                return None
            if isinstance(value, bool):
                return "boolean"
            if isinstance(value, str):
                return "string"
            if isinstance(value, int | float):
                return "number"
            return "null" if value is None else None
        if kind == "TemplateLiteral":
            return "string"
        if kind in _FUNCTIONS:
            return "function"
        if kind == "ArrayExpression":
            return "array"
        if kind == "ObjectExpression":
            return "object"
        if kind == "Identifier":
            fixed = {"undefined": "undefined", "NaN": "number"}.get(node.name)
            return fixed or self.names.get(node.name)
        if kind == "BinaryExpression":
            if node.operator in ARITHMETIC:
                return "number"
            if node.operator in BOOLEAN_OPS:
                return "boolean"
            if node.operator == "+":
                # In mJS '+' with text on either side gives text or stops with a type error.
                left, right = self.type_of(node.left), self.type_of(node.right)
                if "string" in (left, right):
                    return "string"
                return "number" if left == right == "number" else None
            return None
        if kind == "UnaryExpression":
            return {"-": "number", "~": "number", "!": "boolean", "typeof": "string",
                    "void": "undefined"}.get(node.operator)
        if kind == "UpdateExpression":
            return "number"
        if kind == "AssignmentExpression" and node.operator == "=":
            return self.type_of(node.right)
        if kind == "ConditionalExpression":
            left, right = self.type_of(node.consequent), self.type_of(node.alternate)
            return left if left == right else None
        if kind == "MemberExpression" and not node.computed and node.property.name == "length":
            return "number"
        if kind == "CallExpression":
            return self._call_type(node)
        return None

    def _call_type(self, node: Any) -> str | None:
        callee = node.callee
        if callee.type == "Identifier":
            if callee.name in STRING_CALLS:
                return "string"
            function = self.functions.get(callee.name)
            return self._return_type(function) if function is not None else None
        if callee.type in _FUNCTIONS:
            return self._return_type(callee)
        if callee.type == "MemberExpression" and not callee.computed:
            method = callee.property.name
            if callee.object.type == "Identifier":
                dotted = f"{callee.object.name}.{method}"
                if dotted in STRING_CALLS:
                    return "string"
                if dotted in NUMBER_CALLS:
                    return "number"
            if method in ("indexOf", "at", "charCodeAt"):
                return "number"
            if method == "slice" and self.type_of(callee.object) == "string":
                return "string"
        return None
