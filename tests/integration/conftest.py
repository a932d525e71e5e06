"""Fixtures for tests that need the read models: a fresh schema and a way to project into it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import psycopg
import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from gateways.jetstream.layout import Layout
from gateways.postgres import migrate
from projections.replay import MIGRATIONS, rebuild_and_compare
from projections.runner import Progress, ProjectionRunner


@pytest.fixture
def read_schema(database_url: str) -> Iterator[str]:
    """A freshly migrated, empty read-model schema, dropped after the test."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(migrate(database_url, schema, MIGRATIONS))
    yield schema
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = %s OR nspname LIKE %s",
            (schema, f"{schema}_rebuild_%"),
        ).fetchall()
        for (name,) in rows:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def layout_of(env: dict[str, str]) -> Layout:
    return Layout(env["MUSTER_EVENTS_STREAM"], env["MUSTER_EVENTS_SUBJECT_PREFIX"])


async def project_until(
    nc: NATS, env: dict[str, str], database_url: str, schema: str, position: int
) -> Progress:
    """Run the read-model projector into ``schema`` until it has applied ``position``."""
    runner = ProjectionRunner(nc, layout_of(env), database_url, schema)
    return await asyncio.wait_for(runner.run(asyncio.Event(), until=position), 30)


def assert_replay_equals_live(
    nats_url: str, layout: Layout, database_url: str, schema: str, last: int, **options: Any
) -> None:
    """A replay of the whole log (``last`` events) equals the live read models in ``schema``,
    whose timeline holds every event once: none lost, none doubled."""

    async def replay() -> list[object]:
        nc = await nats.connect(nats_url.split(","))
        try:
            _, progress, differences = await rebuild_and_compare(
                nc, layout, database_url, schema, **options
            )
        finally:
            await nc.close()
        assert progress.applied == last
        return list(differences)

    assert asyncio.run(replay()) == []
    with psycopg.connect(database_url) as conn:
        timeline = conn.execute(f'SELECT count(*) FROM "{schema}".timeline').fetchone()
    assert timeline == (last,)
