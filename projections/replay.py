"""Rebuild the read models from the log into a fresh schema, and compare with the live one.

The rebuild runs the same projection code into ``<live>_rebuild_<timestamp>`` up to the live
projection's position, then compares every table while holding the live position row (so the
live projector cannot commit in between). With N partitioned live workers the rebuild runs N
worker processes in parallel (:mod:`projections.rebuild_workers`), each up to its live
counterpart's position; with a different count, up to the one position all live workers share.
Columns that legitimately differ between two runs
(timestamps of the projection itself, the projector's private state blob) are left out.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from nats.aio.client import Client as NATS
from psycopg import sql

from gateways.jetstream.layout import Layout
from gateways.postgres import checked_schema, connect, migrate
from projections.partitions import Partition, layout_rows, partitions_of
from projections.rebuild_workers import FILL
from projections.runner import Progress, ProjectionRunner, stored_position

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

COMPARED: dict[str, tuple[str, ...]] = {
    "games": (
        "game_id", "guild_id", "channel_id", "host_id", "title", "description", "category",
        "duration_minutes", "details", "scheduled_at", "status", "joined_count",
        "waitlist_count", "announcement_channel_id", "announcement_message_id", "created_at",
        "updated_at", "version", "position",
    ),
    "participants": ("game_id", "kind", "ordinal", "user_id", "placeholder_id", "label"),
    "reminders": ("game_id", "offset_minutes", "user_id", "status"),
    "guild_settings": ("guild_id", "settings", "updated_at", "position"),
    "channel_settings": ("channel_id", "guild_id", "settings", "updated_at", "position"),
    "timeline": (
        "position", "aggregate_id", "version", "type", "occurred_at", "actor_id", "command_id",
        "msg_id", "body",
    ),
    "parked_events": ("projector", "position", "subject", "type"),
}  # fmt: skip


@dataclass
class Difference:
    """Rows of one table found on one side only (a sample of them)."""

    table: str
    only_in: str
    count: int
    sample: list[tuple[Any, ...]] = field(default_factory=list)


async def compare(
    conn: psycopg.AsyncConnection[Any],
    live: str,
    rebuilt: str,
    tables: dict[str, tuple[str, ...]] = COMPARED,
) -> list[Difference]:
    """Every table's rows present on one side only, both ways."""
    found = []
    for table, columns in tables.items():
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        for left, right in ((live, rebuilt), (rebuilt, live)):
            query = sql.SQL(
                "SELECT {cols} FROM {l}.{t} EXCEPT ALL SELECT {cols} FROM {r}.{t}"
            ).format(
                cols=cols, l=sql.Identifier(left), r=sql.Identifier(right), t=sql.Identifier(table)
            )
            cur = await conn.execute(query)
            rows = await cur.fetchall()
            if rows:
                found.append(Difference(table, left, len(rows), [tuple(r) for r in rows[:5]]))
    return found


async def rebuild_and_compare(
    nc: NATS,
    layout: Layout,
    database_url: str,
    live: str,
    *,
    on_batch: Callable[..., None] | None = None,
    name: str = "read_models",
    partitions: int | None = None,
    nats_url: str | None = None,
) -> tuple[str, Progress, list[Difference]]:
    """Rebuild into a new schema up to the live position; return it, the progress, differences.

    ``partitions`` workers (default: as many as the live projection has) rebuild in parallel
    processes, which connect to ``nats_url`` (default: the URL ``nc`` connected to)."""
    rebuilt = checked_schema(f"{live}_rebuild_{time.strftime('%Y%m%d%H%M%S')}")
    await migrate(database_url, rebuilt, MIGRATIONS)
    conn = await connect(database_url, live)
    try:
        live_count = max(partitions_of(await layout_rows(conn, name), name), 1)
    finally:
        await conn.close()
    partitions = partitions or live_count
    if partitions > 1 or live_count > 1:
        url = nats_url or (nc.connected_url.geturl() if nc.connected_url else "")
        count = partitions

        async def bulk(target: int) -> None:
            from projections.rebuild_workers import WorkerJob, run_workers

            jobs = [
                WorkerJob(
                    url, layout.stream, layout.prefix, database_url, rebuilt, k, count, target
                )
                for k in range(count)
            ]
            report = functools.partial(on_batch, target=target) if on_batch else None
            bulk_done.append((await run_workers(jobs, report))[0])

        bulk_done: list[Progress] = []
        await _bulk_catch_up(database_url, live, rebuilt, name, bulk)
        progress, differences = await parallel_catch_up_and_compare(
            url, layout, database_url, live, rebuilt, count=partitions, name=name, on_batch=on_batch
        )
        for done in bulk_done:
            progress.applied += done.applied
            progress.parked += done.parked
            progress.duplicates += done.duplicates
        return rebuilt, progress, differences
    runner = ProjectionRunner(nc, layout, database_url, rebuilt, fill=FILL)

    async def bulk_single(target: int) -> None:
        report = functools.partial(on_batch, target=target) if on_batch else None
        await runner.run(asyncio.Event(), until=target, on_batch=report)

    await _bulk_catch_up(database_url, live, rebuilt, name, bulk_single)
    progress, differences = await catch_up_and_compare(
        runner, database_url, live, rebuilt, name=name, on_batch=on_batch
    )
    return rebuilt, progress, differences


async def _bulk_catch_up(
    database_url: str, live: str, rebuilt: str, name: str, run: Callable[[int], Any]
) -> None:
    """The first, long part of a rebuild: up to where the live projection is now, into the
    fresh schema without its secondary indexes, which are built once at the end (cheaper
    than keeping them up to date row by row)."""
    conn = await connect(database_url, live)
    try:
        target = min((await layout_rows(conn, name)).values(), default=0)  # every worker's
    finally:
        await conn.close()
    if target == 0:
        return
    indexes = await drop_secondary_indexes(database_url, rebuilt)
    try:
        await run(target)
    finally:
        await create_indexes(database_url, indexes)


SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = %s AND NOT EXISTS (
    SELECT 1 FROM pg_constraint c
    JOIN pg_class x ON x.oid = c.conindid JOIN pg_namespace n ON n.oid = x.relnamespace
    WHERE n.nspname = i.schemaname AND x.relname = i.indexname
)
ORDER BY i.indexname
"""


async def drop_secondary_indexes(database_url: str, schema: str) -> list[str]:
    """Drop a fresh schema's indexes that back no constraint (a rebuild only needs the keys and
    the unique ``msg_id``); returns the statements that create them again."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(SECONDARY_INDEXES, (schema,))
        found = await cur.fetchall()
        for name, _ in found:
            await conn.execute(
                sql.SQL("DROP INDEX {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
            )
    return [definition for _, definition in found]


async def create_indexes(database_url: str, statements: list[str]) -> None:
    """Build indexes (the statements :func:`drop_secondary_indexes` returned)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for statement in statements:
            await conn.execute(statement)


async def vacuum_analyze(database_url: str, schema: str) -> None:
    """``VACUUM (ANALYZE)`` every table of a rebuilt schema before it goes live: the planner
    gets statistics at once (a freshly loaded table has none until autovacuum gets to it,
    within minutes), and the rows' visibility is settled now rather than by an autovacuum pass
    over millions of new rows competing with the live load later."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
        )
        tables = [sql.Identifier(schema, name) for (name,) in await cur.fetchall()]
        if tables:
            await conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.SQL(", ").join(tables)))


def targets_for(live_rows: dict[str, int], name: str, count: int) -> dict[int, int] | None:
    """Where each of ``count`` rebuilding workers must stop to equal the live projection: its
    live counterpart's position, or (another count) the position all live workers share;
    ``None`` when they share none right now."""
    if partitions_of(live_rows, name) == count:
        return {p.index: live_rows[p.row(name)] for p in Partition.all(count)}
    positions = set(live_rows.values()) or {0}
    if len(positions) > 1:
        return None
    return dict.fromkeys(range(count), positions.pop())


async def parallel_catch_up_and_compare(
    nats_url: str,
    layout: Layout,
    database_url: str,
    live: str,
    rebuilt: str,
    *,
    count: int,
    name: str = "read_models",
    tables: dict[str, tuple[str, ...]] = COMPARED,
    on_batch: Callable[..., None] | None = None,
) -> tuple[Progress, list[Difference]]:
    """:func:`catch_up_and_compare` with ``count`` worker processes."""
    from projections.rebuild_workers import WorkerJob, run_workers

    conn = await connect(database_url, live)
    progress = Progress()
    try:
        while True:
            targets = targets_for(await layout_rows(conn, name), name, count)
            await conn.rollback()
            if targets is None:  # the live workers are at different places: let them settle
                await asyncio.sleep(0.2)
                continue
            jobs = [
                WorkerJob(nats_url, layout.stream, layout.prefix, database_url, rebuilt, index,
                          count, until)
                for index, until in targets.items()
            ]  # fmt: skip
            target = max(targets.values())
            report = functools.partial(on_batch, target=target) if on_batch else None
            done, _ = await run_workers(jobs, report)
            progress = Progress(
                position=done.position, applied=progress.applied + done.applied,
                parked=progress.parked + done.parked,
                duplicates=progress.duplicates + done.duplicates,
            )  # fmt: skip
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT name, position FROM projector_position "
                    "WHERE name = %s OR starts_with(name, %s) FOR SHARE",
                    (name, f"{name}/"),
                )
                held = {row[0]: int(row[1]) for row in await cur.fetchall()}
                if targets_for(held, name, count) == targets:
                    return progress, await compare(conn, live, rebuilt, tables)
    finally:
        await conn.close()


async def catch_up_and_compare(
    runner: ProjectionRunner,
    database_url: str,
    live: str,
    rebuilt: str,
    *,
    name: str,
    tables: dict[str, tuple[str, ...]] = COMPARED,
    on_batch: Callable[..., None] | None = None,
) -> tuple[Progress, list[Difference]]:
    """Run ``runner`` (projecting into ``rebuilt``) up to the live projection ``name``'s
    position, then compare ``tables`` while holding that position still (``FOR SHARE``)."""
    conn = await connect(database_url, live)
    try:
        while True:
            target = await stored_position(conn, name)
            await conn.rollback()
            if runner.progress.position < target:
                report = functools.partial(on_batch, target=target) if on_batch else None
                await runner.run(asyncio.Event(), until=target, on_batch=report)
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT position FROM projector_position WHERE name = %s FOR SHARE", (name,)
                )
                row = await cur.fetchone()
                if (int(row[0]) if row else 0) == runner.progress.position:
                    return runner.progress, await compare(conn, live, rebuilt, tables)
    finally:
        await conn.close()


async def swap(database_url: str, live: str, rebuilt: str, name: str = "read_models") -> str:
    """Make ``rebuilt`` the live schema; the old one is kept as ``<live>_old_<timestamp>``.

    Refuses at once while a projector holds the live schema (stop it first); otherwise, holding
    the projectors' locks, vacuums and analyses ``rebuilt`` (:func:`vacuum_analyze`), then
    renames both schemas in one transaction.
    """
    old = checked_schema(f"{live}_old_{time.strftime('%Y%m%d%H%M%S')}")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(live)))
        workers = sorted(await layout_rows(conn, name)) or [name]
        if name not in workers:
            workers.append(name)  # a single worker's lock too
        for worker in workers:
            cur = await conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (f"{live}:{worker}",)
            )
            row = await cur.fetchone()
            if not row or not row[0]:
                raise RuntimeError(f"a projector is running on schema {live}; stop it, then swap")
        try:
            await vacuum_analyze(database_url, rebuilt)
            async with conn.transaction():
                await conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(live), sql.Identifier(old)))  # fmt: skip
                await conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(rebuilt), sql.Identifier(live)))  # fmt: skip
        finally:
            await conn.execute("SELECT pg_advisory_unlock_all()")
    return old


async def drop_schema(database_url: str, schema: str) -> None:
    """Remove a rebuilt schema that is not needed any more."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(checked_schema(schema))
            )
        )
