"""The learner's import for notebook 04: ``from kurs.oppgaver import *`` gives ``oppgave1`` …
``oppgave6`` and turns on the ``%%mjs`` cell magic."""

from __future__ import annotations

from kurs.exercises import activate, oppgave1, oppgave2, oppgave3, oppgave4, oppgave5, oppgave6

__all__ = ["oppgave1", "oppgave2", "oppgave3", "oppgave4", "oppgave5", "oppgave6"]

activate()
