"""Stale-while-revalidate, refresh-ahead, 429 storms and the typed error when nothing is cached.

Cache ages run on a fake clock (``FakeClock``): a case makes an entry stale by advancing it, and
waits for a background refresh with ``cache.drain()``, never with a sleep. Only Discord's own
``Retry-After`` is real time, and that is checked on the emulator's request log.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from deploy.emulator.requestlog import RequestRecord
from gateways.discord import DiscordRest, DiscordUnavailable, Freshness, Kind
from gateways.discord.metrics import Metrics
from tests.integration.discord_rest.conftest import MEMBER_ROUTE, MakeConfig, Stage
from tests.integration.discord_rest.test_timing import eventually
from tests.unit.discord_fakes import FakeClock

pytestmark = pytest.mark.integration


def short_member_ttl(make_config: MakeConfig, fresh: float, **changes: object) -> object:
    return make_config(ttls={Kind.MEMBER: Freshness(fresh, 3600)}, **changes)


def assert_no_request_before_retry_after(records: list[RequestRecord], retry_after: float) -> None:
    """After each 429 left the emulator, nothing arrived on the route before Retry-After."""
    limited = [r for r in records if r.status == 429]
    assert limited, "the storm never happened"
    for r in limited:
        answered = r.at + r.duration
        early = [q for q in records if answered < q.at < answered + retry_after]
        assert not early, f"{len(early)} request(s) within {retry_after} s of a 429"


async def test_stale_value_is_served_then_refreshed(
    stage: Stage, redis: Redis, make_config: MakeConfig, metrics: Metrics
) -> None:
    member = stage.members[0]
    config, clock = short_member_ttl(make_config, 0.2), FakeClock()
    async with DiscordRest(config, redis, metrics=metrics, clock=clock) as rest:  # type: ignore[arg-type]
        first = await rest.reads.member(stage.guild_id, member.id)
        assert first is not None
        assert first["nick"] is None
        member.set_nick("Renamed")
        clock.advance(0.25)
        stale = await rest.reads.member(stage.guild_id, member.id)
        assert stale == first  # served at once, refresh in the background
        await rest.cache.drain()
        assert stage.emu.requests.count(MEMBER_ROUTE) == 2
        fresh = await rest.reads.member(stage.guild_id, member.id)
    assert fresh is not None
    assert fresh["nick"] == "Renamed"
    assert (
        metrics.value(
            "muster_discord_cache_stale_served_total", kind="member", reason="revalidating"
        )
        == 1
    )
    assert (
        metrics.value(
            "muster_discord_cache_refreshes_total", kind="member", trigger="stale", outcome="ok"
        )
        == 1
    )


async def test_hot_key_is_refreshed_ahead_and_never_served_stale(
    stage: Stage, redis: Redis, make_config: MakeConfig, metrics: Metrics
) -> None:
    member = stage.members[1]
    config, clock = short_member_ttl(make_config, 0.5, refresh_ahead=0.4, hot_hits=3), FakeClock()
    async with DiscordRest(config, redis, metrics=metrics, clock=clock) as rest:  # type: ignore[arg-type]
        for _ in range(80):  # 1.6 s of lookups every 0.02 s
            assert await rest.reads.member(stage.guild_id, member.id)
            await rest.cache.drain()
            clock.advance(0.02)
    assert (
        metrics.value(
            "muster_discord_cache_refreshes_total", kind="member", trigger="ahead", outcome="ok"
        )
        >= 2
    )
    assert metrics.total("muster_discord_cache_stale_served_total") == 0
    assert stage.emu.requests.count(MEMBER_ROUTE) >= 3


async def test_429_storm_serves_stale_values_and_honours_retry_after(
    stage: Stage, redis: Redis, make_config: MakeConfig, metrics: Metrics
) -> None:
    emu, guild = stage.emu, stage.guild_id
    hot, other = stage.members[2], stage.members[7]
    config, clock = short_member_ttl(make_config, 0.2, failure_backoff=0.2), FakeClock()
    async with DiscordRest(config, redis, metrics=metrics, clock=clock) as rest:  # type: ignore[arg-type]
        before = await rest.reads.member(guild, hot.id)
        clock.advance(0.25)
        # Body says 0.6 s; the Retry-After header (whole seconds, rounded up) says 1 s.
        emu.faults.rate_limit_storm(MEMBER_ROUTE, count=2, retry_after=0.6)
        # Stale, with no error, whatever the refresh meets (the fake-clock contract case shows
        # a stale value never waits for the refresh).
        served = [await rest.reads.member(guild, hot.id) for _ in range(100)]
        assert all(m == before for m in served)
        await emu.until(lambda: emu.requests.rate_limited[MEMBER_ROUTE] >= 1)
        # The client blocks the bucket on reading the 429: wait until it has (or has already
        # retried past the block).
        blocks = rest.keys.block("*")
        await eventually(
            lambda: _any_key(redis, blocks, unless=emu.requests.count(MEMBER_ROUTE) >= 3)
        )
        # A lookup of another member on the same bucket waits for the block too.
        assert await rest.reads.member(guild, other.id)
        await rest.cache.drain()
        assert emu.requests.count(MEMBER_ROUTE) >= 5
        assert (await rest.reads.member(guild, hot.id)) == before  # refreshed (nothing changed)
    records = emu.requests.entries(MEMBER_ROUTE)
    assert [r.status for r in records].count(429) == 2
    assert_no_request_before_retry_after(records, 1.0)
    assert (
        metrics.value(
            "muster_discord_rate_limited_total",
            route="GET /guilds/{guild_id}/members/{member_id}",
            scope="user",
        )
        == 2
    )
    assert (
        metrics.value(
            "muster_discord_cache_refreshes_total", kind="member", trigger="stale", outcome="ok"
        )
        == 1
    )


async def test_storm_beyond_retries_keeps_serving_stale(
    stage: Stage, redis: Redis, make_config: MakeConfig, metrics: Metrics
) -> None:
    emu, guild, member = stage.emu, stage.guild_id, stage.members[8]
    config, clock = short_member_ttl(make_config, 0.2, failure_backoff=10.0), FakeClock()
    async with DiscordRest(config, redis, metrics=metrics, clock=clock) as rest:  # type: ignore[arg-type]
        before = await rest.reads.member(guild, member.id)
        clock.advance(0.25)
        emu.faults.server_errors(MEMBER_ROUTE, count=10, status=503)
        assert await rest.reads.member(guild, member.id) == before
        await rest.cache.drain()  # 3 retries after 0.1, 0.2, 0.4 s, then the refresh gives up
        for _ in range(10):
            assert await rest.reads.member(guild, member.id) == before
    assert (
        metrics.value(
            "muster_discord_cache_refreshes_total", kind="member", trigger="stale", outcome="failed"
        )
        == 1
    )
    assert (
        metrics.value(
            "muster_discord_cache_stale_served_total", kind="member", reason="discord_failed"
        )
        == 10
    )
    assert emu.requests.count(MEMBER_ROUTE) == 1 + 4


async def test_nothing_cached_and_discord_failing_raises_a_typed_error(
    stage: Stage, redis: Redis, make_config: MakeConfig, metrics: Metrics
) -> None:
    stage.emu.faults.server_errors(MEMBER_ROUTE, count=10, status=502)
    async with DiscordRest(make_config(), redis, metrics=metrics) as rest:
        with pytest.raises(DiscordUnavailable) as caught:
            await rest.reads.member(stage.guild_id, stage.members[9].id)
    assert caught.value.reason == "Discord returned 502"
    assert "try again" in caught.value.user_message
    assert stage.emu.requests.count(MEMBER_ROUTE) == 4  # one try and three retries


async def test_unknown_member_is_none_and_briefly_remembered(
    stage: Stage, redis: Redis, make_config: MakeConfig
) -> None:
    async with DiscordRest(make_config(), redis, metrics=Metrics()) as rest:
        assert await rest.reads.member(stage.guild_id, 42) is None
        assert await rest.reads.member(stage.guild_id, 42) is None
    assert stage.emu.requests.count(MEMBER_ROUTE) == 1


async def _any_key(redis: Redis, pattern: str, *, unless: bool) -> bool:
    return unless or any([k async for k in redis.scan_iter(match=pattern, count=1000)])
