"""Analytics: how games fill, per guild, channel and host, projected from the log.

The ``analytics`` projector (run by :class:`~projections.runner.ProjectionRunner` with its own
position, rebuilt by ``muster replay``) keeps one row per game (``analytics_games``) and one row
per seat given up before the start (``analytics_leaves``); the query functions below aggregate
them. Definitions (also in ``docs/events.md``):

* **games scheduled**: games created; **filled**: games whose every seat was taken at some
  point (a join or promotion with ``joined_count >= max_players``); **fill rate**: filled /
  scheduled; **time to fill**: from creation to that moment;
* **waitlist conversions**: promotions from the waitlist / players who were waitlisted;
* **leaves before start**: seated players who left, and how long before the start they did;
  **late leaves**: within :data:`LATE_MINUTES` of the start;
* **popular times of week**: games by weekday and hour of their start (UTC);
* **attendance**: from the host's latest record after a game: no-shows / players recorded.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import psycopg

from domain.events import (
    AttendanceRecorded,
    GameCancelled,
    GameCompleted,
    GameCreated,
    GameEvent,
    GameRescheduled,
    GameStarted,
    PlayerJoined,
    PlayerLeft,
    PlayerMovedToWaitlist,
    PlayerPromoted,
    PlayerWaitlisted,
)
from projections.feed import LogMessage, game_uuid
from projections.read_models import BatchResult, Parked, ReadModels

LATE_MINUTES = 60
COLUMNS = (
    "game_id", "guild_id", "channel_id", "host_id", "created_at", "scheduled_at", "status",
    "joined", "filled_at", "joins", "waitlisted", "promotions", "seat_leaves", "waitlist_leaves",
    "version", "position",
)  # fmt: skip
COMPARED = {
    "analytics_games": COLUMNS,
    "analytics_leaves": ("position", "game_id", "user_id", "left_at", "minutes_before_start"),
    "analytics_attendance": ("game_id", "user_id", "guild_id", "present", "position"),
}
"""The tables ``muster replay`` compares between the live and the rebuilt schema."""
_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
_UPSERT = (  # fixed column names, no input
    f"INSERT INTO analytics_games ({', '.join(COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) ON CONFLICT (game_id) DO UPDATE SET {_SET}"
)


@dataclass
class GameFacts:
    """One game's row in ``analytics_games``."""

    game_id: str
    guild_id: str
    channel_id: str
    host_id: str
    created_at: datetime
    scheduled_at: datetime
    status: str = "scheduled"
    joined: int = 0
    filled_at: datetime | None = None
    joins: int = 0
    waitlisted: int = 0
    promotions: int = 0
    seat_leaves: int = 0
    waitlist_leaves: int = 0
    version: int = 0
    position: int = 0

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in COLUMNS)


def apply_event(  # noqa: PLR0912 one case per event
    facts: GameFacts | None, event: GameEvent, game_id: str, seq: int
) -> tuple[GameFacts | None, tuple[Any, ...] | None]:
    """One event's effect on a game's facts; returns them and a leave row, if any."""
    if facts is None:
        if not isinstance(event, GameCreated):
            return None, None
        facts = GameFacts(game_id, event.guild_id, event.channel_id, event.host_id,
                          event.occurred_at, event.scheduled_at)  # fmt: skip
    leave = None
    match event:
        case PlayerJoined() | PlayerPromoted():
            facts.joined = event.joined_count
            if isinstance(event, PlayerJoined):
                facts.joins += 1
            else:
                facts.promotions += 1
            if facts.filled_at is None and event.joined_count >= event.max_players:
                facts.filled_at = event.occurred_at
        case PlayerWaitlisted():
            facts.waitlisted += 1
        case PlayerLeft(from_waitlist=True):
            facts.waitlist_leaves += 1
        case PlayerLeft(user_id=user):
            facts.joined -= 1
            facts.seat_leaves += 1
            lead = (facts.scheduled_at - event.occurred_at).total_seconds() / 60
            leave = (seq, game_id, user, event.occurred_at, lead)
        case PlayerMovedToWaitlist():
            facts.joined -= 1
        case GameRescheduled(scheduled_at=when):
            facts.scheduled_at = when
        case GameStarted():
            facts.status = "in_progress"
        case GameCompleted():
            facts.status = "completed"
        case GameCancelled():
            facts.status = "cancelled"
    return facts, leave


class Analytics(ReadModels):
    """The ``analytics`` projection: folds batches into ``analytics_games``/``_leaves``.

    (A :class:`ReadModels` to the runner: same batch contract, its own name and position.)
    """

    name = "analytics"

    def forget_touched(self) -> None:
        """Nothing is cached between batches: rows are read at the start of each one."""

    async def apply(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage]
    ) -> BatchResult:
        result = BatchResult()
        games = [m for m in batch if m.aggregate_id.startswith("game.")]
        keys: dict[str, str] = {}
        for aggregate in {m.aggregate_id for m in games}:
            with contextlib.suppress(ValueError):  # not a game id: its events are parked below
                keys[aggregate] = game_uuid(aggregate)
        facts = await _load(conn, set(keys.values()))
        leaves = []
        attendance: dict[str, tuple[int, AttendanceRecorded]] = {}
        for message in games:
            game_id = keys.get(message.aggregate_id)
            if game_id is None:
                reason = message.error or f"{message.aggregate_id!r} is not game.<uuid>"
                result.parked.append(Parked(message, reason, projector=self.name))
                continue
            current = facts.get(game_id)
            if current is not None and message.version <= current.version:
                result.skipped_duplicates += 1
                continue
            try:
                event = self.mapper.decode(message.topic, message.body)
            except (msgspec.DecodeError, KeyError, ValueError, TypeError) as error:
                reason = message.error or f"{type(error).__name__}: {error}"
                result.parked.append(Parked(message, reason, projector=self.name))
                continue
            if not isinstance(event, GameEvent):
                continue
            updated, leave = apply_event(current, event, game_id, message.seq)
            if updated is not None:
                updated.version, updated.position = message.version, message.seq
                facts[game_id] = updated
            if leave:
                leaves.append(leave)
            if isinstance(event, AttendanceRecorded):
                attendance[game_id] = (message.seq, event)
            result.applied += 1
        result.applied += len(batch) - len(games)  # guild and channel events: nothing to count
        async with conn.cursor() as cur:
            if facts:
                await cur.executemany(_UPSERT, [f.row() for f in facts.values()])
            if leaves:
                await cur.executemany(
                    "INSERT INTO analytics_leaves VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (position) DO NOTHING",
                    leaves,
                )
        await _write_attendance(conn, attendance, facts)
        if result.parked:
            from projections.read_model_sql import write_batch

            await write_batch(
                conn, games={}, timeline=[], guilds={}, channels={}, parked=result.parked,
                state_encoder=self.state_encoder,
            )  # fmt: skip
        return result


async def _write_attendance(
    conn: psycopg.AsyncConnection[Any],
    records: dict[str, tuple[int, AttendanceRecorded]],
    facts: dict[str, GameFacts],
) -> None:
    """Each game's latest attendance record replaces its earlier one."""
    if not records:
        return
    await conn.execute(
        "DELETE FROM analytics_attendance WHERE game_id = ANY(%s::uuid[])", (list(records),)
    )
    rows = [
        (game_id, user, facts[game_id].guild_id, present, seq)
        for game_id, (seq, event) in records.items()
        if game_id in facts
        for users, present in ((event.present, True), (event.no_shows, False))
        for user in users
    ]
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO analytics_attendance VALUES (%s, %s, %s, %s, %s)", rows
            )


async def _load(conn: psycopg.AsyncConnection[Any], game_ids: set[str]) -> dict[str, GameFacts]:
    if not game_ids:
        return {}
    cur = await conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM analytics_games WHERE game_id = ANY(%s::uuid[])",  # noqa: S608
        (list(game_ids),),
    )
    loaded = {}
    for row in await cur.fetchall():
        facts = GameFacts(str(row[0]), *row[1:])
        loaded[facts.game_id] = facts
    return loaded
