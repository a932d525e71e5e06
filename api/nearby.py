"""A few seconds of in-process memory in front of the Discord reads (which live in Redis).

A page or API call reads the same guild, roles and member several times a second under load;
this keeps each answer (absent ones too) for ``ttl`` seconds, so a request costs no Redis round
trip for them. A role or membership change in Discord shows here after at most ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from api.services import DiscordReads, Payload


class NearbyReads:
    """``DiscordReads`` with a short in-process TTL cache on single-object reads."""

    def __init__(
        self, reads: DiscordReads, ttl: float = 5.0, size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.reads, self.ttl, self.size, self.clock = reads, ttl, size, clock
        self._memory: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._flights: dict[tuple[Any, ...], asyncio.Task[Any]] = {}

    async def _cached(self, key: tuple[Any, ...], load: Callable[[], Awaitable[Any]]) -> Any:
        found = self._memory.get(key)
        if found is not None and found[0] > self.clock():
            return found[1]
        flight = self._flights.get(key)
        if flight is None:  # one load per key however many ask at once

            async def run() -> Any:
                try:
                    value = await load()
                    self._memory[key] = (self.clock() + self.ttl, value)
                    self._memory.move_to_end(key)
                    while len(self._memory) > self.size:
                        self._memory.popitem(last=False)
                    return value
                finally:
                    self._flights.pop(key, None)

            flight = self._flights[key] = asyncio.ensure_future(run())
        return await asyncio.shield(flight)

    async def guild(self, guild_id: str | int) -> Payload | None:
        return await self._cached(("guild", str(guild_id)), lambda: self.reads.guild(guild_id))  # type: ignore[no-any-return]

    async def guild_channels(self, guild_id: str | int) -> list[Payload]:
        return await self._cached(  # type: ignore[no-any-return]
            ("channels", str(guild_id)), lambda: self.reads.guild_channels(guild_id)
        )

    async def channel(self, channel_id: str | int) -> Payload | None:
        return await self._cached(  # type: ignore[no-any-return]
            ("channel", str(channel_id)), lambda: self.reads.channel(channel_id)
        )

    async def roles(self, guild_id: str | int) -> list[Payload]:
        return await self._cached(("roles", str(guild_id)), lambda: self.reads.roles(guild_id))  # type: ignore[no-any-return]

    async def member(self, guild_id: str | int, user_id: str | int) -> Payload | None:
        return await self._cached(  # type: ignore[no-any-return]
            ("member", str(guild_id), str(user_id)), lambda: self.reads.member(guild_id, user_id)
        )

    async def search_members(
        self, guild_id: str | int, query: str, limit: int = 10
    ) -> list[Payload]:
        return await self.reads.search_members(guild_id, query, limit)

    async def user_guilds(self, user_id: str | int, access_token: str) -> list[Payload]:
        return await self.reads.user_guilds(user_id, access_token)
