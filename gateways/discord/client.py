"""``DiscordRest``: the one Discord REST client, shared by bot, API, projectors and workers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType

from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from gateways.discord.budget import Gate
from gateways.discord.cache import Cache
from gateways.discord.config import DiscordConfig
from gateways.discord.http import DiscordHTTP
from gateways.discord.keys import Keys
from gateways.discord.metrics import Metrics
from gateways.discord.reads import Reads
from gateways.profiles import Profile


class DiscordRest:
    """Cached reads (``.reads``) and the HTTP layer the outbound modes execute with (``.http``).

    Use as ``async with DiscordRest(config, redis, nc) as rest:``. ``nc`` (NATS) is optional:
    with it, members fetched from Discord are published as profile observations. ``clock``
    (seconds since the epoch) dates cache entries; tests pass a fake one.
    """

    def __init__(
        self,
        config: DiscordConfig,
        redis: Redis,
        nc: NATS | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.redis, self.nc = config, redis, nc
        self.metrics = metrics or Metrics.default()
        self.keys = Keys(config.key_prefix)
        self.gate = Gate(redis, self.keys, config)
        self.http = DiscordHTTP(config, self.gate, self.metrics)
        self.cache = Cache(redis, self.keys, config, self.metrics, clock)
        self.reads = Reads(self.http, self.cache, config, nc)

    async def start(self) -> DiscordRest:
        await self.http.start()
        return self

    async def close(self) -> None:
        await self.cache.close()
        await self.http.close()

    async def __aenter__(self) -> DiscordRest:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def fetch_profiles(self, guild_id: str, user_ids: Sequence[str]) -> dict[str, Profile]:
        """``projections.names.ProfileSource``: one batch lookup for all misses."""
        return await self.reads.fetch_profiles(guild_id, user_ids)
