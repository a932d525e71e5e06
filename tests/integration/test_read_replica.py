"""Queries on a PostgreSQL streaming replica: an embedded primary and a hot standby made with
``pg_basebackup -R`` on loopback. The projector writes to the primary; the container's read pool
(``MUSTER_DATABASE_READ_URL``) reads the replica, and a write is visible there as soon as waiting
for its position returns, because that wait reads the position as the replica has it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.bootstrap import Container
from deploy.embedded_postgres import (
    ensure_database,
    postgres_replica,
    postgres_server,
    superuser_url,
    wait_until_accepting,
)
from deploy.settings import Settings
from domain.commands import CreateGame, JoinGame
from gateways.postgres import connect, migrate
from projections import queries
from projections.freshness import ProjectionBehind, wait_for_position
from projections.replay import MIGRATIONS
from projections.runner import ProjectionRunner
from tests.conftest import drop_log, fresh_log_env
from tests.integration.conftest import layout_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMA = "muster_replica_test"


@pytest.fixture(scope="module")
def primary_and_replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """URLs of an embedded primary and its streaming replica (database ``muster``)."""
    data = Path(tmp_path_factory.mktemp("replicated-pg"))
    primary = postgres_server(data, durable=False)
    replica = None
    try:
        primary.start()
        wait_until_accepting(superuser_url(primary, "postgres"))
        ensure_database(superuser_url(primary, "postgres"), "muster")
        asyncio.run(migrate(superuser_url(primary, "muster"), SCHEMA, MIGRATIONS))
        replica = postgres_replica(primary, durable=False)
        replica.start()
        wait_until_accepting(superuser_url(replica, "muster"))
        yield superuser_url(primary, "muster"), superuser_url(replica, "muster")
    finally:
        if replica is not None:
            replica.stop()
        primary.stop()


async def test_a_write_is_read_back_through_the_replica(
    primary_and_replica: tuple[str, str], nats_url: str, redis_url: str
) -> None:
    primary_url, replica_url = primary_and_replica
    env = fresh_log_env(nats_url)
    settings = Settings(
        database_schema=SCHEMA, database_read_url=replica_url,
        events_stream=env["MUSTER_EVENTS_STREAM"],
        events_subject_prefix=env["MUSTER_EVENTS_SUBJECT_PREFIX"],
    )  # fmt: skip
    urls = {"nats": nats_url, "postgres": primary_url, "redis": redis_url}
    stop = asyncio.Event()
    try:
        async with Container.open(settings, urls) as container:
            pool = await container.read_pool()
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT pg_is_in_recovery()")
                assert await cur.fetchone() == (True,)  # the read pool is on the standby
            created = await container.commands.send(CreateGame(
                command_id="create", user_id="100", permissions=0x20, guild_id="1",
                channel_id="2", title="Replicated", max_players=10,
                scheduled_at=datetime.now(UTC) + timedelta(days=1),
            ))  # fmt: skip
            game = created.game_id
            assert game is not None
            runner = ProjectionRunner(await container.nats(), layout_of(env), primary_url, SCHEMA)
            projecting = asyncio.create_task(runner.run(stop))
            try:
                for n in range(20):  # each write, then at once its read through the replica
                    outcome = await container.commands.send(
                        JoinGame(command_id=f"join-{n}", user_id=str(200 + n), game_id=game)
                    )
                    async with pool.connection() as conn:
                        await wait_for_position(conn, outcome.notification_ids[-1], timeout=10)
                        players = await queries.participants_of(conn, game)
                    assert str(200 + n) in [p.user_id for p in players], n
                await replica_lag_is_waited_out(container, pool, game, primary_url)
            finally:
                stop.set()
                await projecting
    finally:
        await asyncio.to_thread(drop_log, env)


async def replica_lag_is_waited_out(
    container: Container, pool: Any, game: str, primary_url: str
) -> None:
    """With the standby's replay paused, the primary has the write but the replica does not:
    waiting (on the replica) does not return early; once replay resumes it does, and the
    query through the replica then shows the write."""
    async with pool.connection() as conn:
        await conn.execute("SELECT pg_wal_replay_pause()")
    try:
        outcome = await container.commands.send(
            JoinGame(command_id="join-lagging", user_id="999", game_id=game)
        )
        position = outcome.notification_ids[-1]
        primary = await connect(primary_url, SCHEMA)
        try:
            await wait_for_position(primary, position, timeout=10)  # the primary has it
        finally:
            await primary.close()
        async with pool.connection() as conn:
            with pytest.raises(ProjectionBehind):
                await wait_for_position(conn, position, timeout=0.5)
            players = await queries.participants_of(conn, game)
            assert "999" not in [p.user_id for p in players]  # the replica is really behind
    finally:
        async with pool.connection() as conn:
            await conn.execute("SELECT pg_wal_replay_resume()")
    async with pool.connection() as conn:
        await wait_for_position(conn, position, timeout=10)
        players = await queries.participants_of(conn, game)
    assert "999" in [p.user_id for p in players]


def test_doctor_shows_the_replica_and_how_far_behind_it_is(
    primary_and_replica: tuple[str, str],
) -> None:
    from deploy.doctor import check_read_replica

    primary_url, replica_url = primary_and_replica
    settings = Settings(
        database_url=primary_url, database_read_url=replica_url, database_schema=SCHEMA
    )
    check = check_read_replica(settings)
    assert check.problem == ""
    assert "streaming replica" in check.detail
    assert "log position(s) behind the primary" in check.detail
    assert "none configured" in check_read_replica(Settings()).detail
