"""The Redis cache passes the CachePort contract (the in-memory fake passes the same cases)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from gateways.discord import CachePort, DiscordConfig
from gateways.discord.cache import Cache
from gateways.discord.keys import Keys
from gateways.discord.metrics import Metrics
from tests.contracts.discord_cache import CacheContract, MakeCache
from tests.unit.discord_fakes import FakeClock

pytestmark = pytest.mark.integration


class TestRedisCache(CacheContract):
    @pytest.fixture
    def make_cache(self, redis: Redis, prefix: str) -> MakeCache:
        def make(config: DiscordConfig, clock: FakeClock) -> CachePort:
            return Cache(redis, Keys(prefix), config, Metrics(), clock)

        return make
