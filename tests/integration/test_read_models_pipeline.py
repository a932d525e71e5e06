"""A small batch is written in pipeline mode with bound statements, a large one by ``COPY``: both
leave the same rows, whatever the mix of events."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime

import msgspec
import pytest

from domain.events import (
    ChannelConfigured,
    Event,
    GuildConfigured,
    PlaceholderAdded,
    Settings,
    type_name,
)
from gateways.postgres import connect, migrate
from projections.feed import LogMessage
from projections.read_models import PIPELINE_UP_TO, ReadModels
from projections.replay import COMPARED, MIGRATIONS, compare
from tests.bench.projection_log import event_stream

pytestmark = pytest.mark.integration

WHEN = datetime(2030, 1, 1, 12, tzinfo=UTC)
TABLES = {
    **COMPARED,
    "games": (*COMPARED["games"], "state"),  # the folded state too, byte for byte
    "parked_events": (*COMPARED["parked_events"], "error", "attempts"),
}


def stored(seq: int, aggregate: str, version: int, event: Event) -> LogMessage:
    return LogMessage(
        seq=seq, aggregate_id=aggregate, version=version, topic=type_name(type(event)),
        msg_id=f"{event.command_id}:{version}", body=msgspec.json.encode(event),
    )  # fmt: skip


def log(total: int) -> list[LogMessage]:
    """Games (joins, waitlists, leaves, promotions, reminders) with settings, a placeholder and
    an unreadable message among them."""
    messages = [stored(n, a, v, e) for n, (a, v, e) in enumerate(event_stream(total, seed=7), 1)]
    first_game = messages[0].aggregate_id
    extra: list[LogMessage] = [
        stored(0, "guild.1", 1, GuildConfigured(
            command_id="g", actor_id="9", occurred_at=WHEN, guild_id="1",
            settings=Settings(max_players=6, time_zone="Europe/Berlin"), changed=("max_players",),
        )),
        stored(0, "channel.2", 1, ChannelConfigured(
            command_id="ch", actor_id="9", occurred_at=WHEN, guild_id="1", channel_id="2",
            settings=Settings(rules="be kind"), changed=("rules",),
        )),
        stored(0, first_game, 10_000, PlaceholderAdded(
            command_id="p", actor_id="9", occurred_at=WHEN, placeholder_id=1, label="Sam's friend",
        )),
        LogMessage(seq=0, aggregate_id="events.game.x", version=0, topic="(no topic)",
                   msg_id=None, body=b"{", error="unreadable message: KeyError: 'Muster-Version'"),
    ]  # fmt: skip
    for message in extra:  # spread through the log, each after its game's events so far
        messages.insert(len(messages) // 2, message)
    return [msgspec.structs.replace(m, seq=n) for n, m in enumerate(messages, 1)]


async def test_small_pipelined_batches_and_one_large_copied_batch_leave_the_same_rows(
    database_url: str, read_schema: str
) -> None:
    messages = log(1_500)
    copied = f"{read_schema}_rebuild_copy"
    await migrate(database_url, copied, MIGRATIONS)
    conn = await connect(database_url, read_schema)
    try:
        small, rng, at = ReadModels(), random.Random(3), 0
        while at < len(messages):  # batches of 1 to 8 events, as a steady projector's
            batch = messages[at : at + rng.randint(1, 8)]
            at += len(batch)
            assert small.pipelines(batch)
            async with conn.pipeline(), conn.transaction():
                await small.apply(conn, batch)
        large = ReadModels()
        assert len(messages) > PIPELINE_UP_TO
        assert not large.pipelines(messages)
        await conn.execute(f'SET search_path TO "{copied}"')
        async with conn.transaction():
            result = await large.apply(conn, messages)
        assert len(result.parked) == 1  # the unreadable message
        assert await compare(conn, read_schema, copied, TABLES) == []
        cur = await conn.execute(f'SELECT count(*) FROM "{read_schema}".participants '
                                 "WHERE kind = 'placeholder'")  # fmt: skip
        assert (await cur.fetchone()) == (1,)
        cur = await conn.execute(f'SELECT count(*) FROM "{read_schema}".reminders')
        row = await cur.fetchone()
        assert row is not None
        assert row[0] > 0
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
