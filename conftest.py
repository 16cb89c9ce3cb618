"""Root pytest configuration (applies to tests/ and notebooks/)."""

from __future__ import annotations

import os

import pytest

# The environment before any fixture pointed it at a test cloud. Notebooks run by nbval get
# this one, so they start (or reuse) the course's own local cloud as a learner's would.
_ORIGINAL_ENV = dict(os.environ)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.path.suffix == ".ipynb":  # runs before nbval starts the notebook's kernel
        os.environ.clear()
        os.environ.update(_ORIGINAL_ENV)
