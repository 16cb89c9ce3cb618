"""Exercise checks report to the room: a learner's ``oppgaveN.sjekk()`` result goes to the
instructor's overview on ``kurs/rom/<prefix>/fremdrift/<N>`` (retained: the overview opened later
sees it too). Only the learner's own things may publish there (device_policy.py, access.py).

Without a room membership nothing happens, so a learner alone sees the course exactly as before;
a room that does not answer costs one short line, never the check's own result.
"""

from __future__ import annotations

import time


def report(exercise: int, passed: bool) -> None:
    from kurs.room.membership import load

    if load() is None:
        return
    try:
        from kurs.room.devices import publish_status

        publish_status(f"fremdrift/{int(exercise)}", {"oppgave": int(exercise), "bestatt": bool(passed),
                                                      "tid": time.time()})
    except Exception as exc:  # noqa: BLE001 - the check's result is what matters to the learner
        print(f"(Fikk ikke sendt resultatet til rommet: {exc})")
