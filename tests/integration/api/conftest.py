"""One web stack per test module (starting it costs about a second)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateways.postgres import migrate
from projections.replay import MIGRATIONS
from tests.conftest import drop_log, fresh_log_env
from tests.integration.api.harness import WebStack


@contextlib.contextmanager
def fresh_web_stack(urls: dict[str, str], data: Path, *, bot: bool = False) -> Iterator[WebStack]:
    """A web stack on its own log and read-model schema, both dropped after."""
    env = fresh_log_env(urls["nats"])
    schema = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(migrate(urls["postgres"], schema, MIGRATIONS))
    try:
        with WebStack(urls, env, schema, data, bot=bot) as stack:
            yield stack
    finally:
        drop_log(env)
        with psycopg.connect(urls["postgres"], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module")
def web_stack(
    nats_url: str, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebStack]:
    urls = {"nats": nats_url, "postgres": database_url, "redis": redis_url}
    with fresh_web_stack(urls, Path(tmp_path_factory.mktemp("web"))) as stack:
        yield stack


@pytest.fixture(autouse=True)
def _close_clients(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "web_stack" in request.fixturenames:
        request.getfixturevalue("web_stack").close_clients()
