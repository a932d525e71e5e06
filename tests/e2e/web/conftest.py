"""The web stack with the bot for browser tests: a member can click Join in the emulated
Discord."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateways.postgres import migrate
from projections.replay import MIGRATIONS
from tests.conftest import drop_log, fresh_log_env
from tests.integration.api.conftest import _close_clients
from tests.integration.api.harness import WebStack

__all__ = ["_close_clients"]


@pytest.fixture(scope="module")
def web_stack(
    nats_url: str, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebStack]:
    env = fresh_log_env(nats_url)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(migrate(database_url, schema, MIGRATIONS))
    urls = {"nats": nats_url, "postgres": database_url, "redis": redis_url}
    try:
        data = Path(tmp_path_factory.mktemp("web"))
        with WebStack(urls, env, schema, data, bot=True) as stack:
            yield stack
    finally:
        drop_log(env)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
