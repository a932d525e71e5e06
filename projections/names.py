"""Display names: PROFILES observations projected into Redis, and a batch resolver.

Keys: ``muster:member:<guild_id>:<user_id>`` → the profile as JSON, with a TTL
(``MUSTER_NAME_TTL``, default one hour). The projector writes each observation and its stream
position (``muster:profiles:position:<stream>``, a hash of the stream's creation time and the
sequence) in one Redis transaction; observations are idempotent (newest wins), so a redelivery
changes nothing. The resolver answers a batch of user ids with one ``MGET``; misses go to an
optional :class:`ProfileSource` (the Discord REST client), and what is still unknown renders as
"Unknown User" and is not cached.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

import msgspec
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
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
    """Follows PROFILES and keeps the Redis keys current.

    The position is stored with the stream's creation time. A ``PROFILES`` stream deleted and
    created again (its sequence starts at 1 again) is a new stream: the projector starts it from
    the beginning, when it starts and when a periodic check (every ``check_every`` seconds) sees
    the change while running.
    """

    def __init__(self, nc: NATS, redis: Redis, ttl: int = DEFAULT_TTL,
                 stream: str = STREAM, prefix: str = PREFIX, *,
                 check_every: float = 30.0) -> None:  # fmt: skip
        self.nc, self.redis, self.ttl = nc, redis, ttl
        self.stream, self.prefix = stream, prefix
        self.check_every = check_every
        self.position_key = f"{POSITION_KEY}:{stream}"
        self.position = 0
        self.created = ""

    async def run(self, stop: asyncio.Event) -> None:
        """Project until ``stop`` is set."""
        await ensure_profiles_stream(self.nc, self.stream, self.prefix)
        while not stop.is_set():
            await self._resume()
            sub = await self._subscribe()
            try:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.check_every)
                    if not stop.is_set() and await self._recreated():
                        break
            finally:
                await sub.unsubscribe()

    async def _identity(self) -> tuple[str, int]:
        """The stream's creation time and last sequence."""
        info = await self.nc.jetstream().stream_info(self.stream)
        created = info.created.isoformat() if info.created is not None else ""
        return created, info.state.last_seq

    async def _resume(self) -> None:
        """Load the stored position, or start over if it belongs to another stream."""
        created, last_seq = await self._identity()
        stored_created, stored_seq = await self.redis.hmget(self.position_key, ["created", "seq"])
        position = int(stored_seq or 0)
        if _text(stored_created) != created or position > last_seq:
            position = 0
            await self.redis.hset(self.position_key, mapping={"created": created, "seq": 0})
        self.position, self.created = position, created

    async def _recreated(self) -> bool:
        try:
            created, last_seq = await self._identity()
        except nats.js.errors.NotFoundError:  # deleted (being created again?): ask again later
            return False
        return created != self.created or self.position > last_seq

    async def _subscribe(self) -> JetStreamContext.PushSubscription:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.position + 1
        )
        return await self.nc.jetstream().subscribe(
            f"{self.prefix}.>", stream=self.stream, cb=self._on_message,
            ordered_consumer=True, config=config, idle_heartbeat=2.0,
        )  # fmt: skip

    async def _on_message(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self.position:
            return
        _, guild_id, user_id = msg.subject.split(".", 2)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(member_key(guild_id, user_id), msg.data, ex=self.ttl)
            pipe.hset(self.position_key, mapping={"created": self.created, "seq": seq})
            await pipe.execute()
        self.position = seq


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
