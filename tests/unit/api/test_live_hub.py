"""The live hub's fan-out rules, without servers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.gamecache import GameCache
from api.live import Listener, LiveHub


class FakeWeb:
    def __init__(self) -> None:
        self.games = GameCache()


async def test_wake_ups_coalesce_to_the_newest_position() -> None:
    listener = Listener()
    listener.wake(5)
    listener.wake(9)
    listener.wake(7)
    assert await listener.next() == 9


async def test_listeners_by_topic_and_closing_ends_streams() -> None:
    hub = LiveHub(FakeWeb())  # type: ignore[arg-type]
    async with hub.listen("game:a") as a, hub.listen("guild:1") as g:
        hub.publish("game:a", 3)
        assert await a.next() == 3
        assert not g.woken.is_set()
        assert hub.viewers == 2
        hub.close_streams()
        assert await a.next() is None
        assert await g.next() is None
    assert hub.viewers == 0


async def test_one_rendering_per_topic_and_position() -> None:
    hub = LiveHub(FakeWeb())  # type: ignore[arg-type]
    renders = 0

    async def render() -> str:
        nonlocal renders
        renders += 1
        return "<li>x</li>"

    async def visible(web: object, position: int) -> bool:
        return True

    import api.writes

    real = api.writes.visible
    api.writes.visible = visible  # type: ignore[assignment]
    try:
        tasks = [hub.render_once("game:a", 4, render) for _ in range(100)]
        assert set(await asyncio.gather(*tasks)) == {"<li>x</li>"}
    finally:
        api.writes.visible = real
    assert renders == 1


def a_view(game_id: str = "g") -> Any:
    from datetime import UTC, datetime

    from api import models

    now = datetime.now(UTC)
    return models.GameDetail(
        game_id=game_id, guild_id="1", channel_id="2", host_id="3", title="t", scheduled_at=now,
        status="scheduled", joined_count=0, waitlist_count=0, max_players=4, host_name="H",
        description="", category=None, duration_minutes=None, players=[], waitlist=[],
        placeholders=[], settings={}, created_at=now, updated_at=now, version=1, position=10,
    )  # fmt: skip


def test_views_are_dropped_when_the_log_has_newer_events() -> None:
    cache = GameCache(ttl=60, clock=lambda: 0.0)
    view = a_view()
    cache.put(view)
    assert cache.get("g") is not None
    cache.saw("g", 10)
    assert cache.get("g") is not None
    cache.saw("g", 11)
    assert cache.get("g") is None
    cache.put(view)  # built from read models behind the log: not kept
    assert cache.get("g") is None


def test_expired_views_do_not_pile_up_below_the_size_bound() -> None:
    now = [0.0]
    cache = GameCache(ttl=5.0, clock=lambda: now[0])
    for n in range(1_000):  # a game viewed once a second, none viewed again
        now[0] = float(n)
        cache.put(a_view(f"g{n}"))
    assert len(cache) <= 6
    assert cache.get("g999") is not None


def test_the_games_newest_positions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GameCache, "KNOWN", 100)
    cache = GameCache()
    for n in range(1_000):
        cache.saw(f"g{n}", n + 1)
    cache.saw("g950", 2_000)  # changed again: kept longer than those changed before it
    for n in range(1_000, 1_099):
        cache.saw(f"g{n}", n + 1)
    assert len(cache.latest) == 100
    assert cache.latest["g950"] == 2_000
