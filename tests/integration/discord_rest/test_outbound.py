"""The outbound contract, run against the direct, in_process and external modes on the emulator.

The same cases run against the in-memory fake in ``tests/unit/test_discord_fakes.py``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from deploy.emulator.model import Channel
from gateways.discord import Body, DiscordConfig, Outbound
from gateways.discord.metrics import Metrics
from tests.contracts.discord_outbound import OutboundContract
from tests.integration.discord_rest.conftest import (
    CREATE_ROUTE,
    EDIT_ROUTE,
    MakeConfig,
    Stage,
    ops_config,
    outbound_in_mode,
)

pytestmark = pytest.mark.integration

HOUR = 3600.0
CALLS = {"create": CREATE_ROUTE, "edit": EDIT_ROUTE, "open_dm": "POST /users/@me/channels"}


class EmulatorView:
    """The ``DiscordView`` of the emulator's world."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.games = str(stage.games.id)
        self.user = str(stage.members[0].id)
        self._channels: list[Channel] = []

    def new_channel(self) -> str:
        channel = self.stage.guild.text_channel(f"more-{len(self._channels)}")
        self._channels.append(channel)
        return str(channel.id)

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        return self.stage.emu.channel_messages(int(channel_id))

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        return self.stage.emu.inspect.dms(int(user_id))

    def calls(self, what: str) -> int:
        return self.stage.emu.requests.count(CALLS[what])


class TestEveryMode(OutboundContract):
    @pytest.fixture(params=["direct", "in_process", "external"])
    def config(self, request: pytest.FixtureRequest, make_config: MakeConfig) -> DiscordConfig:
        # A channel budget (and emulated limit) of 25 per 5 s: edits 0.2 s apart keep it quick.
        return ops_config(
            make_config,
            outbound=request.param,
            ack_wait=5.0,
            max_attempts=3,
            channel_budget=(25, 5.0),
        )

    @pytest.fixture
    def discord(self, stage: Stage) -> EmulatorView:
        stage.emu.limiter.limits = dataclasses.replace(
            stage.emu.limiter.limits, messages_per_channel=(25, 5.0)
        )
        return EmulatorView(stage)

    @pytest.fixture
    async def outbound(
        self, config: DiscordConfig, redis: Redis, nc: NATS, metrics: Metrics
    ) -> AsyncIterator[Outbound]:
        async with outbound_in_mode(config.outbound, config, redis, nc, metrics) as out:
            yield out

    @pytest.fixture
    async def second_outbound(
        self, outbound: Outbound, config: DiscordConfig, redis_url: str, nc: NATS
    ) -> AsyncIterator[Outbound]:
        """Another process: its own Redis connection, its clock an hour ahead."""
        redis = Redis.from_url(redis_url)
        try:
            async with outbound_in_mode(
                config.outbound, config, redis, nc, Metrics(), worker=False,
                clock=lambda: time.time() + HOUR,
            ) as out:  # fmt: skip
                yield out
        finally:
            await redis.aclose()


async def test_a_burst_of_edits_never_meets_a_429(stage: Stage, redis: Redis, nc: NATS,
                                                  make_config: MakeConfig) -> None:  # fmt: skip
    config = ops_config(make_config, outbound="in_process")
    async with outbound_in_mode("in_process", config, redis, nc, Metrics()) as out:
        sent = await out.send_message(stage.games.id, Body(content="0"))
        assert sent is not None
        for n in range(1, 101):
            await out.edit_message(stage.games.id, sent["id"], Body(content=f"{n}"))
        await out.flush()
    assert [m["content"] for m in stage.emu.channel_messages(stage.games)] == ["100"]
    assert stage.emu.requests.total_429 == 0
