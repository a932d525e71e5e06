"""Display names: PROFILES observations projected into Redis, and a batch resolver.

Keys: ``muster:member:<guild_id>:<user_id>`` → the profile as JSON, with a TTL
(``MUSTER_NAME_TTL``, default one hour). The projector writes each observation and its stream
position in one Redis transaction; observations are idempotent (newest wins), so a redelivery
changes nothing. The resolver answers a batch of user ids with one ``MGET``; misses go to an
optional :class:`ProfileSource` (the Discord REST client), and what is still unknown renders as
"Unknown User" and is not cached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from redis.asyncio import Redis

from gateways.profiles import PREFIX, STREAM, Profile, ensure_profiles_stream

UNKNOWN = "Unknown User"
DEFAULT_TTL = 3600
POSITION_KEY = "muster:profiles:position"


def member_key(guild_id: str, user_id: str) -> str:
    return f"muster:member:{guild_id}:{user_id}"


class ProfileSource(Protocol):
    """Where to look up members Redis does not know (one call for all misses)."""

    async def fetch_profiles(self, guild_id: str, user_ids: Sequence[str]) -> dict[str, Profile]:
        """Profiles of those members that exist; absent ids are unknown."""
        ...


class DisplayNames:
    """Resolves user ids to display names in one round trip."""

    def __init__(self, redis: Redis, source: ProfileSource | None = None) -> None:
        self.redis = redis
        self.source = source
        self._decoder = msgspec.json.Decoder(Profile)

    async def resolve(self, guild_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """``user_id → display name`` for every id given (nick > global name > username)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        values = await self.redis.mget([member_key(guild_id, u) for u in ids])
        names: dict[str, str] = {}
        missing = []
        for user_id, raw in zip(ids, values, strict=True):
            if raw is None:
                missing.append(user_id)
            else:
                names[user_id] = self._decoder.decode(raw).display_name
        if missing and self.source is not None:
            found = await self.source.fetch_profiles(guild_id, missing)
            names.update({u: p.display_name for u, p in found.items()})
        for user_id in missing:
            names.setdefault(user_id, UNKNOWN)
        return names


class NameProjector:
    """Follows PROFILES and keeps the Redis keys current."""

    def __init__(self, nc: NATS, redis: Redis, ttl: int = DEFAULT_TTL,
                 stream: str = STREAM, prefix: str = PREFIX) -> None:  # fmt: skip
        self.nc, self.redis, self.ttl = nc, redis, ttl
        self.stream, self.prefix = stream, prefix
        self.position = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Project until ``stop`` is set."""
        await ensure_profiles_stream(self.nc, self.stream, self.prefix)
        self.position = int(await self.redis.get(POSITION_KEY) or 0)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.position + 1
        )
        sub = await self.nc.jetstream().subscribe(
            f"{self.prefix}.>", stream=self.stream, cb=self._on_message,
            ordered_consumer=True, config=config, idle_heartbeat=2.0,
        )  # fmt: skip
        try:
            await stop.wait()
        finally:
            await sub.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self.position:
            return
        _, guild_id, user_id = msg.subject.split(".", 2)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(member_key(guild_id, user_id), msg.data, ex=self.ttl)
            pipe.set(POSITION_KEY, seq)
            await pipe.execute()
        self.position = seq
