"""A long-running process settles its heap once: what is alive after start is frozen out of
full collections (the bot when first ready, a projector once its feed runs)."""

from __future__ import annotations

import gc

import pytest

from gateways import heap


def test_settle_heap_freezes_the_heap_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_settled", False)
    try:
        assert heap.settle_heap() is True
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert heap.settle_heap() is False  # a restarted bot or projector does not freeze again
        assert gc.get_freeze_count() <= frozen  # nothing new was frozen
    finally:
        gc.unfreeze()
