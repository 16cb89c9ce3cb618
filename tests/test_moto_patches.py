"""Every moto attribute the local cloud replaces still exists on the moto we pin.

A moto release that renames one would otherwise make the patch add a new, unused attribute,
and the local cloud would quietly fall back to moto's behaviour (e.g. publish recorded, never
delivered). Fast: imports moto only.
"""

from __future__ import annotations

import importlib

import pytest

from kurs.sky import moto_patches


@pytest.mark.parametrize(("module", "cls", "attr"), moto_patches.PATCHED,
                         ids=[f"{c}.{a}" for _, c, a in moto_patches.PATCHED])
def test_patched_attribute_exists_on_pinned_moto(module: str, cls: str, attr: str) -> None:
    owner = getattr(importlib.import_module(module), cls)
    assert callable(moto_patches._ORIGINALS.get((owner, attr), getattr(owner, attr, None))), (
        f"moto has no {cls}.{attr} any more: update kurs/sky/moto_patches.py")


def test_patching_twice_replaces_instead_of_wrapping() -> None:
    # POST /moto-api/reset must empty our services once, with the plane wired last.
    from moto.moto_api._internal.models import MotoAPIBackend, moto_api_backend

    calls: list[str] = []
    moto_patches.moto_reset(lambda: calls.append("first"))
    moto_patches.moto_reset(lambda: calls.append("second"))
    try:
        moto_api_backend.reset()
    finally:
        MotoAPIBackend.reset = moto_patches._ORIGINALS[(MotoAPIBackend, "reset")]
    assert calls == ["second"]


@pytest.mark.parametrize(("module", "cls", "attr"), moto_patches.ADDED,
                         ids=[f"{c}.{a}" for _, c, a in moto_patches.ADDED])
def test_added_attribute_is_still_missing_from_pinned_moto(module: str, cls: str, attr: str) -> None:
    # If moto grows its own, ours would shadow it silently: look at moto's and decide.
    owner = getattr(importlib.import_module(module), cls)
    current = getattr(owner, attr, None)
    assert current is None or "kurs.sky.moto_patches" in getattr(current, "__module__", ""), (
        f"moto now has its own {cls}.{attr}: compare it with ours in kurs/sky/moto_patches.py")
