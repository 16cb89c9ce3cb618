"""mJS, the JavaScript subset that runs on a real Mongoose OS board, and the checker for it."""

from __future__ import annotations

from kurs.mjs.checker import MjsError, Problem, check_file, check_source, ensure_valid

__all__ = ["MjsError", "Problem", "check_file", "check_source", "ensure_valid"]
