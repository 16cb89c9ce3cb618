"""Classroom: one local cloud for the whole room, and an instructor who sees every board.

Instructor (kurs/room/classroom.py, overview.py; the cloud side in host.py and access.py)::

    kurs.room.start("192.168.1.20")      # prints the class code and the line learners type
    kurs.room.Overview()                 # learners, boards, progress and messages, live
    kurs.room.broadcast("Pause til 10.15")
    kurs.room.reset_learner("Ida")
    kurs.room.end()

Learner (membership.py, devices.py, progress.py)::

    kurs.room.join("192.168.1.20:5055", "K7QM-XR4T", "Ida")
    knapp = kurs.room.board("knapp", "knapp", pair="ida-ola")  # Oppgave 3/6 across two laptops
    kurs.room.real_board("knapp", pair="ida-ola")  # the same with a real ESP32 on USB (usb_board.py)
    kurs.room.use()                      # boto3 and the aws CLI in this notebook: the room, as you
    kurs.room.leave()                    # back to your own local cloud; nothing is lost

In a terminal: ``kurs rom start|status|kringkast|nullstill|slutt`` and ``kurs rom bli-med|forlat|kort``.
"""

from __future__ import annotations

from typing import Any

from kurs.room.classroom import broadcast, end, reset_learner, start
from kurs.room.membership import join, leave
from kurs.room.membership import load as joined

__all__ = ["start", "end", "broadcast", "reset_learner", "Overview", "join", "leave", "joined", "describe", "use",
           "board", "real_board", "status"]


def describe() -> str:
    """One line: alone with your own local cloud, or in which room as whom."""
    found = joined()
    if found is None:
        return "Du jobber alene, med din egen lokale sky."
    return (f"Du er med i rommet på {found.host} som «{found.name}»; alt du lager der, begynner med "
            f"«{found.slug}-». kurs.room.leave() tar deg tilbake til din egen lokale sky.")


def use() -> Any:
    """Point this notebook's boto3 and the aws CLI it starts at the room, with your own key."""
    from kurs.room.membership import apply_env, current

    found = current()
    found.reachable()
    apply_env(found)
    print(f"boto3 og aws-kommandoen i denne notatboka går nå til rommet på {found.host} som «{found.name}». "
          f"Gi alt du lager navn som begynner med «{found.slug}-».")
    return found


def board(app: str, role: str, *, pair: str | None = None, start: bool = True) -> Any:
    """A virtual board ``<prefix>-<role>`` running ``app`` in the room (see kurs.room.devices.board)."""
    from kurs.room.devices import board as make

    return make(app, role, pair=pair, start=start)


def real_board(role: str, port: str | None = None, *, pair: str | None = None, app: str | None = None,
               wait: float = 60.0) -> Any:
    """Your real ESP32 on USB as ``<prefix>-<role>`` in the room (see kurs.room.real_board)."""
    from kurs.room.usb_board import real_board as set_up

    return set_up(role, port, pair=pair, app=app, wait=wait)


def status() -> str:
    """The room as text: learners, boards, exercises (a snapshot of the overview)."""
    import time

    from kurs.room.classroom import require_open
    from kurs.room.overview import RoomWatcher, text

    require_open()
    watcher = RoomWatcher()
    try:
        time.sleep(0.5)  # the retained reports arrive right after subscribing
        return text(watcher)
    finally:
        watcher.close()


def Overview(**kwargs: Any) -> Any:  # noqa: N802 - a widget, named like one
    from kurs.room.classroom import require_open
    from kurs.room.widget import RoomOverview

    require_open()
    return RoomOverview(**kwargs)
