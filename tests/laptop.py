"""A learner's laptop for the room tests: its own process and KURS_HOME, driven line by line.

``python -m tests.laptop`` reads one Python statement or expression per line from stdin, runs it
(``kurs`` and ``time`` imported) and answers one JSON line: ``{"ok": repr}`` or ``{"error": text}``.
"""

from __future__ import annotations

import json
import sys
import time
import traceback


def main() -> None:
    import kurs
    import kurs.paths
    import kurs.room
    import kurs.room.devices

    space: dict = {"kurs": kurs, "time": time, "json": json}
    answers = sys.stdout
    sys.stdout = sys.stderr  # what the course prints is not an answer
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            try:
                value = eval(compile(line, "<laptop>", "eval"), space)  # noqa: S307 - test driver
            except SyntaxError:
                exec(compile(line, "<laptop>", "exec"), space)  # noqa: S102 - test driver
                value = None
            answer = {"ok": value if isinstance(value, bool | int | float | str | type(None) | list | dict)
                      else repr(value)}
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            answer = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        answers.write(json.dumps(answer, default=repr) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
