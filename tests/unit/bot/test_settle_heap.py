"""The bot settles the process heap once: what is alive after start is frozen out of full GCs."""

from __future__ import annotations

import gc

import pytest

from bot import run


def test_settle_heap_freezes_the_heap_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "_settled", False)
    try:
        assert run.settle_heap() is True
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert run.settle_heap() is False  # a restarted bot does not freeze again
        assert gc.get_freeze_count() <= frozen  # nothing new was frozen
    finally:
        gc.unfreeze()
