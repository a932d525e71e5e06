"""The command side's aggregate cache: bounded by count (least recently used out first) and by
idle time, as eventsourcing's repository reads it."""

from __future__ import annotations

import pytest

from domain.aggregate_cache import IdleAggregateCache


def test_an_aggregate_idle_too_long_is_gone_and_a_used_one_stays() -> None:
    now = [0.0]
    cache = IdleAggregateCache(10, 600.0, lambda: now[0])
    cache.put("game.a", "A")
    cache.put("game.b", "B")
    now[0] = 599.0
    assert cache.get("game.a") == "A"  # used: kept 600 s more
    now[0] = 600.0
    assert "game.b" not in cache.cache
    with pytest.raises(KeyError):
        cache.get("game.b")
    assert "game.a" in cache.cache
    cache.put("game.c", "C")
    assert set(cache.entries) == {"game.a", "game.c"}


def test_the_least_recently_used_goes_first_and_evict_takes_out() -> None:
    cache = IdleAggregateCache(2, 600.0, lambda: 0.0)
    cache.put("game.a", "A")
    cache.put("game.b", "B")
    assert cache.get("game.a") == "A"  # now b is the least recently used
    cache.put("game.c", "C")
    assert "game.b" not in cache.cache
    assert cache.get("game.c", evict=True) == "C"
    assert "game.c" not in cache.cache
    cache.put("game.d", None)  # eventsourcing may put nothing: nothing is kept
    assert set(cache.entries) == {"game.a"}
