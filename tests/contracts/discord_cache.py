"""The contract of :class:`gateways.discord.CachePort`, run against the Redis cache and the fake.

Every case runs on a fake clock: time passes when a case says so, never by waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from discord.errors import DiscordServerError, NotFound

from gateways.discord import CachePort, DiscordConfig, DiscordUnavailable, Freshness, Kind
from tests.unit.discord_fakes import FakeClock

FRESH, STALE = 10.0, 100.0
CONFIG = DiscordConfig(
    token="contract",
    ttls={kind: Freshness(FRESH, STALE) for kind in Kind},
    negative_ttl=5.0,
    failure_backoff=3.0,
    hot_hits=3,
    refresh_ahead=0.2,
)
MakeCache = Callable[[DiscordConfig, FakeClock], CachePort]


def not_found() -> NotFound:
    return NotFound(SimpleNamespace(status=404, reason="Not Found"), {"code": 10007})


def server_error(status: int = 503) -> DiscordServerError:
    return DiscordServerError(SimpleNamespace(status=status, reason="Unavailable"), "")


class Source:
    """Discord as a fetch function: counts calls, answers what it is set to, may hold."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.calls = clock, 0
        self.name = "first"
        self.error: BaseException | None = None
        self.held: asyncio.Event | None = None

    async def __call__(self) -> Any:
        self.calls += 1
        if self.held is not None:
            await self.held.wait()
        if self.error is not None:
            raise self.error
        return {"name": self.name, "at": self.clock()}


class CacheContract:
    """Subclass with a ``make_cache`` fixture: ``(config, clock) -> CachePort``, empty."""

    @pytest.fixture
    def make_cache(self) -> MakeCache:  # pragma: no cover - overridden by each implementation
        raise NotImplementedError

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def source(self, clock: FakeClock) -> Source:
        return Source(clock)

    @pytest.fixture
    async def cache(self, make_cache: MakeCache, clock: FakeClock) -> Any:
        cache = make_cache(CONFIG, clock)
        yield cache
        await cache.close()

    async def test_a_miss_fetches_once_then_serves_fresh(
        self, cache: CachePort, source: Source, clock: FakeClock
    ) -> None:
        first = await cache.get(Kind.MEMBER, ["g", "u"], source, "member u")
        clock.advance(FRESH - 1)
        again = await cache.get(Kind.MEMBER, ["g", "u"], source, "member u")
        assert first == again == {"name": "first", "at": first["at"]}
        assert source.calls == 1

    async def test_concurrent_misses_share_one_fetch(
        self, cache: CachePort, source: Source
    ) -> None:
        found = await asyncio.gather(
            *(cache.get(Kind.MEMBER, ["g", "u"], source, "member u") for _ in range(100))
        )
        assert source.calls == 1
        assert all(f["name"] == "first" for f in found)

    async def test_stale_is_served_at_once_and_refreshed_in_the_background(
        self, cache: CachePort, source: Source, clock: FakeClock
    ) -> None:
        await cache.get(Kind.USER, ["u"], source, "user u")
        source.name, source.held = "second", asyncio.Event()
        clock.advance(FRESH + 1)
        # Discord is holding the refresh: the stale value comes back without waiting for it.
        stale = await cache.get(Kind.USER, ["u"], source, "user u")
        assert stale["name"] == "first"
        source.held.set()
        await cache.drain()
        fresh = await cache.get(Kind.USER, ["u"], source, "user u")
        assert fresh["name"] == "second"
        assert source.calls == 2

    async def test_a_failed_refresh_keeps_serving_and_backs_off(
        self, cache: CachePort, source: Source, clock: FakeClock
    ) -> None:
        await cache.get(Kind.USER, ["u"], source, "user u")
        clock.advance(FRESH + 1)
        source.error = server_error()
        assert (await cache.get(Kind.USER, ["u"], source, "user u"))["name"] == "first"
        await cache.drain()
        for _ in range(5):  # within failure_backoff: served stale, Discord left alone
            assert (await cache.get(Kind.USER, ["u"], source, "user u"))["name"] == "first"
        await cache.drain()
        assert source.calls == 2
        clock.advance(CONFIG.failure_backoff + 0.1)
        source.error, source.name = None, "second"
        assert (await cache.get(Kind.USER, ["u"], source, "user u"))["name"] == "first"
        await cache.drain()
        assert (await cache.get(Kind.USER, ["u"], source, "user u"))["name"] == "second"
        assert source.calls == 3

    async def test_a_hot_key_is_refreshed_ahead_and_never_served_stale(
        self, cache: CachePort, source: Source, clock: FakeClock
    ) -> None:
        for _ in range(60):  # 30 s of lookups every 0.5 s: three fresh ages
            found = await cache.get(Kind.MEMBER, ["g", "hot"], source, "member hot")
            assert clock() - found["at"] < FRESH
            await cache.drain()
            clock.advance(0.5)
        assert source.calls >= 3

    async def test_not_found_is_none_and_remembered_for_negative_ttl(
        self, cache: CachePort, source: Source, clock: FakeClock
    ) -> None:
        source.error = not_found()
        assert await cache.get(Kind.MEMBER, ["g", "gone"], source, "member gone") is None
        clock.advance(CONFIG.negative_ttl - 1)
        assert await cache.get(Kind.MEMBER, ["g", "gone"], source, "member gone") is None
        assert source.calls == 1
        clock.advance(1)
        source.error = None  # the member joined
        found = await cache.get(Kind.MEMBER, ["g", "gone"], source, "member gone")
        assert found["name"] == "first"
        assert source.calls == 2

    async def test_discord_failing_with_nothing_cached_raises_a_typed_error(
        self, cache: CachePort, source: Source
    ) -> None:
        source.error = server_error(502)
        with pytest.raises(DiscordUnavailable) as caught:
            await cache.get(Kind.MEMBER, ["g", "u"], source, "member u of guild g")
        assert caught.value.what == "member u of guild g"
        assert caught.value.reason == "Discord returned 502"
        source.error = TimeoutError()
        with pytest.raises(DiscordUnavailable) as again:
            await cache.get(Kind.MEMBER, ["g", "u"], source, "member u of guild g")
        assert again.value.reason == "timed out"

    async def test_put_and_invalidate(self, cache: CachePort, source: Source) -> None:
        await cache.put(Kind.CHANNEL, ["c"], {"name": "seen", "at": 0})
        assert (await cache.get(Kind.CHANNEL, ["c"], source, "channel c"))["name"] == "seen"
        await cache.invalidate(Kind.CHANNEL, ["c"])
        assert (await cache.get(Kind.CHANNEL, ["c"], source, "channel c"))["name"] == "first"
        assert source.calls == 1

    async def test_get_many_answers_each_key(self, cache: CachePort, clock: FakeClock) -> None:
        await cache.put(Kind.MEMBER, ["g", "1"], {"name": "cached"})
        sources = {str(i): Source(clock) for i in range(1, 4)}
        sources["2"].error = not_found()
        sources["3"].error = server_error()
        found = await cache.get_many(
            Kind.MEMBER,
            [("g", "1"), ("g", "2"), ("g", "3")],
            lambda ids: sources[str(ids[1])],
            lambda ids: f"member {ids[1]}",
        )
        assert found[0] == {"name": "cached"}
        assert found[1] is None
        assert isinstance(found[2], DiscordUnavailable)
        assert [s.calls for s in sources.values()] == [0, 1, 1]
