"""The mJS checker: rejects JavaScript that QuickJS runs but real mJS (cesanta/mjs) does not.

The virtual ESP32 runs firmware in QuickJS (full ES2020), so without this check code that works
on the virtual board could fail on a real one. The source is parsed with esprima (a real ES
parser); the tree is then checked against what mJS's own tokenizer, parser and interpreter accept.

Evidence (cesanta/mjs: README.md, src/mjs_tok.c, src/mjs_parser.c, src/mjs_exec.c,
tests/unit_test.c; each rule was also confirmed by running the snippet through mJS built from
that source). "ok" = accepted, everything else is a rule below.

| construct                          | mJS   | where it is decided                                            |
|------------------------------------|-------|----------------------------------------------------------------|
| var                                | no    | parse_statement: "[var] is not implemented"; README             |
| const                              | no    | not a keyword in is_reserved_word_token: "[const] is not defined"|
| let x = 1 without ';' (not at EOF) | no    | parse_let loops until ';' or EOF, so the next line is misread   |
| == / !=                            | no    | exec_expr TOK_EQ/TOK_NE: "Use ===, not =="                      |
| typeof                             | ok    | s_unary_ops + exec TOK_KEYWORD_TYPEOF (null->'null', []->'array')|
| switch, do..while, try, throw, with| no    | parse_statement: "is not implemented"                          |
| new, delete, void, instanceof, in  | no    | no case in parse_literal / not in any binary-operator list      |
| debugger, labels                   | no    | no statement for them: parse error                              |
| for (;;), for with an empty part   | no    | parse_for calls parse_expr for all three parts (tests: #if 0)   |
| for (let k in o), for..in          | ok    | parse_for_in; the variable must be a plain name                 |
| let in for: one scope per loop     | same  | OP_NEW_SCOPE before OP_LOOP, no per-iteration copy; only visible|
|                                    |       | through closures, which are rejected anyway                     |
| if (a) x; else y;  (no braces)     | no    | parse_statement leaves ';', so 'else' starts a new statement    |
| break / continue                   | ok    | parse_statement (no labels)                                     |
| ?: ternary                         | ok    | parse_ternary                                                   |
| compound assignment += ... >>>=    | ok    | s_assign_ops + op_assign; **= is not tokenized                  |
| x++, x--, ++x                      | ok    | postfix ops; prefix ++/-- on obj.prop fails (tests: #if 0)      |
| x++ without ';' before next line   | no    | parse_literal skips OP_GET after '++': "calling non-callable"   |
| comma operator                     | stmt  | only at statement level (parse_statement), not in parse_expr    |
| this                               | ok    | OP_PUSH_THIS; obj.f() passes obj (tests: test_this)             |
| .prototype, classes, get/set       | no    | functions are not objects; README "no prototypes, classes"      |
| function expressions, nested funcs | ok    | parse_function; a named function binds in the enclosing scope   |
| closures                           | no    | scopes are a runtime stack; a callback later sees globals only  |
| function hoisting                  | no    | 'function f(){}' is an assignment run in order                  |
| arrow, template, spread, rest,     | no    | '=>', '`', '...' are not tokenized; params must be identifiers  |
|   destructuring, default params    |       | (parse_function), let needs an identifier (parse_let)          |
| regex literal                      | no    | '/' is only TOK_DIV                                             |
| object keys                        | ident | parse_object_literal: identifier or string only; no shorthand,  |
|                                    | /str  | methods, computed keys; mJS keywords cannot be keys or .props   |
| [1,,2]                             | no    | parse_array_literal calls parse_expr on ','                     |
| null, undefined, true, false       | ok    | keywords in parse_literal; NaN and isNaN are globals            |
| numbers: 0x.., 1e3, 1.5            | ok    | getnum: strtoul for 0x (32 bits on ESP32), else strtod          |
| numbers: .5, 0b.., 0o.., 017       | no    | must start with a digit; 0b/0o unknown; 017 reads as 17         |
| string escapes                     | some  | unescape: \\n \\t \\r \\b \\f \\v \\\\ \\' \\" \\xHH \\uHHHH; \\0, \\u{..}, |
|                                    |       | unknown escapes keep the backslash; '\\' + newline gives '\\n';  |
|                                    |       | \\uHHHH becomes one byte, so only ASCII code points are safe    |
| identifiers                        | ASCII | mjs_is_ident: a-z A-Z _ $ and digits only                       |
| 'text' + 5, 1 + true               | no    | do_op: "implicit type conversion is prohibited"; types are      |
|                                    |       | followed through variables and returns (kurs.mjs.types); what   |
|                                    |       | stays unknown is left to the board, which stops the same way    |
| '5' - 1 (any arithmetic but +)     | no    | do_op: numbers only                                             |
| f.x = 1 on a function              | no    | TOK_ASSIGN: "unsupported object type"                            |
| a name nothing defines             | no    | mjs_find_scope: "[x] is not defined"; checked only when every   |
|                                    |       | load() names an api_*.js we know (a learner's own file may      |
|                                    |       | define anything: deliberately not reported then)                |
| 'a' < 'b'                          | wrong | comparisons convert both sides to numbers                       |
| very deep nesting / long a+b+c+... | no    | STACK_LIMIT / BINOP_STACK_FRAME_SIZE: "parser stack overflow"   |
|                                    |       | (512; each '(' / '[' costs 10, so ~50 levels)                   |
| string methods                     | few   | getprop_builtin_string: length, at, charCodeAt, indexOf, slice  |
| array methods                      | few   | getprop_builtin_array: length, push, splice; f.apply exists      |
| globals                            | few   | mjs_init_builtin: print load ffi die gc chr mkstr JSON{parse,   |
|                                    |       | stringify} Object{create} NaN isNaN; Math from api_math.js;     |
|                                    |       | console/setTimeout/require only via load('polyfill.js')         |
| assignment to an undeclared name   | no    | mjs_find_scope: "[x] is not defined" (strict mode only)         |
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.mjs.types import TypeInference

# The words mjs_tok.c treats as keywords: none of them can name an object key or follow a dot.
MJS_RESERVED = frozenset({
    "break", "case", "catch", "continue", "debugger", "default", "delete", "do", "else", "false",
    "finally", "for", "function", "if", "in", "instanceof", "new", "null", "return", "switch",
    "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "let", "undefined",
})
_JS_KEYWORDS = MJS_RESERVED | {"const", "class", "export", "extends", "import", "super", "yield",
                               "async", "await", "of", "static", "enum"}

_ASCII_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")

_MATH_MEMBERS = frozenset({"ceil", "floor", "round", "max", "min", "abs", "sqrt", "exp", "log",
                           "pow", "sin", "cos", "random", "rand"})
_POLYFILL_NAMES = frozenset({"console", "setTimeout", "setInterval", "clearTimeout",
                             "clearInterval", "require", "module"})

_TIMER = "(med «load('api_timer.js');»)"
_TO_NUMBER = "Gjør tekst om til tall med «JSON.parse(tekst)»."
# Globals of full JavaScript that mJS lacks, with what to write instead.
_MISSING_GLOBALS = {
    "console": "Skriv til loggen med «print(…)», f.eks. «print('Teller:', n);».",
    "setTimeout": f"Bruk «Timer.set(ms, 0, function() {{ … }}, null);» {_TIMER}.",
    "setInterval": f"Bruk «Timer.set(ms, Timer.REPEAT, function() {{ … }}, null);» {_TIMER}.",
    "clearTimeout": f"Stopp en timer med «Timer.del(id);» {_TIMER}.",
    "clearInterval": f"Stopp en timer med «Timer.del(id);» {_TIMER}.",
    "parseInt": _TO_NUMBER,
    "parseFloat": _TO_NUMBER,
    "Number": _TO_NUMBER,
    "String": "Gjør et tall om til tekst med «JSON.stringify(x)». Et tegn fra en tegnkode: «chr(65)».",
    "Boolean": "Skriv «x ? true : false».",
    "Array": "Lag tabeller med «[]» og bruk «liste.length», «liste.push(x)» og «liste.splice(…)».",
    "Date": "Bruk «Timer.now()» (sekunder siden 1970), «Timer.fmt('%H:%M', Timer.now())» eller "
            "«Sys.uptime()».",
    "Promise": "Bruk tilbakekall (callbacks): «Timer.set», «MQTT.sub» og «Shadow.addHandler» tar en "
               "funksjon som kalles senere.",
    "Symbol": "Bruk vanlige tekststrenger som nøkler.",
    "Map": "Bruk et vanlig objekt: «let m = {}; m[nøkkel] = verdi;».",
    "Set": "Bruk et vanlig objekt med «true» som verdi: «let s = {}; s[navn] = true;».",
    "WeakMap": "Bruk et vanlig objekt.",
    "WeakSet": "Bruk et vanlig objekt.",
    "RegExp": "Bruk «s.indexOf('tekst')» og «s.slice(fra, til)».",
    "Error": "mJS har ikke unntak: returner en feilverdi og skriv ut en melding med «print(…)».",
    "TypeError": "mJS har ikke unntak: returner en feilverdi og skriv ut en melding med «print(…)».",
    "Infinity": "Bruk et stort tall, f.eks. «1e308».",
    "globalThis": "Globale variabler lages med «let» på toppnivå i filen.",
    "window": "Dette er ikke en nettleser. Globale variabler lages med «let» på toppnivå.",
    "document": "Dette er ikke en nettleser; et ESP32-kort har ingen nettside.",
    "require": "Last inn andre filer med «load('fil.js');».",
    "module": "Last inn andre filer med «load('fil.js');».",
    "exports": "Last inn andre filer med «load('fil.js');».",
    "process": "Dette er ikke Node.js. Konfigurasjon leses med «Cfg.get('navn')».",
    "eval": "Skriv koden direkte i filen.",
    "Function": "Skriv «function (…) { … }».",
    "arguments": "Gi funksjonen navngitte parametere: «function (a, b) { … }».",
    "Reflect": "Bruk vanlige objekter og «for (let k in obj)».",
    "Proxy": "Bruk vanlige objekter og funksjoner.",
    "encodeURIComponent": "Lag teksten selv med «+» og «chr(…)».",
    "decodeURIComponent": "Lag teksten selv med «s.slice(…)» og «s.at(…)».",
    "ArrayBuffer": "Bruk vanlige tabeller («[]») eller tekststrenger (mJS-strenger er bytestrenger).",
    "Uint8Array": "Bruk vanlige tabeller («[]») eller tekststrenger (mJS-strenger er bytestrenger).",
    "Intl": "Lag formateringen selv med «+» og «JSON.stringify(x)».",
}

# Methods of JavaScript's built-in strings, arrays and functions that mJS lacks, with a hint.
_LOOP = "Skriv en «for»-løkke: «for (let i = 0; i < liste.length; i++) { … liste[i] … }»."
_MISSING_METHODS = {
    "toUpperCase": "Bygg teksten selv med «s.at(i)» og «chr(kode - 32)».",
    "toLowerCase": "Bygg teksten selv med «s.at(i)» og «chr(kode + 32)».",
    "split": "Finn skilletegnet med «s.indexOf(',')» og del opp med «s.slice(fra, til)».",
    "trim": "Bruk «s.slice(fra, til)».",
    "replace": "Finn teksten med «s.indexOf(…)» og sett sammen med «s.slice(…) + ny + s.slice(…)».",
    "replaceAll": "Finn teksten med «s.indexOf(…)» og sett sammen med «s.slice(…)».",
    "substring": "Bruk «s.slice(fra, til)».",
    "substr": "Bruk «s.slice(fra, til)».",
    "charAt": "Bruk «s[i]» (ett tegn) eller «s.at(i)» (tegnkoden).",
    "includes": "Bruk «s.indexOf(tekst) !== -1».",
    "startsWith": "Bruk «s.indexOf(tekst) === 0».",
    "endsWith": "Sammenlign «s.slice(s.length - tekst.length, s.length) === tekst».",
    "padStart": "Legg til tegn med «+» i en løkke.",
    "padEnd": "Legg til tegn med «+» i en løkke.",
    "repeat": "Legg til tekst med «+» i en løkke.",
    "lastIndexOf": "Bruk «s.indexOf(tekst, fra)» i en løkke.",
    "match": "Bruk «s.indexOf(…)» og «s.slice(…)».",
    "search": "Bruk «s.indexOf(…)».",
    "concat": "Sett sammen tekst med «+», eller legg til i en tabell med «liste.push(x)».",
    "join": "Sett sammen teksten med «+» i en løkke.",
    "map": _LOOP,
    "forEach": _LOOP,
    "filter": _LOOP,
    "reduce": _LOOP,
    "find": _LOOP,
    "findIndex": _LOOP,
    "some": _LOOP,
    "every": _LOOP,
    "pop": "Bruk «liste.splice(liste.length - 1, 1)».",
    "shift": "Bruk «liste.splice(0, 1)».",
    "unshift": "Bruk «liste.splice(0, 0, x)».",
    "sort": "Sorter selv med en løkke.",
    "reverse": "Snu tabellen selv med en løkke.",
    "fill": _LOOP,
    "toString": "Gjør verdien om til tekst med «JSON.stringify(x)».",
    "toFixed": "Bruk «Math.round(x * 100) / 100» (med «load('api_math.js');») og «JSON.stringify».",
    "toPrecision": "Bruk «Math.round(…)» (med «load('api_math.js');») og «JSON.stringify».",
    "toLocaleString": "Gjør verdien om til tekst med «JSON.stringify(x)».",
    "valueOf": "Bruk verdien direkte.",
    "hasOwnProperty": "Sjekk «obj.nøkkel !== undefined».",
    "call": "Kall funksjonen direkte, eller bruk «f.apply(thisObj, [a, b])».",
    "bind": "Send med verdien som userdata-argument, eller lagre den i en global variabel.",
}

# Mongoose OS calls whose result type we know: lets '+' spot text + number mix-ups.
_TYPE_WORDS = {"number": "et tall", "boolean": "true/false", "null": "null", "undefined": "undefined",
               "array": "en tabell", "object": "et objekt", "function": "en funksjon", "string": "tekst"}
_ARITHMETIC = frozenset({"-", "*", "/", "%", "&", "|", "^", "<<", ">>", ">>>"})
_RELATIONAL = frozenset({"<", "<=", ">", ">="})
_OK_BINARY = _ARITHMETIC | _RELATIONAL | {"+", "===", "!=="}
_OK_ASSIGN = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", ">>>=", "&=", "|=", "^="})
_OK_ESCAPES = frozenset("nrtbfv\\'\"")

_FUNCTIONS = ("FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression")
_SUPPORTED = frozenset({
    "Program", "ExpressionStatement", "BlockStatement", "EmptyStatement", "VariableDeclaration",
    "VariableDeclarator", "Identifier", "Literal", "ArrayExpression", "ObjectExpression", "Property",
    "FunctionExpression", "FunctionDeclaration", "ReturnStatement", "IfStatement", "ForStatement",
    "ForInStatement", "WhileStatement", "BreakStatement", "ContinueStatement", "CallExpression",
    "MemberExpression", "BinaryExpression", "LogicalExpression", "UnaryExpression",
    "UpdateExpression", "AssignmentExpression", "ConditionalExpression", "SequenceExpression",
    "ThisExpression",
})
# Parts of constructs that are reported on their parent (class, switch, try, template).
_QUIET = frozenset({"ClassBody", "SwitchCase", "CatchClause", "TemplateElement", "Super"})

_CLOSURE_FIX = ("Lagre verdien i en global variabel (deklarert med «let» på toppnivå), eller send den "
                "med som userdata: «MQTT.sub(topic, function(conn, topic, msg, ud) { … }, ud);», "
                "«Timer.set(1000, 0, function(ud) { … }, verdi);».")

# Plain nouns for the statement/expression types the catch-all rule reports.
_TYPE_NAMES = {
    "ClassDeclaration": "klasser", "ClassExpression": "klasser", "ForOfStatement": "for…of",
    "TryStatement": "try/catch", "ThrowStatement": "throw", "SwitchStatement": "switch",
    "DoWhileStatement": "do…while", "WithStatement": "with", "LabeledStatement": "merkelapper",
    "DebuggerStatement": "debugger", "NewExpression": "new", "MetaProperty": "new.target",
    "Super": "super", "YieldExpression": "yield", "AwaitExpression": "await",
    "TemplateLiteral": "malstrenger", "TaggedTemplateExpression": "merkede malstrenger",
    "SpreadElement": "spredning (...)", "RestElement": "restparametere (...)",
    "ObjectPattern": "destrukturering", "ArrayPattern": "destrukturering",
    "AssignmentPattern": "standardverdier", "ArrowFunctionExpression": "pilfunksjoner",
}


@dataclass(frozen=True)
class Problem:
    """One thing real mJS would not run, with a Norwegian explanation and what to write instead."""

    line: int
    column: int
    rule: str
    message: str
    file: str = "init.js"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class MjsError(CourseError):
    """Raised by :func:`ensure_valid`: the code uses something real mJS does not support."""

    def __init__(self, problems: list[Problem], filename: str = "init.js") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        if all(p.rule == "syntaks" for p in self.problems):
            head = (f"Koden i {filename} har en syntaksfeil, så verken ekte mJS eller det virtuelle "
                    "kortet kan kjøre den:")
        else:
            noun = "problem" if count == 1 else "problemer"
            head = (f"Koden bruker noe som ekte mJS ikke støtter ({count} {noun} i {filename}), "
                    "så den ville feilet på et ekte ESP32-kort:")
        lines = [head] + [f"  • {p}" for p in self.problems]
        super().__init__("\n".join(lines),
                         "Rett opp linjene over og prøv igjen. Hver melding sier hva du kan skrive i stedet.")


# mJS's own globals (cesanta/mjs src/mjs_builtin.c, mjs_init_builtin).
MJS_BUILTINS = frozenset({"print", "load", "die", "ffi", "ffi_cb_free", "mkstr", "getMJS", "gc", "chr",
                          "JSON", "Object", "NaN", "isNaN", "undefined", "Infinity"})


@functools.lru_cache(maxsize=64)
def _api_file_globals(name: str) -> frozenset[str] | None:
    """Top-level names an ``api_*.js`` (with what it loads itself) defines; None when unknown."""
    from importlib import resources

    # The virtual board's api_*.js define the same globals as Mongoose OS's (read, not imported:
    # the checker needs no JS engine).
    path = resources.files("kurs.esp32") / "js" / name
    if not name.startswith("api_") or not name.endswith(".js") or not path.is_file():
        return None
    source = path.read_text(encoding="utf-8")
    names = set(re.findall(r"^(?:let|function)\s+([A-Za-z_$][\w$]*)", source, re.M))
    for other in re.findall(r"load\('([^']+)'\)", source):
        more = _api_file_globals(other) if other != name else frozenset()
        if more is None:
            return None
        names |= more
    return frozenset(names)


def api_file_defining(name: str) -> str | None:
    """The ``api_*.js`` whose loading defines the global ``name`` (e.g. Timer: api_timer.js)."""
    from importlib import resources

    files = sorted(p.name for p in (resources.files("kurs.esp32") / "js").iterdir()
                   if p.name.startswith("api_") and p.name.endswith(".js"))
    found = [f for f in files if name in (_api_file_globals(f) or ())]
    # The file that defines it itself, not one that only loads it (api_aws.js loads api_shadow.js).
    own = [f for f in found if re.search(rf"^(?:let|function)\s+{re.escape(name)}\b",
                                         (resources.files("kurs.esp32") / "js" / f).read_text(encoding="utf-8"),
                                         re.M)]
    return (own or found or [None])[0]


def api_globals(loaded: list[str]) -> frozenset[str] | None:
    """Every global name the file can see after its ``load()`` calls, or None when one is unknown."""
    names = set(MJS_BUILTINS)
    for name in loaded:
        found = _api_file_globals(name) if name else None
        if found is None:
            return None
        names |= found
    return frozenset(names)


def check_source(source: str, filename: str = "init.js") -> list[Problem]:
    """Every construct in ``source`` that real mJS does not run, sorted by line and column."""
    import esprima

    try:
        tree = esprima.parseScript(source, {"loc": True, "range": True, "tolerant": False})
    except esprima.Error as exc:
        return [_parse_problem(source, exc, filename)]
    except RecursionError:
        return [_too_deep(filename)]
    deep = _parser_depth_problem(source, filename)
    if deep is not None:
        return [deep]
    checker = _Checker(source, filename)
    try:
        checker.run(tree)
    except RecursionError:
        # mJS's own parser stops at 512 levels ("parser stack overflow"); so would this walk.
        return [_too_deep(filename)]
    unique = {(p.line, p.column, p.rule, p.message): p for p in checker.problems}
    return sorted(unique.values(), key=lambda p: (p.line, p.column, p.rule))


# mjs_parser.c: PARSE_LTR_BINOP and parse_block count p->depth and stop past
# STACK_LIMIT / BINOP_STACK_FRAME_SIZE = 8192 / 16 = 512 with "parser stack overflow". Every
# parse_expr goes down ten binary-operator levels, so each '(' or '[' costs 10, a statement 10
# and a block 1: about 50 nested parentheses are the most mJS parses.
_PARSER_DEPTH_LIMIT = 512


def _parser_depth_problem(source: str, filename: str) -> Problem | None:
    import esprima

    try:
        tokens = esprima.tokenize(source, {"loc": True})
    except Exception:  # noqa: BLE001 - the parse above succeeded; be quiet if the tokenizer differs
        return None
    opened: list[str] = []
    depth = 10
    for token in tokens:
        if token.type != "Punctuator":
            continue
        value = token.value
        if value in ("(", "["):
            opened.append(value)
            depth += 10
        elif value == "{":
            opened.append(value)
            depth += 11
        elif value in (")", "]", "}") and opened:
            depth -= 11 if opened.pop() == "{" else 10
        if depth > _PARSER_DEPTH_LIMIT:
            start = token.loc.start
            return Problem(start.line, start.column + 1, "for-dypt",
                           "Koden er nøstet for dypt (for mange parenteser, klammer eller blokker inni "
                           "hverandre): mJS stopper med «parser stack overflow» ved omtrent 50 nivåer. Del "
                           "uttrykket opp med hjelpevariabler eller egne funksjoner.", filename)
    return None


def _too_deep(filename: str) -> Problem:
    return Problem(1, 1, "for-dypt", "Koden er nøstet for dypt eller har et for langt uttrykk (mJS stopper "
                   "med «parser stack overflow»). Del uttrykket opp i flere setninger eller mindre funksjoner.",
                   filename)


def check_file(path: str | Path) -> list[Problem]:
    """Check one file; a missing or unreadable file raises CourseError in Norwegian."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"Fant ikke filen «{path}».", "Sjekk stavemåten og hvilken mappe du står i.")
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CourseError(f"Filen «{path}» er ikke gyldig UTF-8-tekst.",
                          "Lagre filen som UTF-8 i editoren din.") from exc
    except OSError as exc:
        raise CourseError(f"Kunne ikke lese filen «{path}»: {exc.strerror}.") from exc
    return check_source(source, str(path))


def ensure_valid(source: str, filename: str = "init.js") -> None:
    """Raise :class:`MjsError` with a readable Norwegian summary unless real mJS would run ``source``."""
    problems = check_source(source, filename)
    if problems:
        raise MjsError(problems, filename)


# ---------------------------------------------------------------------------------------------
# Parse errors


_PARSE_MESSAGES = [
    (re.compile(r"Unexpected token ILLEGAL|Invalid or unexpected token"), "ugyldig tegn"),
    (re.compile(r"Unexpected end of input"),
     "koden slutter for tidlig – mangler det en «}}», «)» eller «]»?"),
    (re.compile(r"Unexpected identifier"),
     "uventet navn – mangler det et komma, en operator eller et semikolon foran?"),
    (re.compile(r"Unexpected number"), "uventet tall – mangler det et komma eller en operator foran?"),
    (re.compile(r"Unexpected string"),
     "uventet tekststreng – mangler det et komma eller «+» foran?"),
    (re.compile(r"Unexpected token (.+)"), "uventet «{0}»"),
    (re.compile(r"Unexpected reserved word"), "uventet reservert ord"),
    (re.compile(r"Illegal return statement"), "«return» kan bare stå inne i en funksjon"),
    (re.compile(r"Illegal break statement"), "«break» kan bare stå inne i en løkke"),
    (re.compile(r"Illegal continue statement"), "«continue» kan bare stå inne i en løkke"),
    (re.compile(r"Invalid left-hand side"),
     "venstre side av tilordningen må være en variabel eller en egenskap"),
    (re.compile(r"Missing catch or finally"), "«try» mangler «catch» (og mJS har uansett ikke try)"),
    (re.compile(r"Invalid regular expression"), "ugyldig regulært uttrykk"),
    (re.compile(r"Unexpected quasi|Unterminated template"), "uavsluttet malstreng"),
    (re.compile(r"Missing initializer in (\w+) declaration"), "«{0}» mangler en startverdi"),
    (re.compile(r"has already been declared"), "navnet er allerede deklarert"),
]


def _parse_problem(source: str, exc: Any, filename: str) -> Problem:
    line = int(getattr(exc, "lineNumber", 1) or 1)
    column = int(getattr(exc, "column", 1) or 1)
    index = int(getattr(exc, "index", 0) or 0)
    description = re.sub(r"^Line \d+: ", "", str(getattr(exc, "message", exc)))
    special = _special_parse_problem(source, index)
    if special:
        rule, message = special
        return Problem(line, column, rule, message, filename)
    text = f"JavaScript-parseren sa: {description}"
    for pattern, norwegian in _PARSE_MESSAGES:
        match = pattern.search(description)
        if match:
            text = norwegian.format(*match.groups())
            break
    end = "" if text.endswith("?") else "."
    return Problem(line, column, "syntaks",
                   f"Syntaksfeil: {text}{end} Se på denne linjen og linjen før – feilen sitter ofte like "
                   "før stedet som er markert.", filename)


def _special_parse_problem(source: str, index: int) -> tuple[str, str] | None:
    """Name the newer syntax esprima (ES2017) cannot parse but QuickJS runs."""
    around = source[max(0, index - 1): index + 2]
    if "?." in around:
        return ("valgfri-kjeding", "mJS har ikke «?.» (valgfri kjeding). Sjekk hvert ledd: "
                "«if (obj !== undefined && obj.a !== undefined) { … }».")
    if "??" in around:
        return ("nullish", "mJS har ikke «??». Skriv «(x !== undefined && x !== null) ? x : standard».")
    if source[index: index + 1] == "_" and index > 0 and source[index - 1].isdigit():
        return ("tall", "mJS godtar ikke «_» inni tall. Skriv sifrene uten skilletegn, f.eks. «1000».")
    word = re.match(r"[A-Za-z]+", source[index:])
    if word and word.group() in ("import", "export"):
        return ("modul", f"mJS har ikke «{word.group()}». Last inn andre filer med «load('fil.js');».")
    if source[index: index + 1] == "#":
        return ("klasse", "mJS har ikke klasser eller private felt («#»). Bruk et vanlig objekt.")
    return None


# ---------------------------------------------------------------------------------------------
# The tree walk


class _Scope:
    """A runtime scope as mJS makes it: the global one, a function's, or a block's."""

    def __init__(self, kind: str, parent: _Scope | None, function: Any) -> None:
        self.kind = kind            # "global", "function" or "block"
        self.parent = parent
        self.function = function    # the function node whose activation owns this scope
        self.names: dict[str, tuple[Any, str]] = {}  # name -> (declaring identifier, "let"/"param"/"function")

    def declare(self, ident: Any, what: str) -> None:
        self.names.setdefault(ident.name, (ident, what))

    def lookup(self, name: str) -> tuple[_Scope, Any, str] | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                ident, what = scope.names[name]
                return scope, ident, what
            scope = scope.parent
        return None


@dataclass
class _Ref:
    ident: Any
    scope: _Scope
    write: bool
    for_in: bool = False


def _is_node(value: Any) -> bool:
    from esprima.nodes import Node

    return isinstance(value, Node)


def _children(node: Any) -> list[Any]:
    out = []
    for key, value in vars(node).items():
        if key in ("loc", "range", "type", "regex"):
            continue
        if isinstance(value, list):
            out.extend(v for v in value if _is_node(v))
        elif _is_node(value):
            out.append(value)
    return out


def _pattern_names(pattern: Any) -> list[Any]:
    """The identifiers a declaration pattern binds (destructuring is reported separately)."""
    if pattern is None:
        return []
    if pattern.type == "Identifier":
        return [pattern]
    if pattern.type == "ObjectPattern":
        return [i for prop in pattern.properties for i in _pattern_names(getattr(prop, "value", prop))]
    if pattern.type == "ArrayPattern":
        return [i for el in pattern.elements for i in _pattern_names(el)]
    if pattern.type == "AssignmentPattern":
        return _pattern_names(pattern.left)
    if pattern.type == "RestElement":
        return _pattern_names(pattern.argument)
    return []


def _join_norwegian(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " og " + words[-1]


def _ascii_suggestion(name: str) -> str:
    table = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "Ae", "Ø": "O", "Å": "A"})
    return re.sub(r"[^A-Za-z0-9_$]", "", name.translate(table)) or "navn"


class _Checker:
    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.filename = filename
        self.problems: list[Problem] = []
        self.refs: list[_Ref] = []
        self.members: list[tuple[Any, _Scope]] = []    # Object.x / JSON.x / Math.x, checked after resolution
        self.calls: list[tuple[Any, _Scope]] = []      # obj.method(...) calls
        self.bad_names: set[str] = set()
        self.loaded: list[str] = []
        self.defined_keys: set[str] = set()            # property names the file defines itself
        self.global_scope = _Scope("global", None, None)
        self.types = TypeInference()

    # -- reporting --------------------------------------------------------------------------
    def report(self, node: Any, rule: str, message: str) -> None:
        start = node.loc.start
        self.problems.append(Problem(start.line, start.column + 1, rule, message, self.filename))

    def text(self, node: Any) -> str:
        return self.source[node.range[0]: node.range[1]]

    # -- driver -----------------------------------------------------------------------------
    def run(self, tree: Any) -> None:
        self.types.learn(tree)
        self.declare_statements(tree.body, self.global_scope)
        self.visit_list(tree.body, self.global_scope, tree)
        self.check_statement_lists(tree)
        self.resolve()

    def declare_statements(self, statements: list[Any], scope: _Scope) -> None:
        for stmt in statements:
            if stmt.type == "VariableDeclaration":
                target = scope if stmt.kind != "var" else self.function_scope(scope)
                for decl in stmt.declarations:
                    for ident in _pattern_names(decl.id):
                        target.declare(ident, "let")
            elif stmt.type == "FunctionDeclaration" and stmt.id is not None:
                scope.declare(stmt.id, "function")
            elif stmt.type == "ClassDeclaration" and stmt.id is not None:
                scope.declare(stmt.id, "let")

    @staticmethod
    def function_scope(scope: _Scope) -> _Scope:
        while scope.kind == "block" and scope.parent is not None:
            scope = scope.parent
        return scope

    def visit_list(self, nodes: list[Any], scope: _Scope, parent: Any) -> None:
        for node in nodes:
            self.visit(node, scope, parent)

    def visit(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node is None:
            return
        kind = node.type
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(node, scope, parent)
        elif kind not in _SUPPORTED and kind not in _QUIET:
            self.report(node, "ukjent", f"mJS støtter ikke {_TYPE_NAMES.get(kind, kind)}.")
            self.visit_list(_children(node), scope, node)
        else:
            self.visit_list(_children(node), scope, node)

    # -- names ------------------------------------------------------------------------------
    def check_name(self, ident: Any) -> None:
        raw = self.text(ident)
        if _ASCII_IDENT.match(ident.name) and raw == ident.name:
            return
        if ident.name in self.bad_names:
            return
        self.bad_names.add(ident.name)
        odd = next((c for c in ident.name if not re.match(r"[A-Za-z0-9_$]", c)), "\\")
        self.report(ident, "navn",
                    f"Navnet «{ident.name}» inneholder «{odd}». mJS godtar bare engelske bokstaver "
                    f"(a–z, A–Z), sifre, _ og $ i navn. Skriv f.eks. «{_ascii_suggestion(ident.name)}».")

    def reference(self, ident: Any, scope: _Scope, write: bool = False, for_in: bool = False) -> None:
        self.check_name(ident)
        self.refs.append(_Ref(ident, scope, write, for_in))

    def on_Identifier(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.reference(node, scope)

    # -- declarations -----------------------------------------------------------------------
    def on_VariableDeclaration(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.kind == "var":
            self.report(node, "var", "mJS kjenner ikke «var». Bruk «let» i stedet, f.eks. «let teller = 0;».")
        elif node.kind == "const":
            self.report(node, "const", "mJS har ikke «const» (ordet er ukjent for mJS). Bruk «let», "
                        "f.eks. «let LED_PIN = 2;».")
        in_for = parent is not None and parent.type in ("ForStatement", "ForInStatement", "ForOfStatement")
        if node.kind == "let" and not in_for and not self.text(node).endswith(";"):
            if not self.rest_is_blank(node.range[1]):
                self.report(node, "let-semikolon",
                            "Avslutt «let»-setningen med semikolon. mJS setter ikke inn semikolon selv "
                            "etter «let», og leser ellers neste linje som en del av deklarasjonen. "
                            "Skriv f.eks. «let f = function() { … };».")
        for decl in node.declarations:
            self.declare_pattern(decl.id, scope)
            self.visit(decl.init, scope, decl)

    def declare_pattern(self, pattern: Any, scope: _Scope) -> None:
        if pattern is None:
            return
        if pattern.type == "Identifier":
            self.check_name(pattern)
            return
        if pattern.type in ("ObjectPattern", "ArrayPattern"):
            self.report(pattern, "destrukturering",
                        "mJS har ikke destrukturering. Hent verdiene én og én: «let on = state.on;» "
                        "eller «let a = liste[0];».")
        elif pattern.type == "AssignmentPattern":
            self.report(pattern, "standardverdi",
                        "mJS har ikke standardverdier for parametere («x = 5»). Sjekk i funksjonen: "
                        "«if (x === undefined) { x = 5; }».")
        elif pattern.type == "RestElement":
            self.report(pattern, "rest",
                        "mJS har ikke restparametere («...args»). Ta imot en tabell som vanlig parameter: "
                        "«function (liste) { … }».")
        for ident in _pattern_names(pattern):
            self.check_name(ident)
        # default values inside patterns are ordinary expressions
        for child in _children(pattern):
            if child.type not in ("Identifier", "ObjectPattern", "ArrayPattern", "AssignmentPattern",
                                  "RestElement", "Property"):
                self.visit(child, scope, pattern)
            elif child.type == "AssignmentPattern":
                self.visit(child.right, scope, child)

    # -- functions --------------------------------------------------------------------------
    def on_FunctionDeclaration(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.function(node, scope)

    def on_FunctionExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.id is not None:
            # mJS binds a function expression's name in the enclosing scope (parse_function).
            scope.declare(node.id, "function")
        self.function(node, scope)

    def on_ArrowFunctionExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "pilfunksjon",
                    "mJS har ikke pilfunksjoner («=>»). Skriv «function (a, b) { … }» i stedet.")
        self.function(node, scope)

    def function(self, node: Any, scope: _Scope) -> None:
        if node.id is not None:
            self.check_name(node.id)
        if getattr(node, "generator", False):
            self.report(node, "generator",
                        "mJS har ikke generatorer («function*» og «yield»). Bruk en vanlig funksjon med en "
                        "teller, eller «Timer.set» for å gjøre noe gjentatte ganger.")
        if getattr(node, "isAsync", False) or getattr(node, "async", False):
            self.report(node, "async",
                        "mJS har ikke «async»/«await» (og ikke Promise). Bruk tilbakekall: «MQTT.sub», "
                        "«Timer.set» og «Shadow.addHandler» tar en funksjon som kalles senere.")
        inner = _Scope("function", scope, node)
        for param in node.params:
            for ident in _pattern_names(param):
                inner.declare(ident, "param")
            self.declare_pattern(param, inner)
        body = node.body
        if body.type == "BlockStatement":
            self.declare_statements(body.body, inner)
            self.visit_list(body.body, inner, body)
            self.check_statement_list(body.body)
        else:  # arrow function with an expression body
            self.visit(body, inner, node)

    # -- blocks and statements --------------------------------------------------------------
    def on_BlockStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        inner = _Scope("block", scope, scope.function)
        self.declare_statements(node.body, inner)
        self.visit_list(node.body, inner, node)
        self.check_statement_list(node.body)

    def on_ForStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        missing = [name for name, part in (("start", node.init), ("betingelse", node.test),
                                           ("steg", node.update)) if part is None]
        if missing:
            self.report(node, "for-tom",
                        "mJS krever alle tre delene i «for (start; betingelse; steg)» – her mangler "
                        f"{_join_norwegian(missing)}. Bruk «while (betingelse) {{ … }}» i stedet "
                        "(eller «while (true) { … }» med «break»).")
        inner = _Scope("block", scope, scope.function)
        if node.init is not None and node.init.type == "VariableDeclaration":
            self.declare_statements([node.init], inner)
        for part in (node.init, node.test, node.update, node.body):
            self.visit(part, inner, node)

    def on_ForInStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        inner = _Scope("block", scope, scope.function)
        left = node.left
        if left.type == "VariableDeclaration":
            self.declare_statements([left], inner)
            self.visit(left, inner, node)
            target = left.declarations[0].id if left.declarations else None
        else:
            target = left
            if left.type == "Identifier":
                self.reference(left, inner, write=True, for_in=True)
            else:
                self.visit(left, inner, node)
        if target is None or target.type != "Identifier":
            self.report(left, "for-in",
                        "I mJS må variabelen i «for … in» være et enkelt navn: «for (let k in obj) { … }».")
        self.visit(node.right, inner, node)
        self.visit(node.body, inner, node)

    def on_ForOfStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "for-of",
                    "mJS har ikke «for … of». Gå gjennom en tabell med indeks: «for (let i = 0; i < "
                    "liste.length; i++) { let x = liste[i]; … }», eller bruk «for (let k in obj)» for "
                    "nøklene i et objekt.")
        self.on_ForInStatement(node, scope, parent)

    def on_IfStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.alternate is not None and node.consequent.type != "BlockStatement":
            self.report(node.consequent, "if-klammer",
                        "Bruk krøllparenteser når «if» har en «else»: mJS godtar ikke «if (a) x = 1; "
                        "else x = 2;», fordi semikolonet avslutter if-en før «else». Skriv "
                        "«if (a) { x = 1; } else { x = 2; }».")
        self.visit_list(_children(node), scope, node)

    def on_SwitchStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "switch",
                    "mJS har ikke «switch». Bruk «if (x === 1) { … } else if (x === 2) { … } else { … }».")
        inner = _Scope("block", scope, scope.function)
        for case in node.cases:
            self.declare_statements(case.consequent, inner)
        self.visit_list(_children(node), inner, node)

    def on_DoWhileStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "do-while",
                    "mJS har ikke «do … while». Skriv «while (true) { …; if (!(betingelse)) { break; } }».")
        self.visit_list(_children(node), scope, node)

    def on_TryStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "try",
                    "mJS har ikke unntak («try/catch/finally»). En feil stopper resten av funksjonen og "
                    "skrives i loggen. Sjekk verdiene før du bruker dem, f.eks. «if (msg.length > 0) "
                    "{ let obj = JSON.parse(msg); … }».")
        self.visit(node.block, scope, node)
        if node.handler is not None:
            inner = _Scope("block", scope, scope.function)
            for ident in _pattern_names(node.handler.param):
                inner.declare(ident, "let")
            self.visit(node.handler.body, inner, node.handler)
        self.visit(node.finalizer, scope, node)

    def on_ThrowStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "throw",
                    "mJS har ikke unntak («throw»). Skriv en melding med «print(…)» og returner en "
                    "feilverdi, f.eks. «return false;».")
        self.visit_list(_children(node), scope, node)

    def on_WithStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "with", "mJS har ikke «with». Skriv objektnavnet foran hver egenskap: «obj.a».")
        self.visit_list(_children(node), scope, node)

    def on_LabeledStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "merkelapp",
                    f"mJS har ikke merkelapper («{node.label.name}:»), og «break»/«continue» kan ikke ha "
                    "navn. Bruk en flaggvariabel, eller legg løkkene i en funksjon og bruk «return».")
        self.visit(node.body, scope, node)

    def on_BreakStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.label is not None:
            self.report(node, "merkelapp", "I mJS kan «break» ikke ha et navn etter seg. Bruk en "
                        "flaggvariabel, eller «return» fra en funksjon.")

    def on_ContinueStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.label is not None:
            self.report(node, "merkelapp", "I mJS kan «continue» ikke ha et navn etter seg. Bruk en "
                        "flaggvariabel.")

    def on_DebuggerStatement(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "debugger", "mJS har ikke «debugger». Bruk «print(…)» for å se verdier i loggen.")

    def on_ClassDeclaration(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "klasse",
                    "mJS har ikke klasser («class»). Bruk et objekt med funksjoner: «let Lys = {pin: 2, "
                    "sett: function(on) { … }};». Trenger du flere like objekter, lag dem med "
                    "«Object.create(Lys)».")
        inner = _Scope("block", scope, scope.function)
        for child in _children(node):
            if child is not node.id:
                self.visit(child, inner, node)

    on_ClassExpression = on_ClassDeclaration

    def on_MethodDefinition(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.computed:
            self.visit(node.key, scope, node)
        self.visit(node.value, scope, node)

    # -- expressions ------------------------------------------------------------------------
    def on_Literal(self, node: Any, scope: _Scope, parent: Any) -> None:
        raw = getattr(node, "raw", "") or ""
        if getattr(node, "regex", None) is not None:
            self.report(node, "regex",
                        "mJS har ikke regulære uttrykk («/…/»). Bruk strengmetodene mJS har: "
                        "«s.indexOf('tekst')» og «s.slice(fra, til)».")
        elif isinstance(node.value, str) and raw[:1] in ("'", '"'):
            self.check_string(node, raw)
        elif isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            self.check_number(node, raw)

    def check_number(self, node: Any, raw: str) -> None:
        low = raw.lower()
        if raw.startswith("."):
            self.report(node, "tall", f"mJS leser ikke tall som starter med punktum. Skriv «0{raw}».")
        elif low.startswith(("0b", "0o")):
            self.report(node, "tall", f"mJS kjenner ikke binære eller oktale tall («{raw}»). Skriv tallet "
                        f"desimalt («{int(node.value)}») eller heksadesimalt («{hex(int(node.value))}»).")
        elif re.match(r"0\d", raw):
            self.report(node, "tall", f"Tall med null foran («{raw}») leses som desimaltall i mJS, men som "
                        "oktaltall i vanlig JavaScript. Fjern nullen foran, eller skriv tallet "
                        "heksadesimalt («0x…»).")
        elif low.startswith("0x") and int(raw[2:], 16) > 0xFFFFFFFF:
            self.report(node, "tall", f"«{raw}» er for stort: mJS leser heksadesimale tall som 32 biter "
                        "på ESP32 (høyst 0xFFFFFFFF). Skriv tallet desimalt.")

    def check_string(self, node: Any, raw: str) -> None:
        body = raw[1:-1]
        i = 0
        while i < len(body):
            if body[i] != "\\":
                i += 1
                continue
            nxt = body[i + 1: i + 2]
            seq = body[i: i + 2]
            message = None
            if nxt in _OK_ESCAPES:
                pass
            elif nxt == "x" and re.match(r"[0-9A-Fa-f]{2}", body[i + 2: i + 4]):
                pass
            elif nxt == "u" and re.match(r"[0-9A-Fa-f]{4}", body[i + 2: i + 6]):
                if int(body[i + 2: i + 6], 16) > 0x7F:
                    message = (f"mJS gjør «{body[i: i + 6]}» om til én enkelt byte, ikke til tegnet "
                               "(mJS-strenger er bytestrenger). Skriv tegnet direkte i strengen, f.eks. «å».")
            elif nxt == "u":
                message = ("mJS forstår bare «\\u» med nøyaktig fire heksadesimale sifre (og bare for "
                           "ASCII-tegn), ikke «\\u{…}». Skriv tegnet direkte i strengen, f.eks. «å».")
            elif nxt in ("\n", "\r", "\u2028", "\u2029"):
                message = ("En strengverdi kan ikke fortsette på neste linje med «\\» i mJS (mJS legger inn "
                           "et linjeskift). Sett sammen to strenger med «+».")
            elif nxt.isdigit():
                message = (f"mJS forstår ikke «{seq}» i strenger (bakstreken blir stående). Skriv "
                           "«\\x00» for tegnkode 0, eller «\\xHH» for andre tegnkoder.")
            else:
                message = (f"mJS forstår ikke «{seq}» i strenger: bakstreken blir stående. mJS kjenner "
                           "bare \\n \\t \\r \\b \\f \\v \\\\ \\' \\\" \\xHH og \\uHHHH. "
                           f"Skriv «{nxt}» uten bakstrek.")
            if message:
                self.report(node, "escape", message)
                return
            i += 2

    def on_TemplateLiteral(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "malstreng",
                    "mJS har ikke malstrenger (`…${…}`). Sett sammen tekst med «+», f.eks. "
                    "«'Teller: ' + JSON.stringify(n)», eller gi print flere argumenter: «print('Teller:', n);».")
        self.visit_list(node.expressions, scope, node)

    def on_TaggedTemplateExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "malstreng",
                    "mJS har ikke merkede malstrenger («tag`…`»). Kall funksjonen vanlig: «f('tekst', verdi)».")
        self.visit(node.tag, scope, node)
        self.visit_list(node.quasi.expressions, scope, node)

    def on_ArrayExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        if any(el is None for el in node.elements):
            self.report(node, "tabell-hull",
                        "mJS godtar ikke tomme plasser i tabeller («[1, , 2]»). Skriv en verdi, f.eks. «null».")
        self.visit_list([el for el in node.elements if el is not None], scope, node)

    def on_SpreadElement(self, node: Any, scope: _Scope, parent: Any) -> None:
        if parent is not None and parent.type == "ObjectExpression":
            hint = "Kopier egenskapene én og én: «ny.a = gammel.a;»."
        elif parent is not None and parent.type in ("CallExpression", "NewExpression"):
            hint = "Skriv argumentene hver for seg, eller bruk «f.apply(null, liste)»."
        else:
            hint = "Skriv elementene hver for seg, eller legg dem til med «liste.push(x)»."
        self.report(node, "spredning", f"mJS har ikke spredning («...»). {hint}")
        self.visit(node.argument, scope, node)

    def on_ObjectExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        for prop in node.properties:
            if prop.type != "Property":
                self.visit(prop, scope, node)
                continue
            self.property(prop, scope)

    def property(self, prop: Any, scope: _Scope) -> None:
        key = prop.key
        if prop.kind in ("get", "set"):
            self.report(prop, "get-set",
                        "mJS har ikke get/set-egenskaper. Bruk vanlige funksjoner: «hentVerdi: function() "
                        "{ return … }».")
        elif prop.method:
            name = key.name if key.type == "Identifier" else "navn"
            self.report(prop, "metode-kortform",
                        f"mJS har ikke kortform for metoder («{name}() {{ … }}»). Skriv "
                        f"«{name}: function() {{ … }}».")
        elif prop.shorthand:
            self.report(prop, "egenskap-kortform",
                        f"mJS har ikke kortform for egenskaper («{{{key.name}}}»). Skriv navn og verdi: "
                        f"«{{{key.name}: {key.name}}}».")
        if prop.computed:
            self.report(prop, "beregnet-nokkel",
                        "mJS har ikke beregnede nøkler («{[k]: v}»). Lag objektet først og sett verdien "
                        "etterpå: «let o = {}; o[k] = v;».")
            self.visit(key, scope, prop)
        elif key.type == "Identifier":
            self.check_name(key)
            self.defined_keys.add(key.name)
            if key.name in MJS_RESERVED:
                self.report(key, "nokkel",
                            f"«{key.name}» er et reservert ord i mJS og kan ikke være en nøkkel uten "
                            f"anførselstegn. Skriv «'{key.name}': …».")
        elif key.type == "Literal":
            if isinstance(key.value, str):
                self.defined_keys.add(key.value)
            else:
                self.report(key, "nokkel",
                            f"mJS godtar bare navn eller tekst som nøkler i objekter, ikke tall. Skriv "
                            f"«'{key.raw}': …».")
        if prop.shorthand:
            self.reference(prop.value, scope)
        else:
            self.visit(prop.value, scope, prop)

    def on_MemberExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.visit(node.object, scope, node)
        prop = node.property
        if node.computed:
            self.visit(prop, scope, node)
            name = prop.value if prop.type == "Literal" and isinstance(prop.value, str) else None
        else:
            self.check_name(prop)
            name = prop.name
            if name in MJS_RESERVED:
                self.report(prop, "reservert-egenskap",
                            f"«.{name}» går ikke i mJS: «{name}» er et reservert ord og kan ikke stå etter "
                            f"punktum. Skriv «['{name}']» i stedet.")
        if name in ("prototype", "__proto__"):
            self.report(node, "prototype",
                        f"mJS har ikke «{name}». Lag et objekt med funksjonene, og lag nye objekter med "
                        "«Object.create(objekt)».")
        if node.object.type == "Identifier" and not node.computed:
            self.members.append((node, scope))
        if parent is not None and parent.type == "AssignmentExpression" and parent.left is node and name:
            self.defined_keys.add(name)

    def on_CallExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        callee = node.callee
        if (callee.type == "Identifier" and callee.name == "load" and node.arguments
                and node.arguments[0].type == "Literal" and isinstance(node.arguments[0].value, str)):
            self.loaded.append(node.arguments[0].value)
        elif callee.type == "Identifier" and callee.name == "load":
            self.loaded.append("")  # a name only known when it runs
        if callee.type == "MemberExpression" and not callee.computed:
            self.calls.append((node, scope))
        self.visit(callee, scope, node)
        self.visit_list(node.arguments, scope, node)

    def on_NewExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        name = node.callee.name if node.callee.type == "Identifier" else ""
        hint = {
            "Date": "Bruk «Timer.now()» (sekunder siden 1970) eller «Sys.uptime()» i stedet for Date.",
            "Array": "Lag en tabell med «[]».",
            "Object": "Lag et objekt med «{}».",
            "Error": "mJS har ikke unntak: skriv en melding med «print(…)» og returner en feilverdi.",
        }.get(name, "Lag objekter med en objektliteral («{on: false, antall: 0}») eller "
                    "«Object.create(prototype)».")
        self.report(node, "new", f"mJS har ikke «new». {hint}")
        self.visit(node.callee, scope, node)
        self.visit_list(node.arguments, scope, node)

    def on_MetaProperty(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "new", "mJS har ikke «new» (og dermed ikke «new.target»).")

    def on_BinaryExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        op = node.operator
        if op in ("==", "!="):
            better = "===" if op == "==" else "!=="
            self.report(node, "likhet", f"mJS har ikke «{op}». Bruk «{better}» (mJS gjør ikke om typer "
                        "før sammenligning).")
        elif op == "**":
            self.report(node, "potens", "mJS har ikke «**». Bruk «Math.pow(a, b)» (med "
                        "«load('api_math.js');»), eller gang sammen: «a * a».")
        elif op == "in":
            self.report(node, "in", "mJS har ikke «in»-operatoren (bare «for (let k in obj)»). Sjekk "
                        "heller «obj.nøkkel !== undefined».")
        elif op == "instanceof":
            self.report(node, "instanceof", "mJS har ikke «instanceof» (det finnes ingen klasser). Bruk "
                        "«typeof x === 'object'», eller en egen type-egenskap i objektet.")
        elif op == "+":
            self.check_plus(node, node.left, node.right)
        elif op in _ARITHMETIC:
            self.check_arithmetic(node, op, node.left, node.right)
        elif op in _RELATIONAL:
            if "string" in (self.static_type(node.left), self.static_type(node.right)):
                self.report(node, "tekst-sammenligning",
                            f"mJS kan ikke sammenligne tekst med «{op}»: begge sider gjøres om til tall, "
                            "så svaret blir feil. Sammenlign tegnkoder med «s.at(i)», eller bruk «===».")
        self.visit(node.left, scope, node)
        self.visit(node.right, scope, node)

    def on_LogicalExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.operator == "??":
            self.report(node, "nullish", "mJS har ikke «??». Skriv «(x !== undefined && x !== null) ? x : "
                        "standard».")
        self.visit(node.left, scope, node)
        self.visit(node.right, scope, node)

    def on_UnaryExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.operator == "delete":
            self.report(node, "delete", "mJS har ikke «delete». Sett egenskapen til undefined "
                        "(«obj.nøkkel = undefined;» – JSON.stringify tar den da ikke med), eller lag et nytt "
                        "objekt uten den.")
        elif node.operator == "void":
            self.report(node, "void", "mJS har ikke «void». Skriv «undefined».")
        self.visit(node.argument, scope, node)

    def on_UpdateExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        arg = node.argument
        if node.prefix and arg.type == "MemberExpression":
            self.report(node, "prefiks-oppdatering",
                        f"mJS støtter ikke «{node.operator}» foran en egenskap («{self.text(node)}»). Skriv "
                        f"«{self.text(arg)}{node.operator};» eller «{self.text(arg)} "
                        f"{node.operator[0]}= 1;».")
        if arg.type == "Identifier":
            self.reference(arg, scope, write=True)
        else:
            self.visit(arg, scope, node)

    def on_AssignmentExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        if node.operator not in _OK_ASSIGN:
            self.report(node, "potens", f"mJS har ikke «{node.operator}». Skriv «a = Math.pow(a, b);» (med "
                        "«load('api_math.js');») eller «a = a * a;».")
        if node.operator == "+=":
            self.check_plus(node, node.left, node.right)
        elif node.operator[:-1] in _ARITHMETIC:
            self.check_arithmetic(node, node.operator, node.left, node.right)
        left = node.left
        if left.type in ("ObjectPattern", "ArrayPattern"):
            self.declare_pattern(left, scope)
            for ident in _pattern_names(left):
                self.reference(ident, scope, write=True)
        elif left.type == "Identifier":
            self.reference(left, scope, write=True)
        else:
            if left.type == "MemberExpression" and self.static_type(left.object) == "function":
                self.report(node, "funksjon-egenskap",
                            f"«{self.text(left.object)}» er en funksjon, og i mJS kan bare objekter få "
                            "egenskaper (feilen blir «unsupported object type»). Lag et objekt: "
                            "«let ting = {f: function() { … }, x: 2};».")
            self.visit(left, scope, node)
        self.visit(node.right, scope, node)

    def on_SequenceExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        if parent is None or parent.type != "ExpressionStatement":
            self.report(node, "komma",
                        "mJS godtar komma mellom uttrykk bare som en hel setning («a = 1, b = 2;»), ikke "
                        "inni parenteser eller i «for (…)». Skriv uttrykkene som egne setninger.")
        self.visit_list(node.expressions, scope, node)

    def on_YieldExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.visit(node.argument, scope, node)  # reported on the generator function

    def on_AwaitExpression(self, node: Any, scope: _Scope, parent: Any) -> None:
        self.report(node, "async", "mJS har ikke «await». Bruk tilbakekall: funksjonen du gir til «MQTT.sub», "
                    "«Timer.set» eller «Shadow.addHandler» kalles når svaret kommer.")
        self.visit(node.argument, scope, node)

    # -- types, for '+' and comparisons -----------------------------------------------------
    def static_type(self, node: Any) -> str | None:
        """The value type an expression certainly has in mJS, or None when it cannot be known."""
        return self.types.type_of(node)

    def check_plus(self, node: Any, left: Any, right: Any) -> None:
        types = (self.static_type(left), self.static_type(right))
        if None in types or types[0] == types[1] and types[0] in ("string", "number"):
            return
        if "string" in types:
            other = types[1] if types[0] == "string" else types[0]
            what = _TYPE_WORDS.get(other, other)
            self.report(node, "typekonvertering",
                        f"mJS gjør ikke om typer automatisk: «+» mellom tekst og {what} gir feilen "
                        "«implicit type conversion is prohibited». Gjør verdien om til tekst med "
                        "«JSON.stringify(x)», f.eks. «'Teller: ' + JSON.stringify(n)», eller gi print flere "
                        "argumenter: «print('Teller:', n);».")
        else:
            self.report(node, "typekonvertering",
                        f"mJS gjør ikke om typer automatisk: «+» mellom {_TYPE_WORDS.get(types[0], types[0])} og "
                        f"{_TYPE_WORDS.get(types[1], types[1])} gir feilen "
                        "«implicit type conversion is prohibited». Bruk tall på begge sider, f.eks. "
                        "«(b ? 1 : 0)».")

    def check_arithmetic(self, node: Any, op: str, left: Any, right: Any) -> None:
        """``- * / % & | ^ << >> >>>`` take numbers only in mJS (do_op), text included."""
        for side in (left, right):
            kind = self.static_type(side)
            if kind is not None and kind != "number":
                self.report(node, "typekonvertering",
                            f"mJS regner bare med tall: «{op}» med {_TYPE_WORDS.get(kind, kind)} gir feilen "
                            "«implicit type conversion is prohibited». Gjør tekst om til tall med "
                            "«JSON.parse(tekst)».")
                return

    # -- statement lists: semicolons after x++ ----------------------------------------------
    def check_statement_lists(self, tree: Any) -> None:
        self.check_statement_list(tree.body)

    def check_statement_list(self, statements: list[Any]) -> None:
        for stmt in statements:
            if stmt.type != "ExpressionStatement":
                continue
            text = self.text(stmt)
            if text.endswith(("++", "--")):
                word = re.match(r"[A-Za-z_$][A-Za-z0-9_$]*", self.source[self.skip_blank(stmt.range[1]):])
                if word and word.group() not in _JS_KEYWORDS:
                    self.report(stmt, "semikolon",
                                f"Sett semikolon etter «{text}». Uten semikolon leser mJS neste linje feil "
                                "etter «++»/«--» (feilen blir «calling non-callable»).")

    def skip_blank(self, pos: int) -> int:
        """Position of the next token after ``pos``, skipping whitespace and comments."""
        src = self.source
        while pos < len(src):
            if src[pos].isspace():
                pos += 1
            elif src.startswith("//", pos):
                end = src.find("\n", pos)
                pos = len(src) if end < 0 else end + 1
            elif src.startswith("/*", pos):
                end = src.find("*/", pos + 2)
                pos = len(src) if end < 0 else end + 2
            else:
                break
        return pos

    def rest_is_blank(self, pos: int) -> bool:
        return self.skip_blank(pos) >= len(self.source)

    # -- after the walk: scopes, globals, methods -------------------------------------------
    def resolve(self) -> None:
        polyfill = any(name.endswith("polyfill.js") for name in self.loaded)
        user_files = any(not re.match(r"(.*/)?(api_\w+|polyfill)\.js\Z", name) for name in self.loaded)
        reported_closures: set[tuple[int, str]] = set()
        reported_globals: set[str] = set()
        known = None if user_files else api_globals(self.loaded)
        resolved: dict[int, tuple[_Scope, Any, str] | None] = {}
        for ref in self.refs:
            name = ref.ident.name
            found = ref.scope.lookup(name)
            resolved[id(ref.ident)] = found
            if found is None:
                if name in _MISSING_GLOBALS and not (polyfill and name in _POLYFILL_NAMES):
                    if name not in reported_globals:
                        reported_globals.add(name)
                        self.report(ref.ident, "mangler-global",
                                    f"mJS har ikke «{name}». {_MISSING_GLOBALS[name]}")
                elif (not ref.write and known is not None and name not in known
                      and name not in reported_globals):
                    reported_globals.add(name)
                    where = ("ingen av filene koden laster med «load(…)» definerer det" if self.loaded
                             else "koden laster ingen fil med «load(…)» som definerer det")
                    home = api_file_defining(name)
                    fix = (f"Legg til «load('{home}');» øverst i filen." if home else
                           f"Sjekk stavemåten, eller deklarer den med «let {name} = …;».")
                    self.report(ref.ident, "ikke-definert",
                                f"«{name}» finnes ikke: den er ikke deklarert i filen, og {where}. mJS "
                                f"stopper med «[{name}] is not defined». {fix}")
                elif ref.write and not user_files and name not in reported_globals:
                    reported_globals.add(name)
                    fix = (f"Skriv «for (let {name} in …)»." if ref.for_in else
                           f"Deklarer variabelen først med «let {name} = …;» (på toppnivå hvis flere "
                           "funksjoner skal bruke den).")
                    self.report(ref.ident, "ikke-deklarert",
                                f"«{name}» er ikke deklarert. mJS kjører alltid i strict mode og stopper med "
                                f"«[{name}] is not defined». {fix}")
                continue
            scope, decl, what = found
            here = ref.scope.function
            if scope.kind == "global" or scope.function is here:
                self.check_hoisting(ref, decl, what, scope)
                continue
            key = (id(here), name)
            if key in reported_closures:
                continue
            reported_closures.add(key)
            line = decl.loc.start.line
            if scope.function is None:
                where = (f"«{name}» er deklarert inne i en blokk på toppnivå (linje {line}), ikke som en "
                         "global variabel.")
            elif what == "param":
                where = f"«{name}» er en parameter i en omsluttende funksjon (linje {line})."
            else:
                where = f"«{name}» er en lokal variabel i en omsluttende funksjon (linje {line})."
            self.report(ref.ident, "closure",
                        f"{where} mJS har ikke closures: en indre funksjon ser bare globale variabler og "
                        f"sine egne lokale, så «{name}» finnes ikke når funksjonen kalles senere (f.eks. fra "
                        f"en timer eller MQTT). {_CLOSURE_FIX}")
        self.check_members(resolved)
        self.check_methods(resolved)

    def check_hoisting(self, ref: _Ref, decl: Any, what: str, scope: _Scope) -> None:
        # A function declaration is an assignment in mJS: using it earlier in the same activation fails.
        if what != "function" or ref.scope.function is not scope.function:
            return
        if ref.ident.range[0] < decl.range[0] and ref.ident is not decl:
            self.report(ref.ident, "heising",
                        f"Funksjonen «{decl.name}» brukes før den er definert (linje {decl.loc.start.line}). "
                        f"I mJS finnes «function {decl.name}() {{ … }}» først når linjen har kjørt – "
                        "funksjoner løftes ikke opp. Flytt funksjonen over linjen der den brukes.")

    def check_members(self, resolved: dict[int, Any]) -> None:
        for node, _scope in self.members:
            obj = node.object
            if resolved.get(id(obj)) is not None:
                continue  # the file defines this name itself
            name, prop = obj.name, node.property.name
            if name == "Object" and prop != "create":
                self.report(node, "mangler-global",
                            f"mJS har ikke «Object.{prop}», bare «Object.create». Gå gjennom nøklene med "
                            "«for (let k in obj) { … }».")
            elif name == "JSON" and prop not in ("parse", "stringify"):
                self.report(node, "mangler-global",
                            f"mJS har ikke «JSON.{prop}», bare «JSON.parse» og «JSON.stringify».")
            elif name == "Math" and prop not in _MATH_MEMBERS:
                hint = " Skriv tallet selv, f.eks. «3.14159265»." if prop == "PI" else ""
                self.report(node, "mangler-global",
                            f"«Math.{prop}» finnes ikke i Mongoose OS. «Math» (fra «load('api_math.js');») "
                            "har bare ceil, floor, round, max, min, abs, sqrt, exp, log, pow, sin, cos og "
                            f"random.{hint}")

    def check_methods(self, resolved: dict[int, Any]) -> None:
        for node, _scope in self.calls:
            method = node.callee.property.name
            if method not in _MISSING_METHODS or method in self.defined_keys:
                continue
            root = node.callee.object
            while root.type in ("MemberExpression", "CallExpression"):
                root = root.object if root.type == "MemberExpression" else root.callee
            if root.type == "Identifier" and resolved.get(id(root)) is None:
                continue  # a library object from load(), e.g. RPC.call(...): its methods are its own
            self.report(node.callee.property, "metode",
                        f"mJS har ikke «.{method}()»: tekst har bare length, at, indexOf og slice, og "
                        f"tabeller bare length, push og splice. {_MISSING_METHODS[method]}")
