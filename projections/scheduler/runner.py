"""``run_scheduler``: start-up from the read models, then follow the log and act on time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nats.aio.client import Client as NATS

from gateways.health import HealthReporter
from gateways.jetstream.layout import Layout
from gateways.postgres import connect
from projections.scheduler.service import Scheduler
from projections.scheduler.snapshot import LogFollower, load_snapshot

log = logging.getLogger(__name__)

CATCH_UP_TIMEOUT = 120.0


async def run_scheduler(
    scheduler: Scheduler,
    *,
    nc: NATS,
    layout: Layout,
    database_url: str,
    schema: str,
    stop: asyncio.Event,
    health: HealthReporter | None = None,
) -> None:
    """Load, catch up with the log, then hand out due times until ``stop`` is set."""
    conn = await connect(database_url, schema)
    try:
        position = await load_snapshot(conn, scheduler.board)
    finally:
        await conn.close()
    log.info(
        "scheduler: %d games from the read models (log position %d)",
        len(scheduler.board.games),
        position,
    )
    follower = LogFollower(nc, layout, scheduler.board, position)
    await follower.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        if health is not None:
            health.figures = lambda: {**scheduler.figures(), "position": follower.position}
            tasks.append(asyncio.create_task(health.run(stop)))
        await _catch_up(follower, stop)
        scheduler.board.refresh_all()
        if health is not None:
            health.state = "running"
        log.info(
            "scheduler: caught up at %d; %d due times pending",
            follower.position,
            len(scheduler.board.agenda),
        )
        halt = asyncio.Event()  # stop, or the log feed failed
        tasks.append(asyncio.create_task(_relay(stop, halt)))
        following = asyncio.create_task(_follow(follower, scheduler, halt))
        following.add_done_callback(lambda _: halt.set())
        tasks.append(following)
        await scheduler.run(halt)
        error = following.exception() if following.done() and not following.cancelled() else None
        if error is not None:
            if health is not None:
                health.last_error = f"following the log failed: {error}"
            raise error
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await follower.stop()


async def _catch_up(follower: LogFollower, stop: asyncio.Event) -> None:
    """Fold the log up to where it was at start-up, before anything is handed out."""
    target = await follower.last_sequence()
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    while follower.position < target and not stop.is_set():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the scheduler could not read the log up to {target} in {CATCH_UP_TIMEOUT:g} s "
                f"(reached {follower.position})"
            )
        await follower.step(timeout=0.5)


async def _relay(stop: asyncio.Event, halt: asyncio.Event) -> None:
    await stop.wait()
    halt.set()


async def _follow(follower: LogFollower, scheduler: Scheduler, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if await follower.step(timeout=1.0):
            scheduler.wake()
