"""The Discord projection's tests share one world: the emulator, real servers, the read models
and the Discord projector running (``w``; ``read_world`` for a test that starts the projector
itself, a module that needs another start overrides ``w``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from tests.integration.discord_projection.discord_world import World, world


@pytest.fixture
async def read_world(
    nc: NATS, redis: Redis, event_log_env: dict[str, str], database_url: str, read_schema: str
) -> AsyncIterator[World]:
    """The world with the read models running (the Discord projector not yet)."""
    async with world(nc, redis, event_log_env, database_url, read_schema) as running:
        running.start_read_models()
        yield running


@pytest.fixture
async def w(read_world: World) -> World:
    """The world with the read models and the Discord projector running."""
    read_world.start_projector()
    return read_world
