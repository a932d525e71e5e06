"""What the bot reads: the read models (never the log), through a small pool.

Autocomplete, ``/game list``, ``/game mine`` and the time zone for typed times all come from
PostgreSQL read models via :mod:`projections.queries`; they may trail the log by a few
milliseconds, which is fine for choosing and listing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import msgspec
from psycopg_pool import AsyncConnectionPool

from domain.events import Settings
from domain.rules import Effective, resolve
from projections import queries
from projections.queries import GameDetail, GameSummary


class GameReads(Protocol):
    """The queries the bot needs (a fake in unit tests, PostgreSQL otherwise)."""

    async def game(self, game_id: str) -> GameDetail | None: ...
    async def channel_games(self, channel_id: str) -> list[GameSummary]: ...
    async def guild_games(
        self, guild_id: str, since: datetime, until: datetime
    ) -> list[GameSummary]: ...
    async def user_games(self, user_id: str) -> dict[str, list[GameSummary]]: ...
    async def time_zone(self, guild_id: str, channel_id: str) -> str: ...
    async def settings(self, guild_id: str, channel_id: str) -> Effective: ...


class ReadModels:
    """:class:`GameReads` on PostgreSQL (a pool whose connections use the read-model schema)."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    async def game(self, game_id: str) -> GameDetail | None:
        async with self.pool.connection() as conn:
            return await queries.game_detail(conn, game_id)

    async def channel_games(self, channel_id: str) -> list[GameSummary]:
        async with self.pool.connection() as conn:
            return await queries.games_in_channel(conn, channel_id, limit=25)

    async def guild_games(
        self, guild_id: str, since: datetime, until: datetime
    ) -> list[GameSummary]:
        async with self.pool.connection() as conn:
            return await queries.games_in_guild(conn, guild_id, since, until)

    async def user_games(self, user_id: str) -> dict[str, list[GameSummary]]:
        async with self.pool.connection() as conn:
            return await queries.games_of_user(conn, user_id)

    async def time_zone(self, guild_id: str, channel_id: str) -> str:
        """The zone typed times are read in: channel's, else guild's, else UTC."""
        return (await self.settings(guild_id, channel_id)).time_zone

    async def settings(self, guild_id: str, channel_id: str) -> Effective:
        """What a new game in this channel would inherit."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT (SELECT settings FROM channel_settings WHERE channel_id = %s), "
                "(SELECT settings FROM guild_settings WHERE guild_id = %s)",
                (channel_id, guild_id),
            )
            row = await cur.fetchone()
        channel, guild = row if row else (None, None)
        return resolve(
            None,
            msgspec.convert(channel, Settings) if channel else None,
            msgspec.convert(guild, Settings) if guild else None,
        )
