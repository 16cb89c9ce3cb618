"""Exercises with instant feedback (Oppgave 1–6 in notebook 04).

    from kurs.oppgaver import *      # oppgave1 … oppgave6, and the %%mjs cell magic

    %%mjs oppgave1                   # a cell: saved as arbeid/oppgave1/fs/init.js, run on a board
    oppgave1.sjekk()                 # ✅/❌ in Norwegian, from what the board does
    oppgave1.hint()                  # one hint more each time
    oppgave1.fasit()                 # the solution, folded away
    oppgave1.bruk_fasit()            # run the solution so you can go on

``%load_ext kurs.exercises`` registers the magic too.
"""

from __future__ import annotations

from kurs.exercises.cloud_publish import CloudPublish
from kurs.exercises.led_from_state import LedFromState
from kurs.exercises.led_pin import LedPin
from kurs.exercises.magic import load_ipython_extension, run_cell
from kurs.exercises.publish_state import PublishState
from kurs.exercises.subscribe_print import SubscribePrint
from kurs.exercises.two_boards import TwoBoards

oppgave1 = PublishState()
oppgave2 = SubscribePrint()
oppgave3 = LedPin()
oppgave4 = LedFromState()
oppgave5 = CloudPublish()
oppgave6 = TwoBoards()
EXERCISES = (oppgave1, oppgave2, oppgave3, oppgave4, oppgave5, oppgave6)

__all__ = ["EXERCISES", "activate", "load_ipython_extension", "run_cell",
           "oppgave1", "oppgave2", "oppgave3", "oppgave4", "oppgave5", "oppgave6"]


def activate() -> None:
    """Register ``%%mjs`` in the running IPython (nothing happens outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        load_ipython_extension(ip)
