"""Projection benchmark: raw read speed, full rebuild into PostgreSQL, steady-state lag.

Run: ``.venv/bin/python -m tests.bench.projections [--events 1000000]`` (``--smoke``: tiny sizes,
seconds)

In one run, on embedded servers:
  (a) raw read of the whole stream with nats-py's ordered consumer (the baseline), and (a') with
      the projector's own pull feed, events only counted;
  (b) full rebuild of the read models from the same stream (a realistic mix: creates, joins,
      waitlists, leaves with promotions, reminders, across thousands of games);
  (c) lag at a steady 500 events/s: from the append's acknowledgement to the commit that makes
      the event visible in the read model, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from domain.events import (
    Event,
    GameCreated,
    GameDetails,
    PlayerJoined,
    PlayerLeft,
    PlayerPromoted,
    PlayerWaitlisted,
    ReminderRecorded,
    type_name,
)
from gateways.jetstream.layout import H_MSG_ID, Layout, event_headers
from gateways.postgres import migrate
from projections.feed import LogFeed
from projections.replay import MIGRATIONS
from projections.runner import Progress, ProjectionRunner
from tests.bench.common import bench_stack, peak_rss_mib, summary, table

ACTIVE_GAMES = 2_000
ENCODER = msgspec.json.Encoder()


class GameScript:
    """One game's plausible life: created, filled, overflowed, churned, reminded."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.id = f"game.00000000-0000-4000-8000-{n:012d}"
        self.rng, self.cap = rng, rng.randint(4, 12)
        self.joined: list[str] = []
        self.waiting: list[str] = []
        self.version = 0
        self.start = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=n)
        self.n = n

    def next_events(self) -> list[Event]:
        stamp = {"command_id": f"{self.n}-{self.version}", "actor_id": "100",
                 "occurred_at": datetime.now(UTC)}  # fmt: skip
        if self.version == 0:
            details = GameDetails(title=f"Game {self.n}", max_players=self.cap)
            channel = str(10 + self.n % 50)
            return [GameCreated(**stamp, guild_id="1", channel_id=channel, host_id="100",
                                scheduled_at=self.start, details=details)]  # fmt: skip
        roll = self.rng.random()
        if roll < 0.6 or not self.joined:
            user = str(1000 + self.rng.randrange(5000))
            if user in self.joined or user in self.waiting:
                return []
            if len(self.joined) < self.cap:
                self.joined.append(user)
                return [PlayerJoined(**stamp, user_id=user, joined_count=len(self.joined),
                                     max_players=self.cap)]  # fmt: skip
            self.waiting.append(user)
            return [PlayerWaitlisted(**stamp, user_id=user, position=len(self.waiting))]
        if roll < 0.85:
            user = self.rng.choice(self.joined)
            self.joined.remove(user)
            events: list[Event] = [PlayerLeft(**stamp, user_id=user, from_waitlist=False)]
            if self.waiting:
                promoted = self.waiting.pop(0)
                self.joined.append(promoted)
                seats = len(self.joined)
                events.append(PlayerPromoted(**stamp, user_id=promoted, joined_count=seats,
                                             max_players=self.cap))  # fmt: skip
            return events
        user = self.rng.choice(self.joined)
        return [ReminderRecorded(**stamp, user_id=user, offset_minutes=self.rng.choice((15, 60)),
                                 scheduled_at=self.start, status="sent")]  # fmt: skip


def event_stream(total: int, seed: int = 1) -> Iterator[tuple[str, int, Event]]:
    """``total`` events as (aggregate id, version, event), games interleaved as in real life."""
    rng = random.Random(seed)
    games = [GameScript(n, rng) for n in range(ACTIVE_GAMES)]
    made = started = ACTIVE_GAMES
    while made < total + ACTIVE_GAMES:
        index = rng.randrange(len(games))
        game = games[index]
        for event in game.next_events():
            game.version += 1
            yield game.id, game.version, event
            made += 1
        if game.version > 40 and rng.random() < 0.05:  # retire it, a new game takes its place
            games[index] = GameScript(started, rng)
            started += 1


async def fill(nc: NATS, layout: Layout, total: int) -> int:
    """Publish ``total`` events (async publishes, acks gathered per window)."""
    js = nc.jetstream()
    await js.add_stream(layout.stream_config())
    pending = []
    count = 0
    for aggregate, version, event in event_stream(total):
        headers = event_headers(type_name(type(event)), version)
        headers[H_MSG_ID] = f"{event.command_id}:{version}"
        pending.append(
            await js.publish_async(
                layout.subject_for(aggregate), ENCODER.encode(event), headers=headers
            )
        )
        count += 1
        if len(pending) >= 4_000:
            await asyncio.gather(*pending)
            pending.clear()
        if count >= total:
            break
    await asyncio.gather(*pending)
    return count


async def ordered_consumer_read(nc: NATS, layout: Layout, total: int) -> float:
    """(a) nats-py's ordered consumer over the whole stream, reading each message's sequence."""
    done = asyncio.Event()
    seen = 0

    async def count(msg: Msg) -> None:
        nonlocal seen
        _ = msg.metadata.sequence.stream, msg.headers
        seen += 1
        if seen >= total:
            done.set()

    started = time.perf_counter()
    sub = await nc.jetstream().subscribe(
        layout.all_subjects, stream=layout.stream, cb=count, ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )  # fmt: skip
    await done.wait()
    rate = total / (time.perf_counter() - started)
    await sub.unsubscribe()
    return rate


async def feed_read(nc: NATS, layout: Layout, total: int) -> float:
    """(a') the projector's own feed (pull consumer with back-pressure), events only counted."""
    feed = LogFeed(nc, layout, after=0, max_batch=5_000)
    started = time.perf_counter()
    await feed.start()
    seen = 0
    while seen < total:
        seen += len(await feed.next_batch(timeout=5))
    await feed.stop()
    return total / (time.perf_counter() - started)


async def rebuild(
    nc: NATS, layout: Layout, database_url: str, total: int, schema: str
) -> tuple[float, Progress]:
    await migrate(database_url, schema, MIGRATIONS)
    runner = ProjectionRunner(nc, layout, database_url, schema)
    started = time.perf_counter()
    last_print = [started]

    def show(progress: Progress) -> None:
        now = time.perf_counter()
        if now - last_print[0] > 5:
            last_print[0] = now
            print(
                f"    rebuilt {progress.position:,}/{total:,} "
                f"({progress.applied / (now - started):,.0f}/s)",
                flush=True,
            )

    progress = await runner.run(asyncio.Event(), until=total, on_batch=show)
    return progress.applied / (time.perf_counter() - started), progress


async def steady_lag(nc: NATS, layout: Layout, database_url: str, schema: str, start_seq: int,
                     rate: int, seconds: float) -> list[float]:  # fmt: skip
    """Append at ``rate``/s; lag = commit that shows an event minus its append acknowledgement."""
    visible: dict[int, float] = {}
    runner = ProjectionRunner(nc, layout, database_url, schema)

    def committed(progress: Progress) -> None:
        visible[progress.position] = time.perf_counter()

    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop, on_batch=committed))
    js = nc.jetstream()
    acked: dict[int, float] = {}
    stream = event_stream(int(rate * seconds), seed=99)
    interval = 1 / rate
    next_at = time.perf_counter()
    for rebuilt_id, version, event in stream:
        aggregate = rebuilt_id.replace("-8000-", "-9000-")  # new games, not the rebuilt ones
        headers = event_headers(type_name(type(event)), version)
        ack = await js.publish(
            layout.subject_for(aggregate), ENCODER.encode(event), headers=headers
        )
        acked[ack.seq] = time.perf_counter()
        next_at += interval
        await asyncio.sleep(max(0, next_at - time.perf_counter()))
    deadline = time.perf_counter() + 10
    while (not visible or max(visible) < max(acked)) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    await task
    commits = sorted(visible.items())
    lags = []
    for seq, at in acked.items():
        shown = next(t for position, t in commits if position >= seq)
        lags.append((shown - at) * 1000)
    return lags


async def run(total: int, lag_seconds: float = 10.0) -> None:
    with bench_stack() as stack:
        nc = await nats.connect(stack.url("nats"))
        layout = Layout("BENCH_EVENTS", "benchevents")
        print(f"projection benchmark: {total:,} events across {ACTIVE_GAMES} active games")
        started = time.perf_counter()
        count = await fill(nc, layout, total)
        print(f"  filled the stream in {time.perf_counter() - started:.1f}s")
        read_rate = await ordered_consumer_read(nc, layout, count)
        print(f"  (a) raw read, ordered consumer: {read_rate:,.0f} events/s", flush=True)
        feed_rate = await feed_read(nc, layout, count)
        print(f"  (a') raw read, projector feed: {feed_rate:,.0f} events/s", flush=True)
        rebuild_rate, progress = await rebuild(nc, layout, stack.url("postgres"), count, "bench_rm")
        print(f"  (b) rebuild: {rebuild_rate:,.0f} events/s ({progress.parked} parked)")
        lags = await steady_lag(
            nc, layout, stack.url("postgres"), "bench_rm", count, 500, lag_seconds
        )
        q = statistics.quantiles(lags, n=100)
        print(
            f"  (c) lag at 500 events/s: p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms "
            f"({len(lags)} events)"
        )
        await nc.close()
    print()
    print(table([
        ("(a) raw read, nats-py ordered consumer (baseline)", f"{read_rate:,.0f} events/s", "1.00"),
        ("(a') raw read, the projector's pull feed", f"{feed_rate:,.0f} events/s",
         f"{feed_rate / read_rate:.2f}"),
        (f"(b) rebuild of {count:,} events into PostgreSQL", f"{rebuild_rate:,.0f} events/s",
         f"{rebuild_rate / read_rate:.2f}"),
        ("(c) lag append → visible at 500 events/s", f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms", ""),
    ], ("measure", "figure", "ratio to (a)")))  # fmt: skip
    print(f"\npeak RSS {peak_rss_mib():.0f} MiB; goals: rebuild >= 20,000/s, lag p99 <= 50 ms")
    summary("projections", [
        ("(b) rebuild", f"{rebuild_rate:,.0f}/s", f"{rebuild_rate / read_rate:.2f}"),
        ("(c) lag at 500 events/s", f"p50 {q[49]:.1f}, p99 {q[98]:.1f} ms", "")])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="projection benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--lag-seconds", type=float, default=10.0, help="length of run (c)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.lag_seconds = 5_000, 1.0
    asyncio.run(run(args.events, args.lag_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
