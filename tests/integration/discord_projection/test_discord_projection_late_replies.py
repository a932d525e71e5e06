"""The Discord projection with the work queue behind (finding 4 of the fault run): a reply
later than ``MUSTER_DISCORD_REPLY_TIMEOUT`` is no failure. The projector keeps waiting for it
(counted in its health figures) instead of ending with ``OutboundTimeout`` and re-queueing its
work; the DM is queued once and delivered once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid

import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from domain.commands import LeaveGame
from gateways.discord import DiscordRest, ExternalOutbound
from gateways.discord.external import Worker
from gateways.discord.metrics import Metrics
from tests.integration.discord_projection.discord_world import CREATE_ROUTE, World

pytestmark = pytest.mark.integration


@pytest.fixture
async def w(read_world: World) -> World:
    """The projector is started by each test, with its own outbound."""
    return read_world


async def test_a_late_reply_keeps_the_projector_waiting_instead_of_ending_it(
    w: World, nc: NATS, redis: Redis
) -> None:
    assert w.config is not None
    tag = uuid.uuid4().hex[:10]
    config = dataclasses.replace(
        w.config, outbound="external", reply_timeout=0.05, ops_stream=f"TEST_OPS_{tag}",
        ops_prefix=f"t{tag}.ops", dead_prefix=f"t{tag}.dead",
    )  # fmt: skip
    alice, bob = w.members[:2]
    game_id = await w.create("Root", max_players=1, players=(str(alice.id), str(bob.id)))
    async with DiscordRest(config, redis, metrics=Metrics()) as rest:
        out = await ExternalOutbound(rest, nc).start()
        stop = asyncio.Event()
        worker = asyncio.create_task(Worker(rest, nc).run(stop))
        try:
            projector = w.start_projector(outbound=out)
            await w.settled()  # the announcement, through the worker
            stop.set()
            await worker  # from now on nobody drains the queue
            out.went_late.clear()
            await w.send(LeaveGame(command_id="leave", user_id=str(alice.id), game_id=game_id))
            async with asyncio.timeout(20):  # (before the fix: the projector ended instead)
                await out.went_late.wait()  # the edit or Bob's DM waits past the timeout ...
            assert w.failure() is None  # ... and the projector goes on waiting
            assert projector.figures()["waiting_late"] != 0
            assert w.dms(bob) == []
            stop = asyncio.Event()
            worker = asyncio.create_task(Worker(rest, nc).run(stop))
            await w.settled()
            assert w.failure() is None
            [dm] = w.dms(bob)
            assert dm.startswith("Good news! You're in **Root**")
            assert projector.figures()["late_replies"] != 0
            assert projector.figures()["waiting_late"] == 0
            # the post and the DM, each asked of Discord once: nothing was queued again
            assert w.emu.requests.count(CREATE_ROUTE) == 2
            await w.stop()
        finally:
            stop.set()
            await worker
            await out.close()
            js = nc.jetstream()
            for name in (config.ops_stream, f"{config.ops_stream}_DEAD"):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_stream(name)
