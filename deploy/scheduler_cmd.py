"""``muster scheduler``: reminders, starts and ends of games at their time.

Safe to run twice or to kill at any moment: every command it issues has a deterministic id and
every DM is sent once (see docs/scheduler.md). It reads the read models once at start-up, then
follows the log; it needs NATS and PostgreSQL, and Redis plus ``MUSTER_DISCORD_TOKEN`` to send
DMs (without a token, reminders are recorded as skipped and a warning says why).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import warnings
from typing import TYPE_CHECKING

from deploy.bootstrap import Container
from deploy.settings import Settings
from deploy.supervise import Service, stop_on_signals

if TYPE_CHECKING:
    from projections.scheduler import Mailbox

log = logging.getLogger("muster.scheduler")


async def mailbox_of(container: Container) -> Mailbox:
    """DMs through Discord when a bot token is set; otherwise a stand-in that skips them."""
    from projections.scheduler import DiscordMailbox, NoDiscord

    if not container.settings.discord_token:
        return NoDiscord()
    return DiscordMailbox(await container.discord_rest(), await container.outbound())


async def run_in(container: Container, stop: asyncio.Event) -> None:
    """The scheduler on a container's adapters, until ``stop`` is set."""
    from gateways.health import HealthReporter
    from gateways.postgres import migrate
    from projections.replay import MIGRATIONS
    from projections.scheduler import Scheduler, run_scheduler

    settings = container.settings
    await migrate(container.database_url, settings.database_schema, MIGRATIONS)
    port = await asyncio.to_thread(lambda: container.commands)  # opens the log (blocking)
    nc = await container.nats()
    health = HealthReporter(nc, "scheduler")

    def on_error(text: str) -> None:
        health.last_error = text

    scheduler = Scheduler(
        port,
        await mailbox_of(container),
        concurrency=settings.scheduler_concurrency,
        on_error=on_error,
    )
    await run_scheduler(
        scheduler,
        nc=nc,
        layout=container.layout,
        database_url=container.database_url,
        schema=settings.database_schema,
        stop=stop,
        health=health,
    )


def scheduler_service(container: Container) -> Service:
    """For ``muster up``: restarted with backoff on failure (it resumes from the log)."""
    return Service("scheduler", lambda stop: run_in(container, stop))


async def run_scheduler_process(settings: Settings, urls: dict[str, str]) -> None:
    stop = stop_on_signals()
    async with Container.open(settings, urls) as container:
        await run_in(container, stop)
        log.info("scheduler stopped; closing connections")
    log.info("scheduler closed")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``muster scheduler``; returns the exit code."""
    argparse.ArgumentParser(
        prog="muster scheduler", description=__doc__.splitlines()[0]
    ).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    from deploy.endpoints import NoServers, resolve_urls

    needs = ("nats", "postgres", "redis") if settings.discord_token else ("nats", "postgres")
    try:
        urls = resolve_urls(settings, needs=needs)
    except NoServers as exc:
        print(f"muster scheduler: {exc}", file=sys.stderr)
        return 1
    if settings.scheduler_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.scheduler_metrics_port, addr="127.0.0.1")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord  # noqa: F401 - imported once here, quietly
    print("scheduler running; Ctrl-C to stop", flush=True)
    asyncio.run(run_scheduler_process(settings, urls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
