"""``muster scheduler`` for the fault run, with a clock the fault schedule can jump.

``python -m tests.load.scheduler_process`` runs exactly what ``muster scheduler`` runs
(``deploy.scheduler_cmd.run_in``'s parts, same settings from ``MUSTER_*``), except that the
scheduler's clock is the wall clock plus an offset read from the file named by
``LOAD_SCHEDULER_CLOCK_FILE`` at every reading: writing ``90`` there is the machine's clock
stepping 90 s forward (an NTP step, a VM resumed), ``-60`` a step back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import warnings
from pathlib import Path

from deploy import allocstats, malloc_trim, memtrace
from deploy.bootstrap import Container
from deploy.endpoints import resolve_urls
from deploy.scheduler_cmd import mailbox_of
from deploy.settings import Settings
from projections.scheduler.clock import WallClock

MAX_WAIT = 1.0  # a jump is noticed within a second even while the scheduler sleeps


class JumpingClock(WallClock):
    """Wall clock plus the offset (seconds) kept in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> float:
        try:
            return float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def now(self) -> float:
        return time.time() + self.offset()

    async def wait(self, wake: asyncio.Event, timeout: float | None) -> None:
        await super().wait(wake, MAX_WAIT if timeout is None else min(timeout, MAX_WAIT))


async def run(settings: Settings, clock: JumpingClock) -> None:
    from gateways.health import HealthReporter
    from gateways.postgres import migrate
    from projections.replay import MIGRATIONS
    from projections.scheduler import Scheduler, run_scheduler

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    urls = resolve_urls(settings, needs=("nats", "postgres", "redis"))
    async with Container.open(settings, urls) as container:
        await migrate(container.database_url, settings.database_schema, MIGRATIONS)
        port = await asyncio.to_thread(lambda: container.commands)
        nc = await container.nats()
        health = HealthReporter(nc, "scheduler")
        scheduler = Scheduler(
            port, await mailbox_of(container), clock=clock,
            concurrency=settings.scheduler_concurrency,
        )  # fmt: skip
        await run_scheduler(
            scheduler, nc=nc, layout=container.layout, database_url=container.database_url,
            schema=settings.database_schema, stop=stop, health=health,
        )  # fmt: skip


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord  # noqa: F401
    memtrace.start_if_asked("scheduler")  # MUSTER_TRACEMALLOC, as in ``muster``'s own processes
    allocstats.start_if_asked("scheduler")  # MUSTER_ALLOCSTATS, the same
    malloc_trim.start_if_asked()  # MUSTER_MALLOC_TRIM_EVERY, the same
    clock = JumpingClock(Path(os.environ["LOAD_SCHEDULER_CLOCK_FILE"]))
    print("scheduler running (load clock)", flush=True)
    asyncio.run(run(Settings(), clock))


if __name__ == "__main__":
    main()
