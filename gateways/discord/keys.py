"""The one key scheme and the one TTL table of the Discord REST cache.

Every cached read is ``<prefix>:<kind>:<id>[:<id>…]`` in Redis, holding an envelope with the
payload and the time it was fetched. Each kind has a *fresh* age (served as is) and a *stale* age
(served at once while a refresh runs, or when Discord fails); Redis expires the key at the stale
age. Defaults follow the issue: channel, roles, user, member 5 min; guild 10 min; a user's OAuth
guilds 1 h. The composition root overrides any of them through ``DiscordConfig.ttls``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import msgspec

DEFAULT_PREFIX = "muster:discord"
DAY = 24 * 3600.0


class Kind(enum.StrEnum):
    """What a cache entry holds; the value is the key segment."""

    USER = "user"  # users/{user_id}
    GUILD = "guild"  # guilds/{guild_id}
    GUILD_CHANNELS = "channels"  # guilds/{guild_id}/channels
    CHANNEL = "channel"  # channels/{channel_id}
    ROLES = "roles"  # guilds/{guild_id}/roles
    MEMBER = "member"  # guilds/{guild_id}/members/{user_id}
    MEMBER_SEARCH = "search"  # guilds/{guild_id}/members/search?query=
    USER_GUILDS = "user_guilds"  # users/@me/guilds with a user's bearer token
    EMOJIS = "emojis"  # guilds/{guild_id}/emojis
    DM_CHANNEL = "dm"  # users/@me/channels with a recipient (never changes)


class Freshness(msgspec.Struct, frozen=True):
    """Seconds an entry is fresh, and seconds after fetching it may still be served stale."""

    fresh: float
    stale: float

    def __post_init__(self) -> None:
        if self.fresh <= 0 or self.stale < self.fresh:
            raise ValueError(f"need 0 < fresh <= stale, got {self.fresh} / {self.stale}")


TTLS: Mapping[Kind, Freshness] = {
    Kind.USER: Freshness(300, DAY),
    Kind.GUILD: Freshness(600, DAY),
    Kind.GUILD_CHANNELS: Freshness(300, DAY),
    Kind.CHANNEL: Freshness(300, DAY),
    Kind.ROLES: Freshness(300, DAY),
    Kind.MEMBER: Freshness(300, DAY),
    Kind.MEMBER_SEARCH: Freshness(60, 600),
    Kind.USER_GUILDS: Freshness(3600, DAY),
    Kind.EMOJIS: Freshness(600, DAY),
    Kind.DM_CHANNEL: Freshness(DAY, 7 * DAY),
}

# How long "Discord says this does not exist" is remembered (absorbs repeated lookups of members
# who left); short, so a member who joins is seen soon.
NEGATIVE_TTL = 60.0


def ttl_table(overrides: Mapping[Kind | str, Freshness] | None = None) -> dict[Kind, Freshness]:
    """The default table with ``overrides`` applied (keys may be ``Kind`` or its value)."""
    table = dict(TTLS)
    for kind, freshness in (overrides or {}).items():
        table[Kind(kind)] = freshness
    return table


class Keys:
    """Builds keys under one prefix (tests use a prefix of their own)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def entry(self, kind: Kind, *ids: str | int) -> str:
        """The cache entry for ``kind`` identified by ``ids``."""
        return ":".join((self.prefix, kind.value, *(str(i) for i in ids)))

    def lock(self, key: str) -> str:
        """The single-flight lock guarding a refresh of ``key``."""
        return f"{self.prefix}:lock:{key.removeprefix(self.prefix + ':')}"

    def block(self, bucket: str) -> str:
        """A rate-limit block on a bucket (``global`` or a route bucket), shared by processes."""
        return f"{self.prefix}:block:{bucket}"

    def budget(self, name: str) -> str:
        """The sliding window of a send budget (``global`` or ``channel:<id>``)."""
        return f"{self.prefix}:budget:{name}"

    def edit_version(self, message_id: str | int) -> str:
        """Newest edit version claimed for a message (stale redeliveries are skipped)."""
        return f"{self.prefix}:edit:{message_id}"
