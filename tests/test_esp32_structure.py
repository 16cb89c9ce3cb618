"""kurs/esp32 depends in one direction: the board on the firmware, the firmware on its libraries,
the libraries on small interfaces (hooks.py, services.py) - never back."""

from __future__ import annotations

import ast
from pathlib import Path

ESP32 = Path(__file__).resolve().parent.parent / "kurs" / "esp32"


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ESP32.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # TYPE_CHECKING ones too
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("kurs.esp32."):
                    deps.add(node.module.split(".")[2])
                elif node.module == "kurs.esp32":
                    deps |= {alias.name for alias in node.names}
        graph[path.stem] = deps - {path.stem}
    return graph


def test_kurs_esp32_has_no_import_cycle() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(module):], module]))
        if module in done:
            return
        for dep in graph.get(module, ()):
            visit(dep, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])


def test_the_firmware_never_reaches_into_the_board() -> None:
    source = (ESP32 / "firmware.py").read_text(encoding="utf-8")
    assert "kurs.esp32.board" not in source and "board._" not in source
