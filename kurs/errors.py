"""Errors a learner sees: a Norwegian message that says what went wrong and what to do."""

from __future__ import annotations


class CourseError(Exception):
    """An error with a Norwegian explanation and, where we know it, the fix.

    Notebooks show ``str(error)`` without a traceback (see ``kurs.errors.install_notebook_handler``).
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\nSlik løser du det: {self.fix}"
        return self.message


def install_notebook_handler() -> None:
    """Show CourseError in IPython as a short Norwegian message instead of a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:  # not in IPython
        return
    ip = get_ipython()
    if ip is None:
        return

    def _show(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001 - IPython's signature
        print(f"⚠️  {value}")
        return None

    ip.set_custom_exc((CourseError,), _show)
