"""``muster projector``, ``muster replay``, ``muster audit``: run and check the projections."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import msgspec
from nats.aio.client import Client as NATS

from deploy import bootstrap
from deploy.bootstrap import Container
from deploy.settings import Settings
from deploy.supervise import Reported, Service, supervise
from gateways.jetstream.layout import Layout
from gateways.postgres import migrate
from projections.names import NameProjector
from projections.partitions import Partition
from projections.reactions import SettingsReactions
from projections.replay import MIGRATIONS, drop_schema, rebuild_and_compare, swap
from projections.runner import Progress, ProjectionRunner, retry_parked

log = logging.getLogger("muster.projector")


def layout_of(settings: Settings) -> Layout:
    return bootstrap.layout_of(settings)


@asynccontextmanager
async def nats_connection(settings: Settings, url: str) -> AsyncIterator[NATS]:
    """A connection for the one-shot tools (replay, audit, retry-parked): it gives up after
    ``MUSTER_NATS_TIMEOUT`` with one clear error instead of reconnecting forever."""
    async with Container.open(settings, {"nats": url}, one_shot=True) as container:
        yield await container.nats()


def projector_services(container: Container, partition: Partition | None = None) -> list[Service]:
    """The read models (PostgreSQL), display names (Redis), the reactions to settings changes
    (commands to the games a cap change reaches) and, with a bot token, Discord's announcements
    and DMs, as supervised services: each resumes from a durable position, so a failure restarts
    it with backoff.

    With ``partition`` K of N, the read models are this worker's share of the games; only
    worker 0 runs the other projectors."""
    from deploy.health_cmd import projector_key

    partition = partition or Partition()
    health = Reported(projector_key(partition.index, partition.count))
    schema = container.settings.database_schema

    async def projected(stop: asyncio.Event, ready: Reported | None = None, **options: Any) -> None:
        """A read-model projection (``options``: its partition or projection), migrated first;
        ``ready`` is told it runs."""
        await migrate(container.database_url, schema, MIGRATIONS)
        runner = ProjectionRunner(
            await container.nats(), container.layout, container.database_url, schema, **options
        )
        if ready is not None:
            ready.running()
        await runner.run(stop)

    async def read_models(stop: asyncio.Event) -> None:
        try:
            await projected(stop, health, partition=partition)
        except Exception as error:
            health.failed(error)
            raise

    reporting = health.service("read-model health", container.nats)
    if partition.index > 0:
        name = f"read models {partition.index + 1} of {partition.count}"
        return [Service(name, read_models), reporting]

    async def display_names(stop: asyncio.Event) -> None:
        names = NameProjector(
            await container.nats(), container.redis, ttl=container.settings.name_ttl
        )
        await names.run(stop)

    async def settings_reactions(stop: asyncio.Event) -> None:
        await migrate(container.database_url, schema, MIGRATIONS)
        reactions = SettingsReactions(
            await container.nats(), container.layout, container.database_url, schema,
            container.commands,
        )  # fmt: skip
        await reactions.run(stop)

    async def analytics(stop: asyncio.Event) -> None:
        from projections.analytics import Analytics

        await projected(stop, projection=Analytics())

    services = [
        Service("read models", read_models),
        reporting,
        Service("analytics", analytics),
        Service("display names", display_names),
        Service("settings reactions", settings_reactions),
    ]
    if container.settings.discord_token:
        services += discord_services(container)
    else:
        log.warning("no MUSTER_DISCORD_TOKEN: announcements and DMs are not projected")
    return services


def discord_services(container: Container) -> list[Service]:
    """Announcements and DMs (``projections/discord``), rendered from the read models, and
    their health (``projector.discord``: position, posts, edits, DMs, last error)."""
    from gateways.discord.dm_search import DmSearch
    from projections.discord.projector import DiscordProjector
    from projections.discord.store import MIGRATIONS as DISCORD_MIGRATIONS

    current: list[DiscordProjector] = []

    def figures() -> dict[str, object]:
        return current[-1].figures() if current else {}

    health = Reported("projector.discord", figures)

    async def run(stop: asyncio.Event) -> None:
        schema = container.settings.database_schema
        await migrate(container.database_url, schema, MIGRATIONS)
        await migrate(container.database_url, schema, DISCORD_MIGRATIONS)
        outbound = await container.outbound()
        rest = getattr(outbound, "rest", None)  # DMs repeated late are looked for first
        projector = DiscordProjector(
            await container.nats(), container.layout, container.database_url, schema,
            outbound=outbound, commands=container.commands,
            find_dm=None if rest is None else DmSearch(rest, outbound).find,
        )  # fmt: skip
        current[:] = [projector]
        health.running()
        try:
            await projector.run(stop)
        except Exception as error:
            health.failed(error)
            raise

    return [
        Service("Discord announcements and DMs", run),
        health.service("Discord projection health", container.nats),
    ]


async def another_projector_running(
    settings: Settings, database_url: str, partition: Partition | None = None
) -> bool:
    """Whether another runner (``muster up``'s, another ``muster projector``) holds this
    worker's read-model lock right now."""
    from gateways.postgres import connect
    from projections.read_models import ReadModels
    from projections.runner import hold_projector_lock

    schema = settings.database_schema
    await migrate(database_url, schema, MIGRATIONS)
    conn = await connect(database_url, schema)
    try:
        row = (partition or Partition()).row(ReadModels().name)
        return not await hold_projector_lock(conn, schema, row)
    finally:
        await conn.close()  # releases the lock if this probe took it


async def run_projectors(
    settings: Settings,
    urls: dict[str, str],
    stop: asyncio.Event,
    partition: Partition | None = None,
) -> None:
    """The projectors alone, until ``stop`` is set (``muster projector``)."""
    if await another_projector_running(settings, urls["postgres"], partition):
        print(
            f"another projector (`muster up`'s or another `muster projector`) is running on "
            f"schema {settings.database_schema}: this one waits and takes over when it stops",
            flush=True,
        )
    async with Container.open(settings, urls) as container:
        await container.nats()  # unreachable at start: one clear error, not endless restarts
        await supervise(projector_services(container, partition), stop)


def progress_line(progress: Progress, target: int, started: float) -> str:
    """``12,345/1,000,000 events  23,456 ev/s  ETA 0:41``"""
    elapsed = max(time.monotonic() - started, 1e-9)
    rate = progress.applied / elapsed
    left = max(target - progress.position, 0)
    eta = int(left / rate) if rate else 0
    share = progress.position / target if target else 1.0
    bar = "#" * int(share * 30)
    return (
        f"\r[{bar:<30}] {progress.position:,}/{target:,} events  {rate:,.0f} ev/s  "
        f"ETA {eta // 60}:{eta % 60:02d}"
    )


async def run_replay(
    settings: Settings,
    urls: dict[str, str],
    make_live: bool,
    keep: bool = False,
    partitions: int | None = None,
) -> int:
    """Rebuild into a fresh schema (with ``partitions`` workers in parallel; default as many as
    the live read models have), compare with the live one, optionally swap."""
    started = time.monotonic()

    def show(progress: Progress, *, target: int) -> None:
        sys.stdout.write(progress_line(progress, target, started))
        sys.stdout.flush()

    async with nats_connection(settings, urls["nats"]) as nc:
        await migrate(urls["postgres"], settings.database_schema, MIGRATIONS)
        rebuilt, progress, differences = await rebuild_and_compare(
            nc, layout_of(settings), urls["postgres"], settings.database_schema, on_batch=show,
            partitions=partitions, nats_url=urls["nats"],
        )  # fmt: skip
        from projections.analytics_replay import rebuild_analytics

        _, analytics_differences = await rebuild_analytics(
            nc, layout_of(settings), urls["postgres"], settings.database_schema, rebuilt
        )
        differences += analytics_differences
    elapsed = time.monotonic() - started
    print(f"\nrebuilt {progress.applied:,} events into schema {rebuilt} in {elapsed:.1f}s")
    if differences:
        print(f"{len(differences)} difference(s) with the live schema {settings.database_schema}:")
        for diff in differences:
            print(f"  {diff.table}: {diff.count} row(s) only in {diff.only_in}, e.g.")
            for row in diff.sample:
                print(f"      {row}")
    else:
        print(f"no difference with the live schema {settings.database_schema}")
    if make_live:
        print("vacuuming and analysing the rebuilt tables, then swapping…", end="", flush=True)
        settling = time.monotonic()
        try:
            old = await swap(urls["postgres"], settings.database_schema, rebuilt)
        except BaseException:
            print()  # the error's message on a line of its own
            raise
        print(f" done in {time.monotonic() - settling:.1f}s")
        print(f"swapped: {rebuilt} is now {settings.database_schema}; the old one is {old}")
    elif not keep:
        await drop_schema(urls["postgres"], rebuilt)
    else:
        print(f"kept {rebuilt} for inspection")
    return 1 if differences and not make_live else 0


async def run_retry_parked(settings: Settings, urls: dict[str, str]) -> int:
    async with nats_connection(settings, urls["nats"]) as nc:
        fixed, still = await retry_parked(
            nc, layout_of(settings), urls["postgres"], settings.database_schema
        )
    print(f"{fixed} parked event(s) applied, {still} still parked")
    return 1 if still else 0


def audited_aggregate(game_id: str) -> str:
    """``game.<uuid>`` for a game id given bare or as ``game.<uuid>`` (as audit prints it)."""
    from domain.decisions import canonical_game_id

    bare = game_id.strip()
    bare = bare.removeprefix("game.")
    return f"game.{canonical_game_id(bare)}"


async def run_audit(
    settings: Settings, urls: dict[str, str], aggregate: str, at: int | datetime | None = None
) -> int:
    """Print a game's full history (``aggregate`` from :func:`audited_aggregate`) from the log;
    with ``at`` (a stream sequence or a time), its history up to then and the game as it was."""
    import nats.js.errors

    from gateways.jetstream.wire import Wire
    from projections.timetravel import describe, fold, steps_of, steps_until

    layout = layout_of(settings)
    async with nats_connection(settings, urls["nats"]) as nc:
        try:
            await nc.jetstream(timeout=settings.nats_timeout).stream_info(layout.stream)
        except nats.js.errors.NotFoundError:
            print(
                f"muster audit: there is no event log yet: the stream {layout.stream} does not "
                "exist on this NATS server (`muster up` creates it on first start)",
                file=sys.stderr,
            )
            return 1
        records = await Wire(nc, layout, settings.nats_timeout).read(
            layout.subject_for(aggregate), 1
        )
    if not records:
        print(f"no game {aggregate} in the log (stream {layout.stream})")
        return 1
    later = 0
    if at is not None:
        steps = steps_until(steps_of(records), at)
        later = len(records) - len(steps)
        records = records[: len(steps)]
        if not records:
            print(f"{aggregate} did not exist yet at {_point(at)}")
            return 1
    print(f"history of {aggregate} ({len(records)} events)")
    print(f"{'seq':>8}  {'v':>4}  {'time (UTC)':<19}  {'actor':<20} {'command':<24} event")
    for record in records:
        body = msgspec.json.decode(record.event.state)
        detail = {k: v for k, v in body.items()
                  if k not in ("type", "command_id", "actor_id", "occurred_at")}  # fmt: skip
        when = str(body.get("occurred_at", ""))[:19].replace("T", " ")
        print(
            f"{record.seq:>8}  {record.event.originator_version:>4}  {when:<19}  "
            f"{body.get('actor_id', ''):<20} {body.get('command_id', '')[:24]:<24} "
            f"{record.event.topic} {msgspec.json.encode(detail).decode()}"
        )
    if at is not None:
        state = fold(steps, aggregate)
        print(f"\nas it was at {_point(at)} (version {records[-1].event.originator_version}, "
              f"{later} later event(s) not shown):")  # fmt: skip
        for line in describe(state) if state else []:
            print(f"  {line}")
    return 0


def _point(at: int | datetime) -> str:
    return f"stream sequence {at}" if isinstance(at, int) else at.isoformat()
