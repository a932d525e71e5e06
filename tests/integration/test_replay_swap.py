"""``muster replay --swap``: the rebuilt schema goes live vacuumed and analysed, so the planner
has statistics for it from the first query (a freshly loaded table has none until autovacuum
reaches it)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from nats.aio.client import Client as NATS

from deploy.projector_cmd import run_replay
from deploy.settings import Settings
from gateways.postgres import migrate
from projections.replay import MIGRATIONS, drop_schema, swap
from projections.runner import ProjectionRunner
from tests.integration.conftest import layout_of
from tests.integration.test_rebuild_bulk import mixed_log

pytestmark = [pytest.mark.integration]


async def test_swap_makes_live_a_vacuumed_and_analysed_schema(
    event_log_env: dict[str, str],
    database_url: str,
    read_schema: str,
    nc: NATS,
    capsys: pytest.CaptureFixture[str],
) -> None:
    last = await asyncio.to_thread(mixed_log, event_log_env, 60)
    live = ProjectionRunner(nc, layout_of(event_log_env), database_url, read_schema)
    await asyncio.wait_for(live.run(asyncio.Event(), until=last), 60)
    settings = Settings(
        events_stream=event_log_env["MUSTER_EVENTS_STREAM"],
        events_subject_prefix=event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        database_schema=read_schema,
    )
    urls = {"nats": event_log_env["MUSTER_NATS_URL"], "postgres": database_url}

    code = await run_replay(settings, urls, make_live=True)

    out = capsys.readouterr().out
    assert code == 0, out
    assert "vacuuming and analysing the rebuilt tables, then swapping… done in" in out
    old = out.split("the old one is ")[1].split()[0]
    try:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cur = await conn.execute(
                "SELECT relname, last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE schemaname = %s ORDER BY relname",
                (read_schema,),
            )
            tables = await cur.fetchall()
        names = {name for name, _, _ in tables}
        assert {"games", "participants", "reminders", "timeline"} <= names
        assert [name for name, vacuumed, analysed in tables if not (vacuumed and analysed)] == []
    finally:
        await drop_schema(database_url, old)


async def vacuumed(database_url: str, schema: str) -> list[str]:
    """The tables of ``schema`` that a (manual) VACUUM has been through."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s "
            "AND last_vacuum IS NOT NULL ORDER BY relname",
            (schema,),
        )
        return [name for (name,) in await cur.fetchall()]


async def test_swap_refuses_at_once_while_a_projector_holds_the_live_schema(
    database_url: str, read_schema: str
) -> None:
    rebuilt = f"{read_schema}_rebuild_1"
    await migrate(database_url, rebuilt, MIGRATIONS)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as projector:
        # the lock a single-partition projector holds while it runs on the live schema
        await projector.execute(
            "SELECT pg_advisory_lock(hashtext(%s))", (f"{read_schema}:read_models",)
        )
        with pytest.raises(RuntimeError, match="a projector is running"):
            await swap(database_url, read_schema, rebuilt)
    assert await vacuumed(database_url, rebuilt) == []  # refused before any work

    old = await swap(database_url, read_schema, rebuilt)  # the projector has stopped
    try:
        assert "timeline" in await vacuumed(database_url, read_schema)
    finally:
        await drop_schema(database_url, old)
