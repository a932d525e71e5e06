"""Fixtures: a running Discord emulator with a guild, Redis and NATS, and client configs."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from deploy.emulator import DiscordEmulator
from deploy.emulator.model import Channel
from deploy.emulator.people import GuildScript, Person
from gateways.discord import DiscordConfig, DiscordRest, Outbound, Worker, open_outbound
from gateways.discord.external import ensure_streams
from gateways.discord.metrics import Metrics

pytestmark = pytest.mark.integration

MEMBER_ROUTE = "GET /guilds/{guild_id}/members/{user_id}"
CREATE_ROUTE = "POST /channels/{channel_id}/messages"
EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"


@dataclass
class Stage:
    emu: DiscordEmulator
    guild: GuildScript
    games: Channel
    members: list[Person]

    @property
    def guild_id(self) -> str:
        return str(self.guild.id)


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    async with DiscordEmulator() as emu:
        guild = emu.people.guild("REST Test Guild")
        games = guild.text_channel("games")
        members = [
            guild.member(f"user{i}", global_name=f"User {i}", nick=f"Nick {i}" if i % 2 else None)
            for i in range(30)
        ]
        yield Stage(emu, guild, games, members)


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    tag = f"test:{uuid.uuid4().hex[:12]}"
    yield tag
    keys = [k async for k in redis.scan_iter(match=f"{tag}:*", count=1000)]
    if keys:
        await redis.delete(*keys)


MakeConfig = Callable[..., DiscordConfig]


@pytest.fixture
def make_config(stage: Stage, prefix: str) -> MakeConfig:
    """A config against the emulator with short backoffs; keyword arguments override."""
    base = DiscordConfig(
        token=stage.emu.bot_token,
        api_base=stage.emu.api_base,
        key_prefix=prefix,
        backoff=(0.1, 0.2, 0.4),
    )

    def make(**changes: object) -> DiscordConfig:
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]

    return make


@pytest.fixture
def metrics() -> Metrics:
    """Metrics in a registry of this test's own."""
    return Metrics()


def ops_config(make_config: MakeConfig, **changes: object) -> DiscordConfig:
    """A config whose work-queue stream and subjects are this test's own."""
    tag = uuid.uuid4().hex[:10]
    return make_config(
        ops_stream=f"TEST_OPS_{tag}",
        ops_prefix=f"t{tag}.ops",
        dead_prefix=f"t{tag}.dead",
        **changes,
    )


async def drop_ops_streams(nc: NATS, config: DiscordConfig) -> None:
    js = nc.jetstream()
    for name in (config.ops_stream, f"{config.ops_stream}_DEAD"):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(name)


@contextlib.asynccontextmanager
async def running_worker(config: DiscordConfig, redis: Redis, nc: NATS) -> AsyncIterator[Worker]:
    """An in-process worker (the subprocess one is tested in test_external_kill)."""
    async with DiscordRest(config, redis, metrics=Metrics()) as rest:
        worker = Worker(rest, nc)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            yield worker
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def outbound_in_mode(
    mode: str,
    config: DiscordConfig,
    redis: Redis,
    nc: NATS,
    metrics: Metrics,
    *,
    worker: bool = True,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Outbound]:
    """An outbound of ``mode`` (``external``: its streams, and a worker unless told not to)."""
    async with contextlib.AsyncExitStack() as stack:
        rest = await stack.enter_async_context(
            DiscordRest(config, redis, metrics=metrics, clock=clock)
        )
        if mode == "external" and worker:
            stack.push_async_callback(drop_ops_streams, nc, config)
            await ensure_streams(nc, config)
            await stack.enter_async_context(running_worker(config, redis, nc))
        out = await open_outbound(rest, nc)
        stack.push_async_callback(out.close)
        yield out
