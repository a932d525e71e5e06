"""The display-name projector starts over on a PROFILES stream deleted and created again."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from gateways.profiles import Profile, ensure_profiles_stream, publish_profile
from projections.names import DisplayNames, NameProjector
from tests.integration.discord_rest.test_timing import eventually

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def projecting(projector: NameProjector) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def recreate(nc: NATS, stream: str, prefix: str) -> None:
    await nc.jetstream().delete_stream(stream)
    await ensure_profiles_stream(nc, stream, prefix)


async def test_a_recreated_stream_is_projected_from_its_start(redis: Redis, nc: NATS) -> None:
    tag = uuid.uuid4().hex[:10]
    stream, prefix, guild = f"TEST_PROFILES_{tag}", f"tprof{tag}", f"g{tag}"
    names = DisplayNames(redis)

    async def shown(user: str, name: str) -> bool:
        return (await names.resolve(guild, [user]))[user] == name

    checks = 0

    class Counting(NameProjector):
        async def _recreated(self) -> bool:
            nonlocal checks
            checks += 1
            return await super()._recreated()

    def projector() -> NameProjector:
        return Counting(nc, redis, stream=stream, prefix=prefix, check_every=0.05)

    async def checked_since(seen: int) -> bool:
        return checks >= seen + 3

    await ensure_profiles_stream(nc, stream, prefix)
    try:
        for user in ("1", "2", "3"):
            await publish_profile(nc, guild, user, Profile(username=f"old{user}"), prefix)
        async with projecting(projector()):
            await eventually(lambda: shown("3", "old3"))
        # Recreated while no projector runs: the next one starts from sequence 1.
        await recreate(nc, stream, prefix)
        await publish_profile(nc, guild, "4", Profile(username="new4"), prefix)
        async with projecting(projector()):
            await eventually(lambda: shown("4", "new4"))
            # Recreated while it runs: it notices and starts over. Deleted a while first: its
            # checks find no stream meanwhile, and it must outlive them.
            await nc.jetstream().delete_stream(stream)
            seen = checks
            await eventually(lambda: checked_since(seen))
            await ensure_profiles_stream(nc, stream, prefix)
            await publish_profile(nc, guild, "5", Profile(username="new5"), prefix)
            await eventually(lambda: shown("5", "new5"))
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream)
        await redis.delete(*(f"muster:member:{guild}:{u}" for u in "12345"))
        await redis.delete(f"muster:profiles:position:{stream}")
