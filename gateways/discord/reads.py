"""Cached reads of Discord for bot, API and projectors, and the display-name fallback.

Every read goes through :class:`~gateways.discord.cache.Cache` (one Discord call per key however
many ask, stale-while-revalidate). A read returns Discord's JSON payload, or ``None`` / an empty
list when Discord says the object does not exist or is not visible to the bot, and raises
:class:`~gateways.discord.errors.DiscordUnavailable` only when Discord fails and nothing is cached.
Members fetched from Discord are published as profile observations on ``PROFILES``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS

from gateways.discord.cache import Cache
from gateways.discord.config import DiscordConfig
from gateways.discord.errors import DiscordUnavailable
from gateways.discord.http import DiscordHTTP
from gateways.discord.keys import Kind
from gateways.profiles import Profile, publish_profile

log = logging.getLogger(__name__)
Payload = dict[str, Any]


def profile_of(member: Payload) -> Profile:
    """What a member payload says about their display profile."""
    user = member.get("user") or {}
    return Profile(
        username=user.get("username") or "",
        global_name=user.get("global_name"),
        nick=member.get("nick"),
        avatar=member.get("avatar") or user.get("avatar"),
    )


class Reads:
    """The read side of the Discord REST client (also a ``projections.names.ProfileSource``)."""

    def __init__(
        self, http: DiscordHTTP, cache: Cache, config: DiscordConfig, nc: NATS | None = None
    ) -> None:
        self.http, self.cache, self.config, self.nc = http, cache, config, nc

    async def user(self, user_id: str | int) -> Payload | None:
        return await self.cache.get(  # type: ignore[no-any-return]
            Kind.USER, [user_id], lambda: self.http.get_user(user_id), f"user {user_id}"
        )

    async def guild(self, guild_id: str | int) -> Payload | None:
        return await self.cache.get(  # type: ignore[no-any-return]
            Kind.GUILD, [guild_id], lambda: self.http.get_guild(guild_id), f"guild {guild_id}"
        )

    async def guild_channels(self, guild_id: str | int) -> list[Payload]:
        found = await self.cache.get(
            Kind.GUILD_CHANNELS,
            [guild_id],
            lambda: self.http.get_all_guild_channels(guild_id),
            f"channels of guild {guild_id}",
        )
        return found or []

    async def channel(self, channel_id: str | int) -> Payload | None:
        return await self.cache.get(  # type: ignore[no-any-return]
            Kind.CHANNEL,
            [channel_id],
            lambda: self.http.get_channel(channel_id),
            f"channel {channel_id}",
        )

    async def roles(self, guild_id: str | int) -> list[Payload]:
        found = await self.cache.get(
            Kind.ROLES, [guild_id], lambda: self.http.get_roles(guild_id), f"roles of {guild_id}"
        )
        return found or []

    async def emojis(self, guild_id: str | int) -> list[Payload]:
        found = await self.cache.get(
            Kind.EMOJIS,
            [guild_id],
            lambda: self.http.get_all_custom_emojis(guild_id),
            f"emojis of guild {guild_id}",
        )
        return found or []

    async def member(self, guild_id: str | int, user_id: str | int) -> Payload | None:
        """A guild member with its ``user`` (``None`` if not in the guild)."""
        return await self.cache.get(  # type: ignore[no-any-return]
            Kind.MEMBER,
            [guild_id, user_id],
            lambda: self._fetch_member(guild_id, user_id),
            f"member {user_id} of guild {guild_id}",
        )

    async def members(
        self, guild_id: str | int, user_ids: Sequence[str | int]
    ) -> dict[str, Payload]:
        """Members by id, one ``MGET`` plus one call per uncached id (absent ids are left out).

        Ids Discord could not be asked about (and that are not cached) are left out and logged.
        """
        ids = list(dict.fromkeys(str(u) for u in user_ids))
        results = await self.cache.get_many(
            Kind.MEMBER,
            [(str(guild_id), u) for u in ids],
            lambda key: lambda: self._fetch_member(key[0], key[1]),
            lambda key: f"member {key[1]} of guild {key[0]}",
        )
        found: dict[str, Payload] = {}
        for user_id, result in zip(ids, results, strict=True):
            if isinstance(result, DiscordUnavailable):
                log.warning("%s", result)
            elif result is not None:
                found[user_id] = result
        return found

    async def search_members(
        self, guild_id: str | int, query: str, limit: int = 10
    ) -> list[Payload]:
        """Members whose username, global name or nick starts with ``query`` (``@mention`` help)."""
        normalized = query.strip().lower()

        async def fetch() -> Any:
            found = await self.http.search_members(guild_id, normalized, limit)
            for member in found:
                await self.cache.put(Kind.MEMBER, [guild_id, member["user"]["id"]], member)
                await self._observe(guild_id, member)
            return found

        found = await self.cache.get(
            Kind.MEMBER_SEARCH,
            [guild_id, limit, normalized],
            fetch,
            f"member search {normalized!r} in guild {guild_id}",
        )
        return found or []

    async def user_guilds(self, user_id: str | int, access_token: str) -> list[Payload]:
        """The guilds of an OAuth2 user (their bearer token; cached per user)."""
        found = await self.cache.get(
            Kind.USER_GUILDS,
            [user_id],
            lambda: self.http.get_user_guilds(access_token),
            f"guilds of user {user_id}",
        )
        return found or []

    async def fetch_profiles(self, guild_id: str, user_ids: Sequence[str]) -> dict[str, Profile]:
        """``ProfileSource``: profiles of the members that exist, in one batch lookup."""
        found = await self.members(guild_id, user_ids)
        return {user_id: profile_of(member) for user_id, member in found.items()}

    async def _fetch_member(self, guild_id: str | int, user_id: str | int) -> Any:
        member: Any = await self.http.get_member(guild_id, user_id)
        await self._observe(guild_id, member)
        return member

    async def _observe(self, guild_id: str | int, member: Payload) -> None:
        """Publish a member's profile as an observation (best effort)."""
        if self.nc is None:
            return
        user_id = member.get("user", {}).get("id")
        if user_id is None:
            return
        try:
            await publish_profile(
                self.nc,
                str(guild_id),
                str(user_id),
                profile_of(member),
                self.config.profiles_prefix,
            )
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not publish the profile of %s: %s", user_id, exc)
