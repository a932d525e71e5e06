"""The global budget: a slot is held while its request is in flight, so latency jitter never
lets Discord count more than the budget in one of its windows (fixed or sliding)."""

from __future__ import annotations

import asyncio

import pytest
from discord.http import Route
from redis.asyncio import Redis

from gateways.discord import DiscordRest
from gateways.discord.budget import Gate
from gateways.discord.errors import TurnTimeout
from gateways.discord.keys import Keys
from gateways.discord.metrics import Metrics
from tests.integration.discord_rest.conftest import MakeConfig, Stage
from tests.integration.discord_rest.test_timing import eventually

pytestmark = pytest.mark.integration


async def _redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_a_slot_in_flight_counts_until_its_answer_then_for_one_window(
    redis: Redis, make_config: MakeConfig, prefix: str
) -> None:
    config = make_config(global_per_second=2, turn_wait=0.001)
    keys = Keys(prefix)
    gate = Gate(redis, keys, config)
    first, second = await gate.wait_turn([]), await gate.wait_turn([])
    budget = keys.budget("global")
    # in flight: stamped ahead by the lease, so no window can forget it
    assert await redis.zscore(budget, first.member) > await _redis_ms(redis) + 10_000
    with pytest.raises(TurnTimeout) as in_flight:
        await gate.wait_turn([])
    assert in_flight.value.seconds < 0.1  # "look again soon": an answer may come any moment
    await gate.done(first)
    await gate.done(second)
    answered = await _redis_ms(redis)
    assert await redis.zscore(budget, first.member) <= answered
    with pytest.raises(TurnTimeout) as after:
        await gate.wait_turn([])
    assert after.value.seconds > 0.5  # a window from the answer, not from the take


@pytest.mark.parametrize("window", ["fixed", "sliding"])
async def test_slow_answers_never_push_discord_over_its_global_limit(
    stage: Stage, redis: Redis, make_config: MakeConfig, window: str
) -> None:
    """Five requests slowed by 1.2 s take the whole budget of 5; five fast ones taken after them
    must wait for their answers. A gate that counted a slot from its take alone would send the
    fast ones after one window, and they would reach Discord in the same window as the slow."""
    limit = 5
    emu = stage.emu
    emu.limiter.limits.global_per_second = limit
    emu.limiter.limits.global_window = window
    channel_route = "GET /channels/{channel_id}"
    emu.faults.latency(1.2, channel_route)
    config = make_config(global_per_second=limit, budget_margin=0.0)
    async with DiscordRest(config, redis, metrics=Metrics()) as rest:
        slow = [
            asyncio.create_task(
                rest.http.request(Route("GET", "/channels/{channel_id}", channel_id=stage.games.id))
            )
            for _ in range(limit)
        ]
        budget = rest.keys.budget("global")

        async def all_taken() -> bool:
            return int(await redis.zcard(budget)) >= limit

        await eventually(all_taken)
        fast = [
            asyncio.create_task(rest.http.request(Route("GET", "/users/@me"))) for _ in range(limit)
        ]
        await asyncio.wait_for(asyncio.gather(*slow, *fast), 30)
    assert emu.requests.total_429 == 0
    assert emu.requests.count(channel_route) == limit
    assert emu.requests.count("GET /users/@me") == limit


async def test_discords_clock_moves_a_slot_back_only_as_far_as_is_sure(
    redis: Redis, make_config: MakeConfig, prefix: str
) -> None:
    """An answer that arrived late still counts from when Discord counted it, once an earlier
    answer showed how the clocks relate; the first sample alone proves nothing."""
    keys = Keys(prefix)
    gate = Gate(redis, keys, make_config(global_per_second=10))
    budget = keys.budget("global")
    first = await gate.wait_turn([])
    await gate.done(first, (await _redis_ms(redis) - 300) / 1000)  # 300 ms ago, says Discord
    # nothing known about the clocks yet: counted from the answer
    assert await redis.zscore(budget, first.member) >= await _redis_ms(redis) - 50
    quick = await gate.wait_turn([])
    await gate.done(quick, await _redis_ms(redis) / 1000)  # Discord's clock: no lag at all
    late = await gate.wait_turn([])
    told = await _redis_ms(redis) - 300
    await gate.done(late, told / 1000)  # counted 300 ms before its answer was handled
    stamp = await redis.zscore(budget, late.member)
    assert told <= stamp <= await _redis_ms(redis) - 100


async def test_a_turn_that_times_out_says_how_far_it_still_is(
    redis: Redis, make_config: MakeConfig, prefix: str
) -> None:
    """``TurnTimeout.seconds`` is the whole wait, ``ahead`` what was still ahead when it gave
    up: a worker redelivers after ``ahead``, not after the whole wait again."""
    gate = Gate(redis, Keys(prefix), make_config(global_per_second=1, turn_wait=0.2))
    await gate.wait_turn([])  # in flight: the next one looks again every few ms
    with pytest.raises(TurnTimeout) as caught:
        await gate.wait_turn([])
    assert caught.value.seconds > 0.2
    assert caught.value.ahead < 0.05
