"""The task watchdog: a firmware loop that never gives control back gets stopped.

On a board, a JS loop that runs for ever starves the Mongoose OS task and the ESP32's task
watchdog fires. QuickJS's own time limit cannot be used here (the ``quickjs-ng`` package refuses
to call Python while one is set, and it measures the CPU time of the whole process), so every
loop body of the firmware gets a cheap ``__kurs_wd()`` call in front, on the same line, which
asks the board now and then whether the current callback has run too long.
"""

from __future__ import annotations

import functools
from typing import Any

_LOOPS = ("WhileStatement", "DoWhileStatement", "ForStatement", "ForInStatement", "ForOfStatement")
CALL = "__kurs_wd();"


@functools.lru_cache(maxsize=256)
def instrument(source: str) -> str:
    """``source`` with a watchdog call at the start of every loop body (line numbers unchanged).

    Code that does not parse is returned as it is: QuickJS reports the syntax error itself.
    """
    try:
        import esprima

        tree = esprima.parseScript(source, {"range": True})
    except Exception:  # noqa: BLE001 - esprima's errors, or code it does not know
        return source
    inserts: list[tuple[int, str]] = []

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not hasattr(node, "type"):
            return
        if node.type in _LOOPS:
            body = node.body
            start, end = body.range
            if body.type == "BlockStatement" and source[start:start + 1] == "{":
                inserts.append((start + 1, CALL))
            elif 0 <= start <= end <= len(source):
                inserts.append((start, "{" + CALL))
                inserts.append((end, "}"))
        for value in vars(node).values():
            if isinstance(value, list) or hasattr(value, "type"):
                visit(value)

    visit(tree)
    out = source
    for position, text in sorted(inserts, key=lambda item: item[0], reverse=True):
        out = out[:position] + text + out[position:]
    return out
