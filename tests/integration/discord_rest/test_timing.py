"""Timing across processes: the single-flight lock, rate-limit blocks and the turn deadline."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from gateways.discord import DiscordConfig, DiscordRest, DiscordUnavailable, Kind
from gateways.discord.budget import Gate
from gateways.discord.cache import Cache
from gateways.discord.errors import TurnTimeout
from gateways.discord.keys import Keys
from gateways.discord.metrics import Metrics
from tests.integration.discord_rest.conftest import MEMBER_ROUTE, MakeConfig, Stage

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` until it holds (a condition, not a fixed sleep)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - Redis and NATS state has no event to await
            await asyncio.sleep(0.01)


async def test_a_slow_fetch_keeps_the_lock_and_the_other_process_waits(
    redis_url: str, prefix: str
) -> None:
    """A fetch slower than ``lock_ttl`` is neither repeated by another process nor reported
    unavailable there: the holder renews the lock, the other waits for its value."""
    config = DiscordConfig(token="t", key_prefix=prefix, lock_ttl=1.2)
    first_redis, second_redis = Redis.from_url(redis_url), Redis.from_url(redis_url)
    keys = Keys(prefix)
    first = Cache(first_redis, keys, config, Metrics())
    second = Cache(second_redis, keys, config, Metrics())
    release = asyncio.Event()
    calls = {"first": 0, "second": 0}

    def fetcher(name: str) -> Callable[[], Awaitable[Any]]:
        async def fetch() -> Any:
            calls[name] += 1
            if name == "first":
                await release.wait()  # Discord being slow: far past lock_ttl
            return {"from": name}

        return fetch

    lock = keys.lock(keys.entry(Kind.MEMBER, "g", "u"))
    try:
        leader = asyncio.create_task(first.get(Kind.MEMBER, ["g", "u"], fetcher("first"), "m"))
        await eventually(lambda: _exists(first_redis, lock))
        loser = asyncio.create_task(second.get(Kind.MEMBER, ["g", "u"], fetcher("second"), "m"))
        renewals = _Renewals(first_redis, lock)
        # Three renewals mean the lock outlived lock_ttl; a second fetch would show up first.
        await eventually(lambda: renewals.seen(3, unless=lambda: calls["second"] > 0))
        assert calls == {"first": 1, "second": 0}
        assert not loser.done()
        release.set()
        assert await leader == {"from": "first"}
        assert await loser == {"from": "first"}
        assert calls == {"first": 1, "second": 0}
    finally:
        release.set()
        await first.close()
        await second.close()
        await first_redis.aclose()
        await second_redis.aclose()


async def _exists(redis: Redis, key: str) -> bool:
    return bool(await redis.exists(key))


class _Renewals:
    """Counts the times a key's remaining time went up (someone renewed it)."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis, self.key, self.count, self.last = redis, key, 0, -1

    async def seen(self, times: int, unless: Callable[[], bool]) -> bool:
        if unless():
            return True
        pttl = await self.redis.pttl(self.key)
        if pttl > self.last >= 0:
            self.count += 1
        self.last = pttl
        return self.count >= times


class _Interleaved:
    """A Redis client that makes two check-then-set sequences interleave the worst way.

    Both reads of the block's remaining time happen before either write, and the longer
    block's write lands first, so a non-atomic ``block`` lets the shorter one win.
    """

    def __init__(self, redis: Redis, reads: asyncio.Barrier, turn: asyncio.Event, first: bool):
        self._redis, self._reads, self._turn, self._first = redis, reads, turn, first
        self._checked = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def pttl(self, key: str) -> int:
        value = await self._redis.pttl(key)
        self._checked = True
        await self._reads.wait()
        return int(value)

    async def set(self, key: str, value: Any, **kwargs: Any) -> Any:
        if self._checked and not self._first:
            await self._turn.wait()
        result = await self._redis.set(key, value, **kwargs)
        if self._first:
            self._turn.set()
        return result


async def test_a_block_is_never_shortened_by_another_process(redis_url: str, prefix: str) -> None:
    config = DiscordConfig(token="t", key_prefix=prefix)
    keys = Keys(prefix)
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    reads, turn = asyncio.Barrier(2), asyncio.Event()
    long_gate = Gate(_Interleaved(clients[0], reads, turn, first=True), keys, config)  # type: ignore[arg-type]
    short_gate = Gate(_Interleaved(clients[1], reads, turn, first=False), keys, config)  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(
            asyncio.gather(long_gate.block("bucket", 30.0), short_gate.block("bucket", 1.0)), 10
        )
        assert await clients[0].pttl(keys.block("bucket")) > 20_000
    finally:
        for client in clients:
            await client.aclose()


async def test_a_turn_further_away_than_turn_wait_fails_at_once(
    stage: Stage, redis: Redis, make_config: MakeConfig, prefix: str
) -> None:
    config = make_config(turn_wait=1.0)
    gate = Gate(redis, Keys(prefix), config)
    await gate.block("global", 60.0)
    with pytest.raises(TurnTimeout) as caught:
        await asyncio.wait_for(gate.wait_turn([]), 10)
    assert caught.value.seconds > 59
    async with DiscordRest(config, redis, metrics=Metrics()) as rest:
        with pytest.raises(DiscordUnavailable) as unavailable:
            await asyncio.wait_for(rest.reads.member(stage.guild_id, stage.members[0].id), 10)
    assert "rate limits" in unavailable.value.reason
    assert stage.emu.requests.count(MEMBER_ROUTE) == 0


def test_the_loser_waits_as_long_as_the_policy_allows_one_fetch() -> None:
    config = DiscordConfig(token="t")
    tries = config.max_retries + 1
    assert config.loser_wait == config.worst_fetch
    pauses = config.max_retries * max(*config.backoff, config.turn_wait)
    assert config.worst_fetch >= tries * (config.request_timeout + config.turn_wait) + pauses
    assert config.lock_ttl < config.worst_fetch  # hence the renewal
    assert dataclasses.replace(config, flight_wait=3.0).loser_wait == 3.0
