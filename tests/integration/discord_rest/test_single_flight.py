"""Single flight: concurrent misses on one key cost one Discord call, in and across processes."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from gateways.discord import DiscordRest
from gateways.discord.metrics import Metrics
from tests.integration.discord_rest.conftest import MEMBER_ROUTE, MakeConfig, Stage

pytestmark = pytest.mark.integration


async def test_100_concurrent_lookups_make_one_call(
    stage: Stage, redis: Redis, make_config: MakeConfig, metrics: Metrics
) -> None:
    member = stage.members[3]
    async with DiscordRest(make_config(), redis, metrics=metrics) as rest:
        found = await asyncio.gather(
            *(rest.reads.member(stage.guild_id, member.id) for _ in range(100))
        )
    assert stage.emu.requests.count(MEMBER_ROUTE) == 1
    assert {m["user"]["id"] for m in found} == {str(member.id)}
    assert found[0]["nick"] == "Nick 3"
    assert metrics.value("muster_discord_cache_misses_total", kind="member") == 100
    assert (
        metrics.value("muster_discord_single_flight_waits_total", kind="member", scope="process")
        == 99
    )


async def test_two_processes_share_one_call(
    stage: Stage, redis_url: str, make_config: MakeConfig
) -> None:
    """Two clients with their own connections (as two processes would be) share Redis."""
    member = stage.members[4]
    first_redis, second_redis = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        async with (
            DiscordRest(make_config(), first_redis, metrics=Metrics()) as first,
            DiscordRest(make_config(), second_redis, metrics=Metrics()) as second,
        ):
            found = await asyncio.gather(
                *(
                    client.reads.member(stage.guild_id, member.id)
                    for _ in range(50)
                    for client in (first, second)
                )
            )
            waits = first.metrics.value(
                "muster_discord_single_flight_waits_total", kind="member", scope="redis"
            ) + second.metrics.value(
                "muster_discord_single_flight_waits_total", kind="member", scope="redis"
            )
    finally:
        await first_redis.aclose()
        await second_redis.aclose()
    assert stage.emu.requests.count(MEMBER_ROUTE) == 1
    assert len(found) == 100
    assert {m["user"]["id"] for m in found} == {str(member.id)}
    assert waits == 1  # the other process's leader waited for the winner's value


async def test_cached_value_is_served_without_a_call(
    stage: Stage, redis: Redis, make_config: MakeConfig, metrics: Metrics
) -> None:
    member = stage.members[5]
    async with DiscordRest(make_config(), redis, metrics=metrics) as rest:
        await rest.reads.member(stage.guild_id, member.id)
        for _ in range(20):
            await rest.reads.member(stage.guild_id, member.id)
    assert stage.emu.requests.count(MEMBER_ROUTE) == 1
    assert metrics.value("muster_discord_cache_hits_total", kind="member") == 20
