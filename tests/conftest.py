"""Shared fixtures: one set of servers per test session.

With ``MUSTER_NATS_URL``, ``MUSTER_DATABASE_URL`` and ``MUSTER_REDIS_URL`` set, tests use those
servers (CI runs the integration tests a second time against the machine's own); any that is
unset is started embedded on a free port for the session and stopped at its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from deploy.stack import LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The servers for this session: configured ones, or embedded ones started here."""
    local = LocalStack(
        data_dir=Path(tmp_path_factory.mktemp("stack")),
        nats_url=os.environ.get("MUSTER_NATS_URL") or None,
        database_url=os.environ.get("MUSTER_DATABASE_URL") or None,
        redis_url=os.environ.get("MUSTER_REDIS_URL") or None,
        durable=False,
    )
    with local:
        yield local


@pytest.fixture(scope="session")
def nats_url(stack: LocalStack) -> str:
    """URL of a NATS server with JetStream."""
    return stack.url("nats")


@pytest.fixture(scope="session")
def database_url(stack: LocalStack) -> str:
    """URL of a PostgreSQL database tests may create schemas in."""
    return stack.url("postgres")


@pytest.fixture(scope="session")
def redis_url(stack: LocalStack) -> str:
    """URL of a Redis server."""
    return stack.url("redis")


def fresh_log_env(nats_url: str) -> dict[str, str]:
    """Settings for an empty event log of its own: a new stream and subject prefix."""
    tag = uuid.uuid4().hex[:12]
    return {
        "PERSISTENCE_MODULE": "gateways.jetstream",
        "MUSTER_NATS_URL": nats_url,
        "MUSTER_EVENTS_STREAM": f"TEST_{tag}",
        "MUSTER_EVENTS_SUBJECT_PREFIX": f"t{tag}",
    }


def drop_log(env: dict[str, str]) -> None:
    """Delete a test's stream (and its snapshots stream), so shared servers stay clean."""

    async def drop() -> None:
        nc = await nats.connect(env["MUSTER_NATS_URL"], connect_timeout=2)
        try:
            js = nc.jetstream()
            for name in (env["MUSTER_EVENTS_STREAM"], env["MUSTER_EVENTS_STREAM"] + "_SNAPSHOTS"):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_stream(name)
        finally:
            await nc.close()

    asyncio.run(drop())


@pytest.fixture
def event_log_env(nats_url: str) -> Iterator[dict[str, str]]:
    """eventsourcing env for an application whose log is a fresh, empty JetStream stream."""
    env = fresh_log_env(nats_url)
    yield env
    drop_log(env)
