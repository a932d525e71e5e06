"""The log the projection benchmarks read: a realistic workload, how it is stored, and how fast
it reads raw (the baseline every rebuild is compared with). Shared by
:mod:`tests.bench.projections`, :mod:`tests.bench.projection_steps`, :mod:`tests.bench.events`,
the rebuild instruments and ``tests/integration/test_read_models_pipeline.py``."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
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
from projections.feed import LogFeed

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
