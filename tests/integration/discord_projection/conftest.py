"""The Discord projection's tests share one world: the emulator, real servers, the read models
and the Discord projector running (a module that needs another start overrides ``w``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from tests.integration.discord_projection.discord_world import World, world


@pytest.fixture
async def w(
    nc: NATS, redis: Redis, event_log_env: dict[str, str], database_url: str, read_schema: str
) -> AsyncIterator[World]:
    async with world(nc, redis, event_log_env, database_url, read_schema) as running:
        running.start_read_models()
        running.start_projector()
        yield running
