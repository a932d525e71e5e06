"""Runs a projection: log batches in, one PostgreSQL transaction per batch, position included.

The projection's rows and its position (``projector_position``) commit together, so a crash,
a redelivery or a restart can neither apply an event twice nor skip one: on start the feed
resumes at the committed position. One runner per projection and schema at a time (an advisory
lock); a second one waits for the first to stop.

A batch that fails in PostgreSQL is rolled back and retried with backoff; if it keeps failing,
its events are applied one per transaction, so only the failing event is parked. An error of the
database itself (:data:`TRANSIENT`: a full disk, a shutdown, a lost connection) parks nothing: it
ends the run, and the supervisor restarts it from the stored position.

With ``partition`` (worker K of N, :mod:`projections.partitions`) the runner folds only the
aggregates it owns; it still reads every event, so its position advances over the others' and
the log's contiguous sequences keep detecting gaps.

Once its feed is started, a runner settles the process heap (:mod:`gateways.heap`): a full
garbage collection of the start-up heap would hold every event back while it runs (45 to 85 ms
in a worker of ``tests/bench/projections.py``). A small batch, and a position alone, is applied
in pipeline mode (:meth:`ReadModels.pipelines`): two round trips to PostgreSQL instead of about
fifteen, which took a four-worker projector's lag p99 at 500 events/s from 21-40 ms to 5-8 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import psycopg
from nats.aio.client import Client as NATS

from gateways.heap import settle_heap
from gateways.jetstream.layout import Layout
from gateways.jetstream.wire import Wire
from gateways.postgres import connect
from projections.feed import LogFeed, LogMessage, game_uuid, log_message
from projections.partitions import Partition, claim_layout, layout_rows, partition_of
from projections.read_model_sql import write_batch
from projections.read_models import BatchResult, Parked, ReadModels

log = logging.getLogger(__name__)

BATCH_RETRIES = 3
# Errors of the database rather than of an event: waited out, never a reason to park.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)
POSITION_EVERY = 0.02  # seconds: how often a worker commits a position over others' events only
UPSERT_POSITION = """
INSERT INTO projector_position (name, position, updated_at) VALUES (%s, %s, now())
ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
"""


class ProjectorRunning(RuntimeError):
    """Another runner holds the projection (tools that must run alone refuse)."""


@dataclass
class Progress:
    """What a runner has done so far (for progress bars and tests)."""

    position: int = 0
    applied: int = 0
    parked: int = 0
    duplicates: int = 0
    batches: int = 0


async def stored_position(conn: psycopg.AsyncConnection[Any], name: str) -> int:
    """The last stream sequence a projection committed (0 when it never ran)."""
    cur = await conn.execute("SELECT position FROM projector_position WHERE name = %s", (name,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def hold_projector_lock(
    conn: psycopg.AsyncConnection[Any], schema: str, name: str, stop: asyncio.Event | None = None
) -> bool:
    """Take the one-runner-per-projection lock on ``conn``; wait for it unless ``stop`` is set.

    Without ``stop`` it does not wait: returns False when another runner holds it.
    """
    await conn.set_autocommit(True)
    while True:
        cur = await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (f"{schema}:{name}",))
        row = await cur.fetchone()
        if row and row[0]:
            return True
        if stop is None or stop.is_set():
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


class ProjectionRunner:
    """Feeds one projection from the log, batch by batch."""

    def __init__(
        self,
        nc: NATS,
        layout: Layout,
        database_url: str,
        schema: str,
        *,
        projection: ReadModels | None = None,
        max_batch: int = 20_000,
        partition: Partition | None = None,
        fill: int = 0,
    ) -> None:
        self.nc = nc
        self.layout = layout
        self.database_url = database_url
        self.schema = schema
        self.projection = projection or ReadModels()
        self.max_batch = max_batch
        self.partition = partition or Partition()
        # Wait for this many events before a transaction (a rebuild: nothing reads its rows
        # until it is done, and each transaction rewrites every game it touches).
        self.fill = fill
        self.row = self.partition.row(self.projection.name)
        self.recheck_until = 0  # events up to here may be applied already (after a repartition)
        self._pending = 0  # a position over others' events only, not committed yet
        self._committed_at = 0.0
        self.progress = Progress()

    async def run(
        self,
        stop: asyncio.Event,
        until: int | None = None,
        on_batch: Callable[[Progress], None] | None = None,
    ) -> Progress:
        """Project until ``stop`` is set (or position ``until`` is reached)."""
        async with AsyncExitStack() as cleanup:
            lock = await connect(self.database_url, self.schema)
            cleanup.push_async_callback(lock.close)
            if not await hold_projector_lock(lock, self.schema, self.row, stop):
                return self.progress  # stopped while another runner held the lock
            conn = await connect(self.database_url, self.schema)
            cleanup.push_async_callback(conn.close)
            # A read model can always be rebuilt from the log, and rows and position commit (or
            # are lost) together, so waiting for each commit's fsync buys nothing but latency.
            await conn.execute("SET synchronous_commit = off")
            await conn.commit()
            if not await self._claim(conn, stop):
                return self.progress
            feed = LogFeed(self.nc, self.layout, self.progress.position, self.max_batch)
            cleanup.push_async_callback(feed.stop)
            await feed.start()
            settle_heap()  # a full collection would hold every event back while it walks
            while not stop.is_set() and (until is None or self.progress.position < until):
                batch = await feed.next_batch(timeout=POSITION_EVERY if self._pending else 0.2)
                while batch and len(batch) < self.fill and (until is None or batch[-1].seq < until):
                    more = await feed.next_batch(timeout=0.2)
                    if not more:
                        break
                    batch += more
                if until is not None:
                    batch = [m for m in batch if m.seq <= until]
                committed = await self._commit(conn, batch) if batch else False
                if self._pending and (
                    not batch or time.monotonic() - self._committed_at >= POSITION_EVERY
                ):
                    committed = await self._flush(conn)
                if committed and on_batch:
                    on_batch(self.progress)
            if self._pending:
                await self._flush(conn)
        return self.progress

    async def _claim(self, conn: psycopg.AsyncConnection[Any], stop: asyncio.Event) -> bool:
        """Take this worker's place in the stored layout (waiting while a worker of another
        layout still runs); False when stopped first."""
        said = False
        while True:
            start = await claim_layout(conn, self.schema, self.projection.name, self.partition)
            if start is not None:
                self.progress.position = start.position
                self.recheck_until = start.recheck_until
                return True
            if not said:
                log.warning(
                    "%s waits: workers of another partition count still run on schema %s",
                    self.row, self.schema,
                )  # fmt: skip
                said = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if stop.is_set():
                return False

    async def _commit(self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage]) -> bool:
        """Apply a batch with its position; False when only a position over others' events
        was noted, to be committed within :data:`POSITION_EVERY` (fewer transactions for
        partitioned workers; their own events are never held back)."""
        position = batch[-1].seq
        if self.partition.count > 1:
            batch = [m for m in batch if self.partition.owns(m.aggregate_id)]
            if not batch:  # nothing of ours: only the position moves, soon
                self._pending = position
                return False
        for attempt in range(BATCH_RETRIES):
            try:
                result = await self._apply(conn, batch, position)
            except psycopg.Error as error:
                self.projection.forget_touched()
                log.warning("batch ending at %s failed (%s); retrying", position, error)
                await asyncio.sleep(0.1 * 2**attempt)
                continue
            self._count(result, position)
            return True
        for message in batch:  # isolate the failing event: one transaction each
            try:
                result = await self._apply(conn, [message], message.seq)
            except TRANSIENT:
                # The database refused, not the event (a full disk, a shutdown, a lost
                # connection): nothing is parked; the service restarts with backoff and
                # resumes from its stored position.
                self.projection.forget_touched()
                raise
            except psycopg.Error as error:
                self.projection.forget_touched()
                result = BatchResult(parked=[Parked(message, f"{type(error).__name__}: {error}")])
                await self._park_only(conn, message, result)
            self._count(result, message.seq)
        if self.progress.position < position:  # others' events after our last one
            await self._apply(conn, [], position)
            self._count(BatchResult(), position)
        return True

    async def _flush(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Commit the position noted over others' events."""
        position, self._pending = self._pending, 0
        if position <= self.progress.position:
            return False
        await self._apply(conn, [], position)
        self._count(BatchResult(), position)
        return True

    async def _apply(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage], position: int
    ) -> BatchResult:
        # A small batch (or a position alone) goes in pipeline mode: its statements and the
        # commit are sent without waiting for each other, two round trips in all.
        pipelined = self.projection.pipelines(batch)
        async with (
            conn.pipeline() if pipelined else contextlib.nullcontext(),
            conn.transaction(),
        ):
            if batch and batch[0].seq <= self.recheck_until:
                batch = await self._not_applied(conn, batch)
            result = await self.projection.apply(conn, batch) if batch else BatchResult()
            await conn.execute(UPSERT_POSITION, (self.row, position))
        self._committed_at = time.monotonic()
        if position >= self._pending:
            self._pending = 0
        return result

    async def _not_applied(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage]
    ) -> list[LogMessage]:
        """After a repartition: leave out the events the old owner applied (in the timeline)."""
        cur = await conn.execute(
            "SELECT position FROM timeline WHERE position = ANY(%s) UNION "
            "SELECT position FROM parked_events WHERE projector = %s AND position = ANY(%s)",
            ([m.seq for m in batch], self.projection.name, [m.seq for m in batch]),
        )
        done = {row[0] for row in await cur.fetchall()}
        return [m for m in batch if m.seq not in done]

    async def _park_only(
        self, conn: psycopg.AsyncConnection[Any], message: LogMessage, result: BatchResult
    ) -> None:
        async with conn.transaction():
            await write_batch(
                conn, games={}, timeline=[], guilds={}, channels={}, parked=result.parked,
                state_encoder=self.projection.state_encoder,
            )  # fmt: skip
            await conn.execute(UPSERT_POSITION, (self.row, message.seq))

    def _count(self, result: BatchResult, position: int) -> None:
        progress = self.progress
        progress.position = position
        progress.applied += result.applied
        progress.parked += len(result.parked)
        progress.duplicates += result.skipped_duplicates
        progress.batches += 1
        for parked in result.parked:
            log.error(
                "parked event %s (%s): %s", parked.message.seq, parked.message.topic, parked.error
            )


async def retry_parked(
    nc: NATS, layout: Layout, database_url: str, schema: str, projection: ReadModels | None = None
) -> tuple[int, int]:
    """Apply each parked event again (read from the log); returns (now applied, still parked)."""
    projection = projection or ReadModels()
    conn = await connect(database_url, schema)
    rows = await layout_rows(conn, projection.name)
    await conn.commit()
    lock = await connect(database_url, schema)
    for row in rows or [projection.name]:
        if not await hold_projector_lock(lock, schema, row):
            await lock.close()
            await conn.close()
            raise ProjectorRunning(
                f"a projector is running on schema {schema}: stop it, then retry parked events"
            )
    js = nc.jetstream()
    fixed = still = 0
    try:
        cur = await conn.execute(
            "SELECT position FROM parked_events WHERE projector = %s ORDER BY position",
            (projection.name,),
        )
        positions = [row[0] for row in await cur.fetchall()]
        await conn.commit()
        for position in positions:
            raw = await js.get_msg(layout.stream, seq=position)
            message = log_message(
                layout, position, raw.subject or "", dict(raw.headers or {}), raw.data or b""
            )
            async with conn.transaction():
                if message.aggregate_id.startswith("game."):
                    result = await _refold_game(conn, nc, layout, projection, message)
                else:
                    result = await projection.apply(conn, [message])
                if not result.parked:
                    await conn.execute(
                        "DELETE FROM parked_events WHERE projector = %s AND position = %s",
                        (projection.name, position),
                    )
            if result.parked:
                still += 1
            else:
                fixed += 1
    finally:
        await conn.close()
        await lock.close()
    return fixed, still


async def _refold_game(
    conn: psycopg.AsyncConnection[Any],
    nc: NATS,
    layout: Layout,
    projection: ReadModels,
    parked: LogMessage,
) -> BatchResult:
    """Fold a game again from its first event, the parked one in its place, up to the stored
    position, and rewrite its rows; the parked event joins the timeline."""
    rows = await layout_rows(conn, projection.name)
    count = max(len(rows), 1)
    owner = Partition(partition_of(parked.aggregate_id, count), count).row(projection.name)
    upto = rows.get(owner, 0)
    records = await Wire(nc, layout, timeout=10).read(layout.subject_for(parked.aggregate_id), 1)
    fresh = ReadModels()
    result = BatchResult()
    applied = None
    for record in records:
        if record.seq > upto:
            break
        event = record.event
        message = LogMessage(
            seq=record.seq, aggregate_id=parked.aggregate_id, version=event.originator_version,
            topic=event.topic, msg_id=None, body=event.state,
        )  # fmt: skip
        folded = fresh.fold(message, result)
        if folded is None:
            return result  # still failing: it stays parked
        if record.seq == parked.seq:
            applied = folded
    if applied is None:
        return BatchResult(parked=[Parked(parked, "not found in the log up to the position")])
    await write_batch(
        conn, games=dict(fresh.games), timeline=[(parked, applied)], guilds={}, channels={},
        parked=[], state_encoder=fresh.state_encoder,
    )  # fmt: skip
    projection.games.pop(game_uuid(parked.aggregate_id), None)
    result.applied = 1
    return result
