"""The display-name fallback: DisplayNames asks the REST client once for all Redis misses."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence

import msgspec
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from gateways.discord import DiscordRest
from gateways.discord.metrics import Metrics
from gateways.profiles import Profile, ensure_profiles_stream
from projections.names import UNKNOWN, DisplayNames
from tests.integration.discord_rest.conftest import MEMBER_ROUTE, MakeConfig, Stage

pytestmark = pytest.mark.integration


class CountingSource:
    """The REST client, counting how often the resolver asks it."""

    def __init__(self, rest: DiscordRest) -> None:
        self.rest, self.calls = rest, 0

    async def fetch_profiles(self, guild_id: str, user_ids: Sequence[str]) -> dict[str, Profile]:
        self.calls += 1
        return await self.rest.fetch_profiles(guild_id, user_ids)


async def observations(nc: NATS, stream: str, prefix: str) -> dict[str, Profile]:
    sub = await nc.jetstream().pull_subscribe(f"{prefix}.>", stream=stream)
    try:
        msgs = await sub.fetch(100, timeout=2)
    finally:
        await sub.unsubscribe()
    return {m.subject: msgspec.json.decode(m.data, type=Profile) for m in msgs}


async def test_misses_resolve_with_one_batch_call_and_are_published(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"TEST_PROFILES_{tag}", f"tprof{tag}"
    await ensure_profiles_stream(nc, stream, prefix)
    config = make_config(profiles_prefix=prefix)
    ids = [str(stage.members[i].id) for i in (0, 1, 2)]
    try:
        async with DiscordRest(config, redis, nc, metrics=Metrics()) as rest:
            source = CountingSource(rest)
            names = DisplayNames(redis, source=source)
            resolved = await names.resolve(stage.guild_id, [*ids, "4242"])
            again = await names.resolve(stage.guild_id, ids)
        assert resolved == {
            ids[0]: "User 0",  # no nick: global name
            ids[1]: "Nick 1",
            ids[2]: "User 2",
            "4242": UNKNOWN,
        }
        assert again == {k: v for k, v in resolved.items() if k in ids}
        assert source.calls == 2  # one per resolve, for all of its misses
        assert stage.emu.requests.count(MEMBER_ROUTE) == 4  # the second resolve hit the cache
        seen = await observations(nc, stream, prefix)
        assert seen == {
            f"{prefix}.{stage.guild_id}.{ids[0]}": Profile(username="user0", global_name="User 0"),
            f"{prefix}.{stage.guild_id}.{ids[1]}": Profile(
                username="user1", global_name="User 1", nick="Nick 1"
            ),
            f"{prefix}.{stage.guild_id}.{ids[2]}": Profile(username="user2", global_name="User 2"),
        }
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream)
