"""AWS IoT SQL for topic rules: parse a statement once, evaluate it against each message.

``parse(sql, version)`` gives a :class:`Statement`; ``Statement.evaluate(payload, ctx)``
returns the rule's outgoing payload (after the SET clause's variables, if any), or None when
the message does not trigger it (topic outside the FROM filter, or WHERE not true). The semantics follow the AWS IoT developer
guide's SQL reference: a missing field is Undefined and left out of the output; WHERE
acts only when it is exactly true; ``SELECT *`` of a payload that is not a JSON object
passes the raw bytes through.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from kurs.errors import CourseError
from kurs.sky.rules import functions
from kurs.sky.rules.context import MessageContext, Scope
from kurs.sky.rules.grammar import GRAMMAR
from kurs.sky.rules.nodes import (
    Arith,
    ArrayLiteral,
    Call,
    Case,
    Cast,
    Compare,
    Field,
    In,
    Literal,
    Logic,
    Member,
    Negate,
    NestedSelect,
    Node,
    Not,
    ObjectLiteral,
    Select,
    SelectItem,
    StarArg,
    Variable,
)
from kurs.sky.rules.values import SQL_VERSIONS, UNDEFINED, V2015, V2016, normalize_number, parse_json, to_json

DEFAULT_VERSION = V2016
MAX_VARIABLE_NAME = 64  # AWS IoT SQL reference, "SET clause"
# What AWS uses when a rule is created without awsIotSqlVersion.
AWS_DEFAULT_VERSION = V2015


class SqlParseError(CourseError):
    """A rule's SQL that AWS IoT would refuse (``SqlParseException`` from create_topic_rule).

    ``message``/``fix`` are Norwegian for the learner; ``aws_code`` and ``aws_message`` are
    what the local cloud's API answers, in AWS's style.
    """

    def __init__(
        self,
        message: str,
        fix: str | None = None,
        *,
        aws_message: str,
        aws_code: str = "SqlParseException",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.aws_code = aws_code
        self.aws_message = aws_message
        self.line = line
        self.column = column
        super().__init__(message, fix)


def aws_parse_message(detail: str) -> str:
    # The API reference describes SqlParseException as "The Rule-SQL expression can't be
    # parsed correctly."; AWS's own detail text is not documented, so ours follows it.
    return f"The Rule-SQL expression can't be parsed correctly. {detail}"


# --- parse tree → nodes -----------------------------------------------------------------------


def _unquote(token: str) -> str:
    return re.sub(r"\\(['\"\\])", r"\1", token[1:-1])


def _number(text: str, version: str) -> Any:
    if re.fullmatch(r"\d+", text):
        return int(text)
    return normalize_number(Decimal(text), version)


@v_args(inline=True)
class _Builder(Transformer):
    def __init__(self, version: str) -> None:
        super().__init__()
        self.version = version

    def _needs_2016(self, what: str, english: str, token: Token | None = None) -> None:
        if self.version == V2015:
            raise SqlParseError(
                f"{what} krever SQL-versjon {V2016}, men regelen bruker {V2015}.",
                f"Lag regelen med awsIotSqlVersion='{V2016}'.",
                aws_message=aws_parse_message(f"{english} is not supported in SQL version {V2015}."),
                line=getattr(token, "line", None),
                column=getattr(token, "column", None),
            )

    # statement
    def statement(self, assignments: list[tuple[str, Node]] | None, select: Select, topic: Token,
                  where: Node | None) -> tuple:
        return assignments or [], select, topic, where

    def where_clause(self, expr: Node) -> Node:
        return expr

    def set_clause(self, *assignments: tuple[str, Node]) -> list[tuple[str, Node]]:
        return list(assignments)

    def assignment(self, var: Token, op: Token, expr: Node) -> tuple[str, Node]:
        if str(op) != "=":
            raise SqlParseError(
                f"I SET skal det stå «=» etter {var}, ikke «{op}».",
                "Skriv for eksempel SET @celsius = (fahrenheit - 32) * 5 / 9 SELECT @celsius FROM '…'.",
                aws_message=aws_parse_message(f"Expected '=' after {var}."),
                line=op.line, column=op.column,
            )
        return self.variable(var).name, expr

    def variable(self, token: Token) -> Variable:
        name = str(token)[1:]
        if len(name) > MAX_VARIABLE_NAME:
            raise SqlParseError(
                f"Variabelnavnet «{token}» er lengre enn {MAX_VARIABLE_NAME} tegn.",
                "Bruk et kortere navn.",
                aws_message=aws_parse_message(f"Variable name {token} is longer than {MAX_VARIABLE_NAME} characters."),
                line=token.line, column=token.column,
            )
        return Variable(name)

    def select_value(self, expr: Node) -> Select:
        return Select(value=expr, items=[])

    def select_items(self, *items: SelectItem) -> Select:
        return Select(value=None, items=list(items))

    def star_item(self, _star: Token) -> SelectItem:
        return SelectItem("star")

    def star_alias_item(self, _star: Token, alias: list[str]) -> SelectItem:
        return SelectItem("star_alias", alias=alias)

    def expr_item(self, expr: Node) -> SelectItem:
        return SelectItem("expr", expr=expr)

    def expr_alias_item(self, expr: Node, alias: list[str]) -> SelectItem:
        return SelectItem("expr", expr=expr, alias=alias)

    def alias(self, *names: Token) -> list[str]:
        return [str(n) for n in names]

    def nested_select(self, select: Select, source: Node, where: Node | None = None) -> NestedSelect:
        self._needs_2016("En nøstet SELECT", "A nested SELECT")
        return NestedSelect(select, source, where)

    # operators
    def or_op(self, left: Node, right: Node) -> Node:
        return Logic("OR", left, right)

    def and_op(self, left: Node, right: Node) -> Node:
        return Logic("AND", left, right)

    def not_op(self, expr: Node) -> Node:
        return Not(expr)

    def compare(self, left: Node, op: Token, right: Node) -> Node:
        return Compare(str(op), left, right)

    def in_op(self, left: Node, right: Node) -> Node:
        return In(left, right)

    def arith(self, left: Node, op: Token, right: Node) -> Node:
        return Arith(str(op), left, right)

    def sign(self, op: Token, expr: Node) -> Node:
        return Negate(expr) if str(op) == "-" else expr

    def member(self, base: Node, name: Token) -> Node:
        return Member(base, str(name))

    # atoms
    def number(self, token: Token) -> Node:
        return Literal(_number(str(token), self.version))

    def string(self, token: Token) -> Node:
        return Literal(_unquote(str(token)))

    def true(self) -> Node:
        return Literal(True)

    def false(self) -> Node:
        return Literal(False)

    def null(self) -> Node:
        return Literal(None)

    def field(self, name: Token) -> Node:
        return Field(str(name))

    def star_arg(self, _star: Token) -> Node:
        return StarArg()

    def call(self, name: Token, *args: Node | None) -> Node:
        arguments = [a for a in args if a is not None]
        fname = str(name)
        function = functions.lookup(fname)
        where = {"line": name.line, "column": name.column}
        if function is None:
            if fname.lower() in functions.NOT_SUPPORTED_LOCALLY:
                raise SqlParseError(
                    f"Funksjonen «{fname}()» finnes i AWS IoT, men den lokale skyen kan ikke kjøre den.",
                    "Bruk den bare mot ekte AWS, eller løs oppgaven uten den.",
                    aws_message=aws_parse_message(f"Function {fname} is not supported here."),
                    **where,
                )
            raise SqlParseError(
                f"Funksjonen «{fname}()» finnes ikke i AWS IoT SQL.",
                "Sjekk stavemåten mot funksjonslisten i AWS IoT SQL-referansen.",
                aws_message=aws_parse_message(f"Unknown function: {fname}."),
                **where,
            )
        if function.since == V2016:
            self._needs_2016(f"Funksjonen «{function.name}()»", f"Function {function.name}", name)
        if function.name == "get_thing_shadow" and arguments and isinstance(arguments[-1], Variable):
            # "roleArn parameters ... do not support variables" (SQL reference, "SET clause")
            raise SqlParseError(
                "roleArn i get_thing_shadow() kan ikke være en variabel fra SET.",
                "Skriv rollens ARN rett inn, f.eks. 'arn:aws:iam::123456789012:role/min-rolle'.",
                aws_message=aws_parse_message("Variables are not supported for the roleArn parameter."),
                **where,
            )
        count = len(arguments)
        too_few = count < function.min_args
        too_many = function.max_args is not None and count > function.max_args
        if too_few or too_many:
            if function.max_args is None:
                wanted = f"minst {function.min_args}"
            elif function.min_args == function.max_args:
                wanted = str(function.min_args)
            else:
                wanted = f"{function.min_args}–{function.max_args}"
            raise SqlParseError(
                f"Funksjonen «{function.name}()» tar {wanted} argument(er), men fikk {count}.",
                aws_message=aws_parse_message(f"Wrong number of arguments for function {function.name}."),
                **where,
            )
        return Call(function, arguments)

    def cast(self, expr: Node, type_name: Token) -> Node:
        kind = str(type_name).lower()
        if kind not in functions.CAST_TYPES:
            raise SqlParseError(
                f"cast() kjenner ikke typen «{type_name}».",
                "Bruk en av String, Int, Double, Decimal eller Boolean.",
                aws_message=aws_parse_message(f"Unknown type in cast: {type_name}."),
                line=type_name.line,
                column=type_name.column,
            )
        if kind in functions.CAST_TYPES_SINCE_2016:
            self._needs_2016(f"cast(… AS {type_name})", f"cast to {type_name}", type_name)
        return Cast(expr, str(type_name))

    def when_clause(self, test: Node, result: Node) -> tuple[Node, Node]:
        return test, result

    def else_clause(self, result: Node) -> Node:
        return result

    def case(self, subject: Node, *rest: Any) -> Node:
        whens = [r for r in rest if isinstance(r, tuple)]
        tail = rest[-1] if rest and not isinstance(rest[-1], tuple) else None
        return Case(subject, whens, tail)

    def pair(self, key: Token, value: Node) -> tuple[str, Node]:
        return _unquote(str(key)), value

    def object(self, *pairs: tuple[str, Node] | None) -> Node:
        self._needs_2016("Et objekt-literal { … }", "An object literal")
        return ObjectLiteral([p for p in pairs if p is not None])

    def array(self, *items: Node | None) -> Node:
        self._needs_2016("Et liste-literal [ … ]", "An array literal")
        return ArrayLiteral([i for i in items if i is not None])


# --- parsing and errors -----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, start=["statement", "expr"], parser="lalr")


_TOKEN_NAMES = {
    "LPAR": "«(»",
    "RPAR": "«)»",
    "COMMA": "«,»",
    "DOT": "«.»",
    "COLON": "«:»",
    "LBRACE": "«{»",
    "RBRACE": "«}»",
    "LSQB": "«[»",
    "RSQB": "«]»",
    "STAR": "«*»",
    "COMP_OP": "en sammenligning (=, <>, <, <=, >, >=)",
    "ADD_OP": "«+» eller «-»",
    "MUL_OP": "«/» eller «%»",
    "NUMBER": "et tall",
    "SQ_STRING": "tekst i enkle anførselstegn",
    "DQ_STRING": "tekst i doble anførselstegn",
    "NAME": "et feltnavn",
    "$END": "slutten av setningen",
}
# Terminals that can start an expression; listed together as "et uttrykk".
_EXPR_START = {
    "NAME",
    "NUMBER",
    "SQ_STRING",
    "DQ_STRING",
    "TRUE",
    "FALSE",
    "NULL",
    "CASE",
    "CAST",
    "LPAR",
    "LBRACE",
    "LSQB",
    "ADD_OP",
    "NOT",
}


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    parts = []
    if {"NAME", "NUMBER"} <= names:
        parts.append("et uttrykk (felt, tall, tekst eller funksjon)")
        names -= _EXPR_START
    for name in sorted(names):
        parts.append(_TOKEN_NAMES.get(name, f"«{name}»"))
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " eller " + parts[-1]
    return parts[0] if parts else "noe annet"


def _token_text(token: Token) -> str:
    return "slutten av setningen" if token.type == "$END" else f"«{token}»"


def _syntax_error(exc: UnexpectedInput, sql: str) -> SqlParseError:
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    if isinstance(line, int) and line < 0:
        line = column = None
    where = f" (linje {line}, kolonne {column})" if line else ""
    at = f" at line {line}, column {column}" if line else ""

    if isinstance(exc, UnexpectedCharacters):
        rest = sql[exc.pos_in_stream :]
        if rest.startswith("!="):
            return SqlParseError(
                f"AWS IoT SQL har ikke «!=»{where}.",
                "Skriv «<>» for «ikke lik», f.eks. WHERE farge <> 'rød'.",
                aws_message=aws_parse_message(f"Unexpected character '!'{at}."),
                line=line,
                column=column,
            )
        return SqlParseError(
            f"Tegnet «{exc.char}» hører ikke hjemme her i SQL-setningen{where}.",
            "Feltnavn kan bare ha bokstaver, tall og _; bruk get(felt, 'navn-med-bindestrek') for andre navn.",
            aws_message=aws_parse_message(f"Unexpected character '{exc.char}'{at}."),
            line=line,
            column=column,
        )

    if isinstance(exc, UnexpectedToken):
        token, expected = exc.token, set(exc.expected)
    else:  # UnexpectedEOF
        token, expected = Token("$END", ""), set(getattr(exc, "expected", ()))

    if expected == {"SQ_STRING"}:
        return SqlParseError(
            f"Emnefilteret etter FROM må stå i enkle anførselstegn{where}.",
            "Skriv for eksempel FROM 'knapp/trykk' eller FROM 'hus/+/temperatur'.",
            aws_message=aws_parse_message(f"Expected a topic filter in single quotes after FROM{at}."),
            line=line,
            column=column,
        )
    if token.type == "$END":
        where, at, line, column = "", "", None, None
    if token.type == "$END" and "FROM" in expected:
        return SqlParseError(
            "SQL-setningen mangler FROM 'emnefilter'.",
            "En regel trenger FROM med emnet den lytter på, f.eks. SELECT * FROM 'knapp/trykk'.",
            aws_message=aws_parse_message("Expected FROM."),
        )
    if "COMP_OP" in expected:
        # The token came right after a complete expression.
        return SqlParseError(
            f"Uventet {_token_text(token)} i SQL-setningen{where}.",
            "Sjekk at feltene er skilt med komma, at nye navn har AS foran (SELECT a AS b), "
            "og at ingen operator eller parentes mangler.",
            aws_message=aws_parse_message(f"Unexpected token '{token}'{at}."),
            line=line,
            column=column,
        )
    if token.type == "$END":
        return SqlParseError(
            "SQL-setningen slutter før den er ferdig.",
            f"Til slutt ventet regelmotoren {_describe_expected(expected)}.",
            aws_message=aws_parse_message("Unexpected end of statement."),
        )
    return SqlParseError(
        f"Uventet {_token_text(token)} i SQL-setningen{where}.",
        f"Her ventet regelmotoren {_describe_expected(expected)}.",
        aws_message=aws_parse_message(f"Unexpected token '{token}'{at}."),
        line=line,
        column=column,
    )


def _outside_strings(sql: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", lambda m: " " * len(m.group(0)), sql)


def _check_version(version: str) -> str:
    if version not in SQL_VERSIONS:
        raise SqlParseError(
            f"Ukjent SQL-versjon «{version}».",
            f"Bruk awsIotSqlVersion='{V2016}' (anbefalt) eller '{V2015}'.",
            aws_code="InvalidRequestException",
            aws_message=f"Invalid awsIotSqlVersion: {version}",
        )
    return V2016 if version == "beta" else version


def _build(tree: Any, version: str) -> Any:
    try:
        return _Builder(version).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SqlParseError):
            raise exc.orig_exc from None
        raise


def parse(sql: str, version: str = DEFAULT_VERSION) -> Statement:
    """Parse a rule's SQL. Raises :class:`SqlParseError` for anything AWS IoT would refuse."""
    version = _check_version(version)
    if not isinstance(sql, str) or not sql.strip():
        raise SqlParseError(
            "SQL-setningen er tom.",
            "Skriv for eksempel SELECT * FROM 'knapp/trykk'.",
            aws_message=aws_parse_message("The SQL statement is empty."),
        )
    bare = _outside_strings(sql)
    if "--" in bare or "/*" in bare:
        raise SqlParseError(
            "AWS IoT SQL tillater ikke kommentarer (-- eller /* */).",
            "Fjern kommentaren fra SQL-setningen.",
            aws_message=aws_parse_message("Comments are not supported."),
        )
    if re.search(r",\s*from\b", bare, re.IGNORECASE):
        raise SqlParseError(
            "Det står et komma rett foran FROM.",
            "Fjern kommaet etter det siste feltet i SELECT-listen.",
            aws_message=aws_parse_message("Unexpected token FROM after ','."),
        )
    if re.match(r"\s*select\s+from\b", bare, re.IGNORECASE):
        raise SqlParseError(
            "SELECT mangler felt: skriv hva regelen skal hente ut.",
            "Skriv for eksempel SELECT * FROM 'knapp/trykk' for å ta med hele meldingen.",
            aws_message=aws_parse_message("Expected a select list after SELECT."),
        )
    if not re.match(r"\s*(select|set)\b", sql, re.IGNORECASE):
        raise SqlParseError(
            "En regel sin SQL-setning må begynne med SELECT (eller SET, foran SELECT).",
            "Skriv for eksempel SELECT * FROM 'knapp/trykk'.",
            aws_message=aws_parse_message("Expected SELECT."),
        )
    try:
        tree = _parser().parse(sql, start="statement")
    except UnexpectedInput as exc:
        raise _syntax_error(exc, sql) from None
    assignments, select, topic_token, where = _build(tree, version)
    topic_filter = _unquote(str(topic_token))
    validate_topic_filter(topic_filter)
    _check_variables(assignments, [select, where])
    return Statement(sql=sql, version=version, topic_filter=topic_filter, select=select, where=where,
                     assignments=assignments)


def _variables_in(node: Any) -> set[str]:
    """Every @name an expression tree reads."""
    if isinstance(node, Variable):
        return {node.name}
    if isinstance(node, (list, tuple)):
        return set().union(*(_variables_in(item) for item in node)) if node else set()
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return set().union(*(_variables_in(getattr(node, f.name)) for f in dataclasses.fields(node)))
    return set()


def _check_variables(assignments: list[tuple[str, Node]], rest: list[Any]) -> None:
    """SET rules (AWS IoT SQL reference, "SET clause"): each variable assigned once, and used only
    after it is assigned (in a later assignment, SELECT or WHERE)."""
    defined: set[str] = set()

    def undefined(names: set[str]) -> None:
        missing = sorted(names - defined)
        if missing:
            name = "@" + missing[0]
            raise SqlParseError(
                f"Variabelen «{name}» brukes, men er ikke satt i SET før den brukes.",
                f"Sett den først: SET {name} = uttrykk SELECT … FROM '…'.",
                aws_message=aws_parse_message(f"Undefined variable {name}."),
            )

    for name, expr in assignments:
        undefined(_variables_in(expr))
        if name in defined:
            raise SqlParseError(
                f"Variabelen «@{name}» settes to ganger i SET; en variabel kan bare settes én gang.",
                "Gi den andre variabelen et annet navn.",
                aws_message=aws_parse_message(f"Variable @{name} is assigned more than once."),
            )
        defined.add(name)
    undefined(_variables_in(rest))


def parse_expression(text: str, version: str = DEFAULT_VERSION) -> Node:
    """Parse one expression, as used inside a substitution template ``${...}``."""
    version = _check_version(version)
    try:
        tree = _parser().parse(text, start="expr")
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    return _build(tree, version)


# --- topic filters ----------------------------------------------------------------------------


def validate_topic_filter(topic_filter: str) -> None:
    def refuse(problem: str, detail: str) -> SqlParseError:
        return SqlParseError(
            f"Emnefilteret «{topic_filter}» er ugyldig: {problem}.",
            "Jokertegn står alene på sitt nivå: «+» for ett nivå, «#» bare helt til slutt, f.eks. 'hus/+/lys/#'.",
            aws_message=aws_parse_message(f"Invalid topic filter '{topic_filter}': {detail}."),
        )

    if not topic_filter:
        raise refuse("det er tomt", "empty")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise refuse("«#» kan bare stå alene, som siste nivå", "'#' must be the last level on its own")
        if "+" in level and level != "+":
            raise refuse("«+» må stå alene mellom to «/»", "'+' must occupy a whole level")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching; wildcards at the start do not match ``$``-topics."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    wanted, actual = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(wanted):
        if level == "#":
            return True
        if i >= len(actual) or (level != "+" and level != actual[i]):
            return False
    return len(wanted) == len(actual)


# --- statements -------------------------------------------------------------------------------


def make_scope(payload: bytes, ctx: MessageContext, version: str, *, external: Any = None,
               variables: dict[str, Any] | None = None) -> Scope:
    """The scope for one message: fields are readable only when the payload is a JSON object."""
    try:
        parsed = parse_json(payload, version) if payload else UNDEFINED
    except (ValueError, RecursionError):  # not JSON (or absurdly deep): fields are Undefined
        parsed = UNDEFINED
    return Scope(doc=parsed if isinstance(parsed, dict) else UNDEFINED, raw=payload, ctx=ctx, version=version,
                 variables=dict(variables or {}), external=external)


@dataclass
class Statement:
    """A parsed rule SQL statement."""

    sql: str
    version: str
    topic_filter: str
    select: Select
    where: Node | None
    assignments: list[tuple[str, Node]] = field(default_factory=list)  # SET @name = expr, in order

    def matches_topic(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    def evaluate(self, payload: bytes, ctx: MessageContext, *, check_topic: bool = True,
                 external: Any = None) -> Any:
        """See :meth:`run`; the outgoing payload only."""
        return self.run(payload, ctx, check_topic=check_topic, external=external)[0]

    def run(self, payload: bytes, ctx: MessageContext, *, check_topic: bool = True,
            external: Any = None) -> tuple[Any, dict[str, Any]]:
        """The outgoing payload for this message, or None when the rule is not triggered.

        The result is a dict for an ordinary SELECT; any JSON value for ``SELECT VALUE``;
        ``bytes`` when the raw payload passes through (``SELECT *`` of non-JSON data), and
        also for ``SELECT VALUE`` results that are Undefined (``b""``) or Null (``b"null"``).
        ``check_topic=False`` is for Basic Ingest (``$aws/rules/<name>/…``), which skips FROM.
        """
        if check_topic and not self.matches_topic(ctx.topic):
            return None, {}
        scope = make_scope(payload, ctx, self.version, external=external)
        for name, expr in self.assignments:  # in order: a later one may read an earlier one
            scope.variables[name] = expr.eval(scope)
        if self.where is not None and self.where.eval(scope) is not True:
            return None, scope.variables
        result = self.select.run(scope, top_level=True)
        if isinstance(result, bytes):
            return result, scope.variables
        if result is UNDEFINED:
            return b"", scope.variables
        if result is None:
            return b"null", scope.variables
        return to_json(result), scope.variables
