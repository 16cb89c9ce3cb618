"""The firmware's JavaScript, run by QuickJS the way mJS runs it on a board.

One :class:`JsRuntime` is one "power-on" of the board: a fresh QuickJS context with mJS's
built-ins (``runtime.js``), the Mongoose OS API files (``js/api_*.js``, loaded by ``load()``
like on the device) and a symbol table of Python functions standing in for the C side.
It must be used from the board's event-loop thread only.

Why QuickJS (the ``quickjs-ng`` package, imported as ``quickjs``): a real, small, embeddable
engine that calls Python synchronously, so mJS's blocking ``ffi`` calls map one to one, with
abi3 wheels for every CPython from 3.10 on. Its own time limit cannot be used with Python
callbacks, so the task watchdog is ours (:mod:`kurs.esp32.watchdog`).

Errors are reported as mJS reports them (``MJS error: ...`` or ``MJS callback error: ...``
after ``  at init.js:12`` lines) and never stop the board: only the script or callback that
failed stops, exactly as on the device.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import quickjs

from kurs.esp32.console import Console
from kurs.esp32.ffi import FfiError, SymbolTable, from_js, strings_to_js, to_js
from kurs.esp32.mjs_semantics import transform
from kurs.esp32.watchdog import instrument

# quickjs-ng frames: "at f (<input>:12:5)" and, for syntax errors, "at <input>:12:5".
_FRAME = re.compile(r"^\s*at (?P<fn>\S+)(?: \((?P<file>[^():]*)(?::(?P<line>\d+))?(?::\d+)?\))?\s*$")
_BARE_FRAME = re.compile(r"^\s*at (?P<file>[^():\s]*)(?::(?P<line>\d+))?(?::\d+)?\s*$")

# QuickJS's messages for the mistakes mJS reports in its own words.
_MESSAGE_MAP: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^ReferenceError: '?([^' ]+)'? is not defined$"), lambda m: f"[{m.group(1)}] is not defined"),
    (re.compile(r"^TypeError: (?:not a function|.* is not a function)$"), lambda m: "calling non-callable"),
    # mjs_exec.c: OP_GET on a non-object is "type error", TOK_ASSIGN on one "unsupported object type".
    (re.compile(r"^TypeError: cannot read property .* of (?:undefined|null)$"), lambda m: "type error"),
    (re.compile(r"^TypeError: cannot set property .* of (?:undefined|null)$"),
     lambda m: "unsupported object type"),
    (re.compile(r"^MJSError: (.*)$", re.S), lambda m: m.group(1)),
]

# Norwegian explanations after mJS's own error line, for the errors standard JS does not have.
_EXPLANATIONS = {
    "implicit type conversion is prohibited":
        "mJS gjør ikke om typer selv: «+» virker bare mellom to tall eller to tekster. Skriv "
        "«'n=' + JSON.stringify(n)», eller gi print flere argumenter: «print('n=', n);».",
    "unsupported object type":
        "Bare objekter kan få nye egenskaper i mJS, ikke funksjoner, tall eller tekst. Bruk et objekt: "
        "«let ting = {f: function() { … }, x: 2};».",
    "type error":
        "Verdien har ikke den egenskapen i mJS: tekst har bare length, at, indexOf og slice, og tall og "
        "funksjoner har ingen egenskaper.",
    "can't iterate over non-object":
        "«for (let k in …)» går bare gjennom objekter og tabeller.",
}

JS_FILES = resources.files("kurs.esp32") / "js"


@functools.lru_cache(maxsize=64)
def api_source(name: str) -> str | None:
    """Our own ``api_*.js`` (and ``polyfill.js``), or None."""
    path = JS_FILES / name
    return path.read_text(encoding="utf-8") if name.endswith(".js") and path.is_file() else None


def api_names() -> list[str]:
    return sorted(p.name for p in JS_FILES.iterdir() if p.name.endswith(".js") and p.name != "runtime.js")


class JsRuntime:
    """QuickJS set up as mJS, with host functions and a callback table."""

    def __init__(self, console: Console, symbols: SymbolTable,
                 read_file: Callable[[str], tuple[str | None, str | None]],
                 *, watchdog_s: float = 5.0, memory_limit: int = 16 * 1024 * 1024,
                 on_fatal: Callable[[str], None] | None = None,
                 on_watchdog: Callable[[], None] | None = None) -> None:
        self.console = console
        self.symbols = symbols
        self._read_file = read_file  # name -> (source, error) ; error is mJS's text
        self.watchdog_s = watchdog_s
        self._on_fatal = on_fatal
        self._on_watchdog = on_watchdog
        self._file_stack: list[str] = []
        self._entered: float | None = None  # when the current callback / script started
        self.errors = 0
        self.ctx = quickjs.Context()
        self.ctx.set_memory_limit(memory_limit)
        self.ctx.set_max_stack_size(512 * 1024)
        self.ctx.add_callable("__kurs_host_print", self._guard(self._host_print))
        self.ctx.add_callable("__kurs_host_load", self._guard(self._host_load, default="internal error"))
        self.ctx.add_callable("__kurs_host_ffi_resolve", self._guard(self._host_resolve))
        self.ctx.add_callable("__kurs_host_call", self._guard(self._host_call))
        self.ctx.add_callable("__kurs_host_wd", self._guard(self._host_wd, default=False))
        self.ctx.eval(api_source("runtime.js") or "")
        self._invoke = self.ctx.get("__kurs_invoke")
        self._free = self.ctx.get("__kurs_free")
        self.dead = False

    # -- host functions (called from JS; must never raise) ------------------------------------
    def _guard(self, fn: Callable[..., Any], default: Any = None) -> Callable[..., Any]:
        def guarded(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:  # noqa: BLE001 - a Python exception must not cross into QuickJS
                self.console.log("kurs_virtual.c:1", 0, f"Intern feil i det virtuelle kortet: {exc!r}")
                return default

        return guarded

    def _host_print(self, text: Any) -> None:
        self.console.write(from_js(text))

    def _host_wd(self) -> bool:
        return self._entered is not None and time.monotonic() - self._entered > self.watchdog_s

    def _host_resolve(self, sig: str) -> str:
        try:
            return json.dumps(self.symbols.resolve(str(sig)))
        except FfiError as exc:
            return json.dumps({"error": str(exc)})

    def _host_call(self, index: int, *args: Any) -> Any:
        _sig, impl = self.symbols.lookup(int(index))
        result = impl(*(from_js(a) if isinstance(a, str) else a for a in args))
        if isinstance(result, str):
            return to_js(result)
        if isinstance(result, bool | int | float) or result is None:
            return result
        return None

    def _host_load(self, name: str) -> str:
        """Run another file in the same global scope; '' on success, else mJS's error text."""
        # mJS runs a file again on every load() (mjs_load has no "already loaded" list).
        name = str(name)
        source, error = self._read_file(name)
        if source is None:
            return f'failed to exec file "{name}": ' + (error or f'failed to read file "{name}"')
        self._file_stack.append(name)
        try:
            self.ctx.eval(self._prepare(source))
        except (quickjs.JSException, quickjs.StackOverflow) as exc:
            if _is_watchdog(exc):
                self._report(exc, "MJS error")
            message, _frames = self.describe(exc, source)
            return f'failed to exec file "{name}": {message}'
        finally:
            self._file_stack.pop()
        return ""

    # -- running code ----------------------------------------------------------------------------
    @staticmethod
    def _prepare(source: str) -> str:
        # mJS is strict-mode only; on the first line so line numbers stay right. mJS's own
        # semantics and the loops' watchdog calls are source rewrites on the same lines too.
        return '"use strict";' + instrument(transform(source))

    def run_main(self, name: str, source: str) -> bool:
        """Run ``init.js`` (or another top-level file); report failure like the device."""
        self._file_stack.append(name)
        outer = self._enter()
        try:
            self.ctx.eval(self._prepare(source))
            return True
        except (quickjs.JSException, quickjs.StackOverflow) as exc:
            self._report(exc, "MJS error", source=source)
            return False
        finally:
            self._file_stack.pop()
            self._leave(outer)

    def invoke(self, callback_id: int, args: list[Any], *, free_after: bool = False) -> Any:
        """Call a JS callback the C side holds (from the event loop); report errors like mJS."""
        if self.dead:
            return None
        outer = self._enter()
        try:
            return self._invoke(int(callback_id), json.dumps(strings_to_js(args)))
        except (quickjs.JSException, quickjs.StackOverflow) as exc:
            self._report(exc, "MJS callback error")
            return None
        finally:
            self._leave(outer)
            if free_after:
                self.free(callback_id)

    def _enter(self) -> bool:
        """Start the watchdog clock unless we are inside JS already; True for the outermost call."""
        if self._entered is None:
            self._entered = time.monotonic()
            return True
        return False

    def _leave(self, outer: bool) -> None:
        if outer:
            self._entered = None

    def free(self, callback_id: int) -> None:
        if self.dead:
            return
        try:
            self._free(int(callback_id))
        except (quickjs.JSException, quickjs.StackOverflow):
            pass

    def memory_used(self) -> int:
        try:
            return int(self.ctx.memory().get("memory_used_size", 0))
        except Exception:  # noqa: BLE001
            return 0

    # -- error reports -----------------------------------------------------------------------
    def describe(self, exc: BaseException, source: str | None = None) -> tuple[str, list[str]]:
        """(mJS-style message, ["init.js:12", ...]) for a QuickJS exception."""
        text = str(exc.args[0]) if exc.args else str(exc)
        lines = text.rstrip("\n").split("\n")
        head = lines[0] if lines else "?"
        frames: list[str] = []
        syntax_line: int | None = None
        file_name = self._file_stack[-1] if self._file_stack else "init.js"
        for raw in lines[1:]:
            m = _FRAME.match(raw)
            if m is not None and m.group("fn").startswith("__kurs"):
                continue
            m = m or _BARE_FRAME.match(raw)
            if m is None:
                continue
            if m.group("line") is None:
                continue
            if head.startswith("SyntaxError") and syntax_line is None:
                syntax_line = int(m.group("line"))
            frames.append(f"{file_name}:{m.group('line')}")
        if head.startswith("SyntaxError") and syntax_line is not None:
            snippet = ""
            if source is not None:
                src_lines = source.split("\n")
                if 0 < syntax_line <= len(src_lines):
                    snippet = src_lines[syntax_line - 1].strip()
            return f"parse error at line {syntax_line}: [{snippet}]", []
        for pattern, render in _MESSAGE_MAP:
            m = pattern.match(head)
            if m is not None:
                return render(m), frames
        return head, frames

    def _report(self, exc: BaseException, prefix: str, *, source: str | None = None) -> None:
        self.errors += 1
        head = str(exc.args[0]).split("\n", 1)[0] if exc.args else ""
        if _is_watchdog(exc):
            # ESP-IDF's task watchdog panics and the chip restarts (esp_task_wdt.c, then abort()).
            for line in ("E (task_wdt) Task watchdog got triggered. The following tasks did not reset "
                         "the watchdog in time:",
                         "E (task_wdt)  - IDLE0 (CPU 0)",
                         "E (task_wdt) Tasks currently running:",
                         "E (task_wdt) CPU 0: mgos",
                         "E (task_wdt) Aborting.",
                         "abort() was called at PC 0x400d2f3c on core 0",
                         "Rebooting..."):
                self.console.write(line)
            self.console.log("kurs_virtual.c:1", 0,
                             f"Koden brukte mer enn {self.watchdog_s:g} s uten å gi fra seg kontrollen "
                             "(en evig løkke?). Vakthunden (watchdog) stoppet den, og kortet starter på nytt, "
                             "slik et ekte ESP32-kort gjør.")
            if self._on_watchdog is not None:
                self._on_watchdog()
            return
        if head.startswith("InternalError: out of memory") or head == "null" or "out of memory" in head:
            self.console.write(f"{prefix}: OUT_OF_MEMORY")
            if self._on_fatal is not None:
                self._on_fatal("minnet er brukt opp")
            return
        message, frames = self.describe(exc, source)
        for frame in frames:
            self.console.write(f"  at {frame}")
        self.console.write(f"{prefix}: {message}")
        hint = next((text for key, text in _EXPLANATIONS.items() if message.endswith(key)), None)
        if hint is not None:
            self.console.log("kurs_virtual.c:1", 0, hint)



def _is_watchdog(exc: BaseException) -> bool:
    head = str(exc.args[0]) if exc.args else ""
    return head.startswith("Watchdog:")
