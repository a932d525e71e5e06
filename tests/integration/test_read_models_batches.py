"""A large batch (a rebuild's) skips the message-id lookup; a duplicate in it is still skipped."""

from __future__ import annotations

import gc
import itertools
import weakref
from datetime import UTC, datetime

import msgspec
import pytest
from cachetools import TTLCache

from domain.events import Event, GameCreated, GameDetails, PlayerJoined, type_name
from gateways.postgres import connect
from projections import queries
from projections.feed import LogMessage
from projections.read_models import CACHE_IDLE, LOOKUP_BELOW, BatchResult, ReadModels

pytestmark = pytest.mark.integration

GAME = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-000000000002"
WHEN = datetime(2030, 1, 1, tzinfo=UTC)


def message(seq: int, version: int, event: Event, msg_id: str, game: str = GAME) -> LogMessage:
    return LogMessage(
        seq=seq, aggregate_id=f"game.{game}", version=version, topic=type_name(type(event)),
        msg_id=msg_id, body=msgspec.json.encode(event),
    )  # fmt: skip


def join(seq: int, version: int, user: str, msg_id: str) -> LogMessage:
    event = PlayerJoined(command_id=msg_id, actor_id=user, occurred_at=WHEN, user_id=user,
                         joined_count=version - 1, max_players=10_000)  # fmt: skip
    return message(seq, version, event, msg_id)


def creation(command_id: str = "c") -> GameCreated:
    return GameCreated(
        command_id=command_id, actor_id="100", occurred_at=WHEN, guild_id="1", channel_id="2",
        host_id="100", scheduled_at=WHEN, details=GameDetails(title="T", max_players=10_000),
    )  # fmt: skip


async def test_a_duplicate_of_an_earlier_batch_in_a_large_batch_is_skipped(
    database_url: str, read_schema: str
) -> None:
    created = creation()
    first = [message(1, 1, created, "c:0"), join(2, 2, "201", "j:201")]
    # the same join stored again (after the broker's duplicate window), then many more joins
    again = join(3, 2, "201", "j:201")
    large = [again] + [
        join(4 + n, 3 + n, str(300 + n), f"j:{300 + n}") for n in range(LOOKUP_BELOW)
    ]
    projection = ReadModels()
    conn = await connect(database_url, read_schema)
    try:
        async with conn.transaction():
            assert (await projection.apply(conn, first)).applied == 2
        async with conn.transaction():
            result = await projection.apply(conn, large)
        assert (result.applied, result.skipped_duplicates, result.parked) == (LOOKUP_BELOW, 1, [])
        players = [p.user_id for p in await queries.participants_of(conn, GAME)]
        assert players == ["201"] + [str(300 + n) for n in range(LOOKUP_BELOW)]
        assert len(await queries.game_timeline(conn, GAME)) == 2 + LOOKUP_BELOW
    finally:
        await conn.close()


async def test_a_game_without_events_for_the_idle_time_leaves_the_cache_and_is_read_again(
    database_url: str, read_schema: str
) -> None:
    now = [0.0]
    projection = ReadModels(clock=lambda: now[0])
    conn = await connect(database_url, read_schema)
    try:
        async with conn.transaction():
            await projection.apply(
                conn, [message(1, 1, creation(), "c:0"), join(2, 2, "201", "j:201")]
            )
        held = weakref.ref(projection.games[GAME])
        now[0] = CACHE_IDLE + 1
        async with conn.transaction():  # another game's event: the idle one leaves the cache
            await projection.apply(conn, [message(3, 1, creation("o"), "o:0", game=OTHER)])
        gc.collect()
        assert held() is None
        async with conn.transaction():  # its next event: read from the games table, folded on
            result = await projection.apply(conn, [join(4, 3, "202", "j:202")])
        assert (result.applied, result.parked) == (1, [])
        assert projection.games[GAME].version == 3
        players = [p.user_id for p in await queries.participants_of(conn, GAME)]
        assert players == ["201", "202"]
    finally:
        await conn.close()


async def test_no_game_leaves_the_cache_in_the_middle_of_a_batch(
    database_url: str, read_schema: str
) -> None:
    ticks = itertools.count()
    projection = ReadModels(clock=lambda: next(ticks) * (CACHE_IDLE + 1))  # idle at every look
    conn = await connect(database_url, read_schema)
    try:
        async with conn.transaction():
            result = await projection.apply(
                conn, [message(1, 1, creation(), "c:0"), join(2, 2, "201", "j:201")]
            )
        assert (result.applied, result.parked) == (2, [])
        async with conn.transaction():  # read from the table, then folded: twice in one batch
            result = await projection.apply(
                conn, [join(3, 3, "202", "j:202"), join(4, 4, "203", "j:203")]
            )
        assert (result.applied, result.parked) == (2, [])
        players = [p.user_id for p in await queries.participants_of(conn, GAME)]
        assert players == ["201", "202", "203"]
    finally:
        await conn.close()


async def with_one_game_cached(
    database_url: str, read_schema: str, batches: list[list[LogMessage]]
) -> tuple[BatchResult, list[str | None]]:
    """Apply ``batches`` (one transaction each) with room for one game in the cache; the last
    batch's result and the players of :data:`GAME`."""
    projection = ReadModels()
    projection.games = TTLCache(1, CACHE_IDLE, timer=lambda: 0.0)  # room for one game only
    conn = await connect(database_url, read_schema)
    try:
        for batch in batches:
            async with conn.transaction():
                result = await projection.apply(conn, batch)
        return result, [p.user_id for p in await queries.participants_of(conn, GAME)]
    finally:
        await conn.close()


async def test_a_game_the_cache_lets_go_by_count_within_a_batch_still_folds_on(
    database_url: str, read_schema: str
) -> None:
    result, players = await with_one_game_cached(database_url, read_schema, [[
        message(1, 1, creation(), "c:0"),
        message(2, 1, creation("o"), "o:0", game=OTHER),  # pushes this game out
        join(3, 2, "201", "j:201"),
    ]])  # fmt: skip
    assert (result.applied, result.parked) == (3, [])
    assert players == ["201"]


async def test_a_cached_game_the_batch_pushes_out_before_its_first_event_still_folds_on(
    database_url: str, read_schema: str
) -> None:
    result, players = await with_one_game_cached(database_url, read_schema, [
        [message(1, 1, creation(), "c:0")],  # this game is cached after its first batch
        [message(2, 1, creation("o"), "o:0", game=OTHER), join(3, 2, "201", "j:201")],
    ])  # fmt: skip
    assert (result.applied, result.parked) == (2, [])
    assert players == ["201"]
