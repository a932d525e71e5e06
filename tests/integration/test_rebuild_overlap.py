"""A rebuild writes each large batch in two halves and folds the next batch in between.

:meth:`projections.runner.ProjectionRunner._overlap` stages a batch on one connection, starts its
finish (the server-side statements and the commit) in a task, and folds the next batch on a
second connection meanwhile. These tests cut the mixed log of ``test_rebuild_bulk`` into many
small rebuild batches and check that the rows equal the event-by-event projection: as it runs,
when a finish fails, when a staging fails, and when a duplicate message id in one batch meets
its original in the batch still committing.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from cachetools import TTLCache
from nats.aio.client import Client as NATS

from gateways.postgres import migrate
from projections.read_models import CACHE_IDLE, PIPELINE_UP_TO, ReadModels, Staged
from projections.replay import MIGRATIONS, compare
from projections.runner import ProjectionRunner
from tests.integration.conftest import layout_of
from tests.integration.test_rebuild_bulk import mixed_log

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILL = PIPELINE_UP_TO + 16  # every batch large enough to be staged: many batches in the log


class Failing(ReadModels):
    """Read models whose ``finish`` or ``stage`` fails once, at the given call (none: 0)."""

    def __init__(self, fail_finish: int = 0, fail_stage: int = 0, cache: int = 0) -> None:
        super().__init__()
        if cache:  # games leave the cache between batches (by count)
            self.games = TTLCache(cache, CACHE_IDLE)
        self.fail_finish, self.fail_stage = fail_finish, fail_stage
        self.finishes = self.stages = 0

    async def stage(self, conn: psycopg.AsyncConnection[Any], batch: list[Any]) -> Staged:
        self.stages += 1
        staged = await super().stage(conn, batch)  # the batch is folded, then the failure
        if self.stages == self.fail_stage:
            raise psycopg.errors.SerializationFailure("injected: staging failed")
        return staged

    async def finish(self, conn: psycopg.AsyncConnection[Any], staged: Staged) -> Any:
        self.finishes += 1
        if self.finishes == self.fail_finish:
            await conn.execute("SELECT 1/0")  # a real error inside the pipeline
        return await super().finish(conn, staged)


async def live_and_rebuilt(
    nc: NATS, env: dict[str, str], database_url: str, live: str, projection: ReadModels
) -> tuple[int, ProjectionRunner, list[Any]]:
    """The log projected event by event into ``live`` and rebuilt in overlapped batches."""
    last = await asyncio.to_thread(mixed_log, env, 1_200)
    layout = layout_of(env)
    one_by_one = ProjectionRunner(nc, layout, database_url, live, max_batch=1)
    await asyncio.wait_for(one_by_one.run(asyncio.Event(), until=last), 120)
    rebuilt = f"{live}_rebuild_{uuid.uuid4().hex[:6]}"
    await migrate(database_url, rebuilt, MIGRATIONS)
    runner = ProjectionRunner(
        nc, layout, database_url, rebuilt, projection=projection, max_batch=40, fill=FILL
    )
    await asyncio.wait_for(runner.run(asyncio.Event(), until=last), 120)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        differences = await compare(conn, live, rebuilt)
        cur = await conn.execute(f'SELECT position FROM "{rebuilt}".projector_position')
        assert await cur.fetchall() == [(last,)]
    return last, runner, differences


@pytest.mark.parametrize("cache", [0, 4])
async def test_overlapped_batches_equal_the_event_by_event_projection(
    event_log_env: dict[str, str], database_url: str, read_schema: str, nc: NATS, cache: int
) -> None:
    # With a cache of 4 games, a game of the batch still committing has left the cache when the
    # next batch folds it: it must come from that batch, not from the table (not committed yet).
    projection = Failing(cache=cache)  # fails nowhere: counts the halves
    last, runner, differences = await live_and_rebuilt(
        nc, event_log_env, database_url, read_schema, projection
    )
    assert differences == []
    assert runner.progress.batches >= 8  # many batches, each committed on its own
    # every batch staged but perhaps the last (a few events: applied whole, in pipeline mode)
    assert projection.stages == projection.finishes >= runner.progress.batches - 1
    assert runner.progress.parked == 0
    assert runner.progress.position == last


@pytest.mark.parametrize(("fail_finish", "fail_stage"), [(3, 0), (0, 4), (1, 0)])
async def test_a_failed_half_rolls_back_and_the_batches_are_applied_again(
    event_log_env: dict[str, str],
    database_url: str,
    read_schema: str,
    nc: NATS,
    fail_finish: int,
    fail_stage: int,
) -> None:
    projection = Failing(fail_finish, fail_stage)
    _, runner, differences = await live_and_rebuilt(
        nc, event_log_env, database_url, read_schema, projection
    )
    assert differences == []
    assert runner.progress.parked == 0
    assert projection.finishes > max(fail_finish, 3)  # overlapping went on after the failure
