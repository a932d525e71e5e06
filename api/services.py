"""The parts the web works with, handed in by the composition root (or a test).

:class:`Web` holds ports, not settings: the command port, the read-model pool, Redis, NATS,
the Discord reads and the OAuth2 client. ``deploy/api_cmd.py`` builds one from the
``Container``; router tests build one from fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from api.config import WebConfig
from api.gamecache import GameCache
from api.viewercache import MuteCache, RenderedPages
from domain.ports import CommandPort
from gateways.jetstream.layout import Layout
from projections.names import DisplayNames

Payload = dict[str, Any]


class DiscordReads(Protocol):
    """What the web reads from Discord (``gateways.discord.reads.Reads`` is one)."""

    async def guild(self, guild_id: str | int) -> Payload | None: ...
    async def guild_channels(self, guild_id: str | int) -> list[Payload]: ...
    async def channel(self, channel_id: str | int) -> Payload | None: ...
    async def roles(self, guild_id: str | int) -> list[Payload]: ...
    async def member(self, guild_id: str | int, user_id: str | int) -> Payload | None: ...
    async def search_members(
        self, guild_id: str | int, query: str, limit: int = 10
    ) -> list[Payload]: ...
    async def user_guilds(self, user_id: str | int, access_token: str) -> list[Payload]: ...


class OAuthClient(Protocol):
    """Discord OAuth2 on behalf of a user (``api.oauth.DiscordOAuth`` is one)."""

    def authorize_url(self, state: str) -> str: ...
    async def exchange(self, code: str) -> Payload: ...
    async def refresh(self, refresh_token: str) -> Payload: ...
    async def revoke(self, token: str) -> None: ...
    async def me(self, access_token: str) -> Payload: ...


@dataclass
class Web:
    """Everything a request handler may use."""

    config: WebConfig
    commands: CommandPort
    pool: AsyncConnectionPool[Any]
    redis: Redis
    nc: NATS
    discord: DiscordReads
    oauth: OAuthClient
    layout: Layout
    names: DisplayNames
    clock: Callable[[], float] = time.time
    process: str = "api"
    extras: dict[str, Any] = field(default_factory=dict)
    games: GameCache = field(default_factory=GameCache)
    mutes: MuteCache = field(default_factory=MuteCache)
    pages: RenderedPages = field(default_factory=RenderedPages)

    async def display_names(self, guild_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        return await self.names.resolve(guild_id, user_ids)
