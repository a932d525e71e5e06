"""Set-based SQL for one batch of the read models (see :mod:`projections.read_models`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec
import psycopg
from psycopg.adapt import PyFormat

from domain.events import ChannelConfigured, Event, GuildConfigured

if TYPE_CHECKING:
    from projections.feed import LogMessage
    from projections.read_models import GameRow, Parked

GAME_COLUMNS = (
    "game_id, guild_id, channel_id, host_id, title, description, category, duration_minutes, "
    "details, scheduled_at, status, joined_count, waitlist_count, announcement_channel_id, "
    "announcement_message_id, created_at, updated_at, version, position, state"
)
# Games are upserted from a temporary table filled by COPY: far cheaper than one bound INSERT
# per game when a batch touches thousands of games (as a rebuild does).
STAGE_GAMES = (
    "CREATE TEMP TABLE IF NOT EXISTS games_stage (LIKE games INCLUDING DEFAULTS) "
    "ON COMMIT DELETE ROWS"
)
_ON_GAME_CONFLICT = """
ON CONFLICT (game_id) DO UPDATE SET
    title = EXCLUDED.title, description = EXCLUDED.description, category = EXCLUDED.category,
    duration_minutes = EXCLUDED.duration_minutes, details = EXCLUDED.details,
    scheduled_at = EXCLUDED.scheduled_at, status = EXCLUDED.status,
    joined_count = EXCLUDED.joined_count, waitlist_count = EXCLUDED.waitlist_count,
    announcement_channel_id = EXCLUDED.announcement_channel_id,
    announcement_message_id = EXCLUDED.announcement_message_id,
    updated_at = EXCLUDED.updated_at, version = EXCLUDED.version, position = EXCLUDED.position,
    state = EXCLUDED.state
"""
UPSERT_GAMES = (  # fixed column names, no input
    f"INSERT INTO games ({GAME_COLUMNS}) SELECT {GAME_COLUMNS} FROM games_stage"  # noqa: S608
    + _ON_GAME_CONFLICT
)
UPSERT_GAME = (
    f"INSERT INTO games ({GAME_COLUMNS}) VALUES "  # noqa: S608 - fixed column names
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    + _ON_GAME_CONFLICT
)
"""One game's upsert with bound values (a pipelined batch, :func:`write_batch`)."""
INSERT_PARTICIPANT = (
    "INSERT INTO participants (game_id, kind, ordinal, user_id, placeholder_id, label) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
INSERT_REMINDER = (
    "INSERT INTO reminders (game_id, offset_minutes, user_id, status) VALUES (%s, %s, %s, %s)"
)

UPSERT_GUILD = """
INSERT INTO guild_settings (guild_id, settings, updated_at, position) VALUES (%s, %s, %s, %s)
ON CONFLICT (guild_id) DO UPDATE SET settings = EXCLUDED.settings,
    updated_at = EXCLUDED.updated_at, position = EXCLUDED.position
WHERE guild_settings.position < EXCLUDED.position
"""

UPSERT_CHANNEL = """
INSERT INTO channel_settings (channel_id, guild_id, settings, updated_at, position)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (channel_id) DO UPDATE SET guild_id = EXCLUDED.guild_id,
    settings = EXCLUDED.settings, updated_at = EXCLUDED.updated_at, position = EXCLUDED.position
WHERE channel_settings.position < EXCLUDED.position
"""

PARK = """
INSERT INTO parked_events (projector, position, subject, type, error, attempts)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (projector, position) DO UPDATE SET error = EXCLUDED.error,
    attempts = parked_events.attempts + EXCLUDED.attempts, parked_at = now()
"""

_json = msgspec.json.Encoder()
TIMELINE_COLUMNS = (
    "position, aggregate_id, version, type, occurred_at, actor_id, command_id, msg_id, body"
)
INSERT_TIMELINE = (
    f"INSERT INTO timeline ({TIMELINE_COLUMNS}) "  # noqa: S608 - fixed column names
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
)
"""One event's timeline row with bound values (a pipelined batch: :func:`timeline_params`)."""
TIMELINE_TYPES = ("int8", "text", "int4", "text", "timestamptz", "text", "text", "text", "bytea")
"""How psycopg formats each timeline field in a binary ``COPY``: binary ``COPY`` rows carry no
types, so a ``jsonb`` or ``uuid`` field is given as its binary form already made (see
:func:`binary_jsonb`, ``UUID.bytes``) and sent as it is by psycopg's C ``bytea`` dumper (a Python
dumper was a Python call per field: ~1,800 instructions, see the README)."""


JSONB_V1 = b"\x01"
"""The version byte that starts binary ``jsonb``; the JSON text follows as it is."""


_BYTES_DUMPER = psycopg.adapters.get_dumper(bytes, PyFormat.BINARY)  # C, in psycopg[binary]


def binary_jsonb(text: bytes) -> bytes:
    """JSON text as a binary ``jsonb`` field (format version 1, then the text)."""
    return JSONB_V1 + text


GAME_TYPES = (
    "bytea", "text", "text", "text", "text", "text", "text", "int4", "bytea", "timestamptz",
    "text", "int4", "int4", "text", "text", "timestamptz", "timestamptz", "int4", "int8", "bytea",
)  # fmt: skip
"""The binary types of :data:`GAME_COLUMNS`, as :func:`game_values` gives them (the key and the
details as their binary ``uuid`` and ``jsonb``, as in :data:`TIMELINE_TYPES`)."""


def game_values(
    game_id: bytes, row: GameRow, state_encoder: msgspec.msgpack.Encoder
) -> tuple[object, ...]:
    state = row.state
    details = state.details
    announcement = state.announcement
    return (
        game_id, state.guild_id, state.channel_id, state.host_id, details.title,
        details.description, details.category, details.duration_minutes,
        binary_jsonb(_json.encode(details)), state.scheduled_at, state.status, len(state.joined),
        len(state.waitlist), announcement.channel_id if announcement else None,
        announcement.message_id if announcement else None, row.created_at, row.updated_at,
        row.version, row.position, state_encoder.encode(state),
    )  # fmt: skip


def uuid_array(ids: Iterable[str]) -> str:
    """Game ids as one ``uuid[]`` literal, ``{id,id,…}``, for ``ANY(%s::uuid[])``: a list
    would be dumped by psycopg element by element, each searched by a regular expression for
    characters to quote (~1,900 instructions per rebuilt event); a UUID has none, and text that
    is no UUID fails the cast either way."""
    return "{" + ",".join(ids) + "}"


async def write_rows(copy: psycopg.AsyncCopy, rows: Iterable[Sequence[Any]]) -> None:
    """``copy.write_row`` for each row, without a coroutine per row: rows are formatted into
    the copy's buffer (psycopg's C formatter) and only full buffers are awaited."""
    add = copy.formatter.write_row
    for row in rows:
        if data := add(row):
            await copy.write(data)  # a buffer the formatter has let go: sent as it is


async def write_batch(
    conn: psycopg.AsyncConnection[Any],
    *,
    games: dict[str, GameRow],
    timeline: list[tuple[LogMessage, Event]],
    guilds: dict[str, tuple[LogMessage, GuildConfigured]],
    channels: dict[str, tuple[LogMessage, ChannelConfigured]],
    parked: list[Parked],
    state_encoder: msgspec.msgpack.Encoder,
    pipelined: bool = False,
) -> None:
    """Write everything one batch changed (inside the caller's transaction).

    ``pipelined``: the connection is in pipeline mode (a small batch, see
    :meth:`projections.read_models.ReadModels.pipelines`), so every row goes as a bound
    statement, queued without waiting for its result: a ``COPY`` is not allowed in a pipeline,
    and each one costs two round trips of its own (about fifteen for a batch of one event,
    against one)."""
    async with conn.cursor() as cur:
        if games:
            if pipelined:
                await _write_games_pipelined(cur, games, state_encoder)
            else:
                await _write_games(cur, games, state_encoder)
        if timeline:
            if pipelined:
                await cur.executemany(INSERT_TIMELINE, [timeline_params(m, e) for m, e in timeline])
            else:
                await _write_timeline(cur, timeline)
        if guilds:
            await cur.executemany(UPSERT_GUILD, [
                (gid, _json.encode(e.settings).decode(), e.occurred_at, m.seq)
                for gid, (m, e) in guilds.items()
            ])  # fmt: skip
        if channels:
            await cur.executemany(UPSERT_CHANNEL, [
                (cid, e.guild_id, _json.encode(e.settings).decode(), e.occurred_at, m.seq)
                for cid, (m, e) in channels.items()
            ])  # fmt: skip
        if parked:
            await cur.executemany(PARK, [
                (p.projector, p.message.seq, p.message.aggregate_id, p.message.topic, p.error,
                 p.attempts)
                for p in parked
            ])  # fmt: skip


async def _write_games(
    cur: psycopg.AsyncCursor[Any], games: dict[str, GameRow], encoder: msgspec.msgpack.Encoder
) -> None:
    """Upsert the touched games and replace their participant and reminder rows (binary
    ``COPY``: the state goes as stored, none of its bytes escaped as text)."""
    await cur.execute(STAGE_GAMES)
    keys = {game_id: UUID(game_id).bytes for game_id in games}  # binary uuid
    async with binary_copy(cur, f"games_stage ({GAME_COLUMNS})", GAME_TYPES) as copy:
        await write_rows(copy, (game_values(keys[g], row, encoder) for g, row in games.items()))
    await cur.execute(UPSERT_GAMES)
    ids = uuid_array(games)  # each one a UUID (keys above): nothing to quote
    await cur.execute("DELETE FROM participants WHERE game_id = ANY(%s::uuid[])", (ids,))
    await cur.execute("DELETE FROM reminders WHERE game_id = ANY(%s::uuid[])", (ids,))
    async with binary_copy(
        cur,
        "participants (game_id, kind, ordinal, user_id, placeholder_id, label)",
        ("bytea", "text", "int4", "text", "int4", "text"),  # game_id as binary uuid
    ) as copy:
        await write_rows(copy, _participant_rows(games, keys))
    async with binary_copy(
        cur,
        "reminders (game_id, offset_minutes, user_id, status)",
        ("bytea", "int4", "text", "text"),
    ) as copy:
        await write_rows(copy, (
            (keys[game_id], offset, user, status)
            for game_id, row in games.items()
            for (offset, user), status in row.state.reminders.items()
        ))  # fmt: skip


async def _write_games_pipelined(
    cur: psycopg.AsyncCursor[Any], games: dict[str, GameRow], encoder: msgspec.msgpack.Encoder
) -> None:
    """:func:`_write_games` as bound statements, for a connection in pipeline mode."""
    keys = {game_id: UUID(game_id) for game_id in games}
    await cur.executemany(UPSERT_GAME, [
        game_params(keys[game_id], row, encoder) for game_id, row in games.items()
    ])  # fmt: skip
    ids = uuid_array(games)
    await cur.execute("DELETE FROM participants WHERE game_id = ANY(%s::uuid[])", (ids,))
    await cur.execute("DELETE FROM reminders WHERE game_id = ANY(%s::uuid[])", (ids,))
    if participants := list(_participant_rows(games, keys)):
        await cur.executemany(INSERT_PARTICIPANT, participants)
    if reminders := [
        (keys[game_id], offset, user, status)
        for game_id, row in games.items()
        for (offset, user), status in row.state.reminders.items()
    ]:
        await cur.executemany(INSERT_REMINDER, reminders)


def game_params(
    game_id: UUID, row: GameRow, encoder: msgspec.msgpack.Encoder
) -> tuple[object, ...]:
    """:func:`game_values` for :data:`UPSERT_GAME`: the key as a UUID, the details as JSON text."""
    values = game_values(b"", row, encoder)
    return (game_id, *values[1:8], _json.encode(row.state.details).decode(), *values[9:])


def _participant_rows(
    games: dict[str, GameRow], keys: dict[str, bytes] | dict[str, UUID]
) -> Iterator[tuple[object, ...]]:
    for game_id, row in games.items():
        key, state = keys[game_id], row.state
        for n, user in enumerate(state.joined, 1):
            yield (key, "joined", n, user, None, None)
        for n, user in enumerate(state.waitlist, 1):
            yield (key, "waitlisted", n, user, None, None)
        for n, (pid, label) in enumerate(state.placeholders.items(), 1):
            yield (key, "placeholder", n, None, pid, label)


async def _write_timeline(
    cur: psycopg.AsyncCursor[Any], timeline: list[tuple[LogMessage, Event]]
) -> None:
    """Append every applied event to the timeline (the audit trail, one row per event)."""
    async with timeline_copy(cur) as copy:
        await write_rows(copy, (timeline_row(message, event) for message, event in timeline))


@asynccontextmanager
async def timeline_copy(cur: psycopg.AsyncCursor[Any]) -> AsyncIterator[psycopg.AsyncCopy]:
    """A ``COPY`` into the timeline, rows from :func:`timeline_row`: a batch streams its events
    while it folds them, so PostgreSQL stores them meanwhile on the other core.

    In binary: the cheapest format for both sides (the body goes as stored, PostgreSQL reads
    fields without unescaping text)."""
    async with binary_copy(cur, f"timeline ({TIMELINE_COLUMNS})", TIMELINE_TYPES) as copy:
        yield copy


@asynccontextmanager
async def binary_copy(
    cur: psycopg.AsyncCursor[Any], target: str, types: Sequence[str]
) -> AsyncIterator[psycopg.AsyncCopy]:
    """A binary ``COPY target FROM STDIN`` whose rows psycopg formats as ``types``."""
    # By oid, psycopg would format bytea with the DB-API ``Binary`` wrapper's Python dumper.
    cur.adapters.register_dumper(bytes, _BYTES_DUMPER)
    async with cur.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        yield copy


def timeline_params(message: LogMessage, event: Event) -> tuple[object, ...]:
    """One event's values for :data:`INSERT_TIMELINE` (the body as JSON text)."""
    return (
        message.seq, message.aggregate_id, message.version, message.topic, event.occurred_at,
        event.actor_id, event.command_id, message.msg_id, message.body.decode(),
    )  # fmt: skip


def timeline_row(message: LogMessage, event: Event) -> tuple[object, ...]:
    """One event's timeline row (columns as :data:`TIMELINE_COLUMNS`)."""
    return (
        message.seq, message.aggregate_id, message.version, message.topic, event.occurred_at,
        event.actor_id, event.command_id, message.msg_id, JSONB_V1 + message.body,
    )  # fmt: skip
