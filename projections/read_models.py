"""The read models: games, participants, reminders, settings and timeline, from the log.

Each batch of log messages is folded in memory with the domain's own fold
(:func:`domain.game.evolve`, so the read model cannot disagree with the rules) while a ``COPY``
streams each folded event into the timeline, then written with a few set-based statements: one
upsert of every touched game and a replace of their participant and reminder rows. The runner
commits that together with its position.

A message whose ``Nats-Msg-Id`` is already in the timeline (a command stored twice after the
broker's duplicate window) is skipped (a large batch looks ids up only when it hits the
timeline's unique ``msg_id``, see :meth:`ReadModels.apply`); an event that cannot be decoded or
folded is parked with its reason, and the batch goes on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from cachetools import TTLCache

from domain.codec import EventMapper
from domain.events import ChannelConfigured, Event, GameEvent, GuildConfigured
from domain.game import GameState, evolve
from projections.feed import LogMessage, game_uuid
from projections.read_model_sql import timeline_copy, timeline_row, uuid_array, write_batch

# Decoding and folding are pure, so an event that fails is parked at once: trying again cannot
# help. Transient failures (PostgreSQL) are retried by the runner, batch by batch and then event by
# event, before anything is parked.
CACHE_SIZE = 50_000
CACHE_IDLE = 600.0
"""Seconds a folded game stays cached without events (10 minutes); then it is read from the
games table again when its next event comes, so memory follows the active games."""
_GAME, _GUILD, _CHANNEL, _OTHER = "game", "guild", "channel", "other"
"""What an event is to the read models (:meth:`ReadModels._kind`)."""
# Batches of at least this many messages skip the message-id lookup unless it is needed (apply).
LOOKUP_BELOW = 1_000
PIPELINE_UP_TO = 64
"""A batch of at most this many messages (a steady projector's, a few events at a time) is
written in pipeline mode, its statements sent without waiting for each other's results: two
round trips to PostgreSQL in all, against about fifteen with ``COPY`` (two of its own for each
table), which each cost a wake-up of two processes on a busy machine. Larger batches (a
rebuild's, a catch-up) stream their rows by ``COPY``."""


@dataclass(slots=True, weakref_slot=True)
class GameRow:
    """A folded game plus what the table keeps beside the domain state (slots: three of its
    fields are set for every event folded; still weakly referable, as the cache's tests need)."""

    state: GameState
    created_at: datetime
    updated_at: datetime
    version: int
    position: int


@dataclass
class Parked:
    """An event the projection gave up on, with why."""

    message: LogMessage
    error: str
    attempts: int = 1
    projector: str = "read_models"


@dataclass
class BatchResult:
    applied: int = 0
    skipped_duplicates: int = 0
    parked: list[Parked] = field(default_factory=list)


class ReadModels:
    """Folds batches of events into the read-model tables (one instance per projector)."""

    name = "read_models"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.mapper = EventMapper()
        self.games: TTLCache[str, GameRow] = TTLCache(CACHE_SIZE, CACHE_IDLE, timer=clock)
        """Folded games, as the table holds them after the last commit: at most ``CACHE_SIZE``,
        none without events for ``CACHE_IDLE`` seconds (the clock stands still during a batch,
        so a game cannot leave between being read and being folded)."""
        self._touched: dict[str, GameRow] = {}  # games folded in this batch: the rows to write
        self._loaded: dict[str, GameRow] = {}  # games read from the table for this batch
        self.state_encoder = msgspec.msgpack.Encoder()
        self._state_decoder = msgspec.msgpack.Decoder(GameState)
        # What isinstance says of each event type, learnt once per type: it goes through
        # msgspec's metaclass (~0.1 µs a call), three times per event before.
        self._kinds: dict[type[Event], str] = {}
        self._game_ids: dict[str, str] = {}  # aggregate id → game id, as game_uuid gives it

    def forget_touched(self) -> None:
        """After a rollback: cached games changed by the failed batch must be reloaded."""
        for game_id in self._touched:
            self.games.pop(game_id, None)
        self._touched.clear()

    def pipelines(self, batch: list[LogMessage]) -> bool:
        """Whether the runner applies ``batch`` (with its position) in pipeline mode; if so,
        :meth:`apply` writes it without ``COPY`` (see :data:`PIPELINE_UP_TO`)."""
        return len(batch) <= PIPELINE_UP_TO

    async def apply(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage]
    ) -> BatchResult:
        """Fold and write one batch inside the caller's transaction (in pipeline mode when
        :meth:`pipelines` says so).

        A large batch (a rebuild's) does not look its message ids up in the timeline first: it
        is written inside a savepoint, and only if an id is there already (the timeline's unique
        ``msg_id`` refuses the row) is it rolled back and applied again with the lookup."""
        if len(batch) < LOOKUP_BELOW:
            return await self._apply(conn, batch, lookup=True)
        try:
            async with conn.transaction():  # a savepoint
                return await self._apply(conn, batch, lookup=False)
        except psycopg.errors.UniqueViolation:
            self.forget_touched()  # the games it folded are read again as stored
            return await self._apply(conn, batch, lookup=True)

    async def _apply(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage], *, lookup: bool
    ) -> BatchResult:
        with self.games.timer:
            return await self._apply_now(conn, batch, lookup=lookup)

    async def _apply_now(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage], *, lookup: bool
    ) -> BatchResult:
        result = BatchResult()
        self._touched, self._loaded = {}, {}
        fresh = await self._without_duplicates(conn, batch, result, lookup)
        await self._load_games(conn, fresh)
        guilds: dict[str, tuple[LogMessage, GuildConfigured]] = {}
        channels: dict[str, tuple[LogMessage, ChannelConfigured]] = {}
        if self.pipelines(batch):  # a few events: bound statements, queued in the pipeline
            timeline = []
            for message in fresh:
                event = self.fold(message, result)
                if event is None:
                    continue
                result.applied += 1
                timeline.append((message, event))
                if (self._kinds.get(type(event)) or self._kind(event)) is not _GAME:
                    _note_settings(message, event, guilds, channels)
            await self._write(conn, guilds, channels, result.parked, timeline)
            return result
        if fresh:  # the timeline is written as the events fold (PostgreSQL stores it meanwhile)
            async with conn.cursor() as cur, timeline_copy(cur) as copy:
                add_row = copy.formatter.write_row  # as write_rows: no coroutine per row
                for message in fresh:
                    event = self.fold(message, result)
                    if event is None:
                        continue
                    result.applied += 1
                    if data := add_row(timeline_row(message, event)):
                        await copy.write(data)
                    if (self._kinds.get(type(event)) or self._kind(event)) is not _GAME:
                        _note_settings(message, event, guilds, channels)
        await self._write(conn, guilds, channels, result.parked)
        return result

    async def _without_duplicates(
        self,
        conn: psycopg.AsyncConnection[Any],
        batch: list[LogMessage],
        result: BatchResult,
        lookup: bool,
    ) -> list[LogMessage]:
        seen: set[str] = set()
        ids = [m.msg_id for m in batch if m.msg_id] if lookup else []
        if ids:
            cur = await conn.execute("SELECT msg_id FROM timeline WHERE msg_id = ANY(%s)", (ids,))
            seen = {row[0] for row in await cur.fetchall()}
        fresh = []
        for message in batch:
            if message.msg_id and message.msg_id in seen:
                result.skipped_duplicates += 1
                continue
            if message.msg_id:
                seen.add(message.msg_id)
            fresh.append(message)
        return fresh

    async def _load_games(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage]
    ) -> None:
        games = self.games
        aggregates = {m.aggregate_id for m in batch}  # each game's id cut once, not per event
        ids = set()
        for aggregate in aggregates:
            if aggregate.startswith("game."):
                with contextlib.suppress(ValueError):  # not a game id: its events are parked
                    ids.add(self._game_id(aggregate))
        # Every game of the batch is held in ``_loaded`` until it is folded: once the cache is
        # full, a cached one could otherwise be pushed out by the batch's new games before its
        # first event here, and be folded as if it had none.
        loaded, wanted = self._loaded, []
        for game_id in ids:
            row = games.get(game_id)
            if row is None:
                wanted.append(game_id)
            else:
                loaded[game_id] = row
        if not wanted:
            return
        cur = await conn.execute(
            "SELECT game_id::text, state, created_at, updated_at, version, position "
            "FROM games WHERE game_id = ANY(%s::uuid[])",
            (uuid_array(wanted),),
        )
        for game_id, state, created, updated, version, position in await cur.fetchall():
            row = GameRow(self._state_decoder.decode(state), created, updated, version, position)
            self.games[game_id] = self._loaded[game_id] = row

    def fold(self, message: LogMessage, result: BatchResult) -> Event | None:
        """Decode and fold one event into the cached state; park it (and return None) if it
        cannot be."""
        if message.error:
            result.parked.append(Parked(message, message.error))
            return None
        try:
            event = self.mapper.decode(message.topic, message.body)
            if (self._kinds.get(type(event)) or self._kind(event)) is _GAME:
                self._fold_game(message, event)  # type: ignore[arg-type]  # a GameEvent
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError, TypeError) as e:
            result.parked.append(Parked(message, f"{type(e).__name__}: {e}"))
            return None
        return event

    def _kind(self, event: Event) -> str:
        """What ``event`` is to the read models (learnt for its type)."""
        kind = (
            _GAME if isinstance(event, GameEvent)
            else _GUILD if isinstance(event, GuildConfigured)
            else _CHANNEL if isinstance(event, ChannelConfigured)
            else _OTHER
        )  # fmt: skip
        self._kinds[type(event)] = kind
        return kind

    def _game_id(self, aggregate_id: str) -> str:
        """:func:`game_uuid`, remembered: the same string each time, so its hash is kept for
        the lookups that follow, and each id is checked once."""
        game_id = self._game_ids.get(aggregate_id)
        if game_id is None:
            if len(self._game_ids) >= CACHE_SIZE:
                self._game_ids.clear()
            game_id = self._game_ids[aggregate_id] = game_uuid(aggregate_id)
        return game_id

    def _fold_game(self, message: LogMessage, event: GameEvent) -> None:
        game_id = self._game_id(message.aggregate_id)
        # This batch's rows first: the cache may have let a game go by count since (a batch of
        # more games than it holds), and a later event of that game must fold on its row.
        row = self._touched.get(game_id)
        if row is not None:  # folded already in this batch (most events): its state in place
            evolve(row.state, event, message.aggregate_id)
            row.updated_at, row.version, row.position = (
                event.occurred_at, message.version, message.seq
            )  # fmt: skip
            return
        row = self._loaded.get(game_id) or self.games.get(game_id)
        state = evolve(row.state if row else None, event, message.aggregate_id)
        when = event.occurred_at
        if row is None:
            row = GameRow(state, when, when, message.version, message.seq)
        else:
            row.updated_at, row.version, row.position = when, message.version, message.seq
        if game_id not in self._touched:  # once a batch (its clock stands still): to the back
            self.games[game_id] = row  # of the queue, its idle time restarted (~1 µs a store)
            self._touched[game_id] = row

    async def _write(
        self,
        conn: psycopg.AsyncConnection[Any],
        guilds: dict[str, tuple[LogMessage, GuildConfigured]],
        channels: dict[str, tuple[LogMessage, ChannelConfigured]],
        parked: list[Parked],
        timeline: list[tuple[LogMessage, Event]] | None = None,
    ) -> None:
        """Write the batch's games, settings and parked events, and with ``timeline`` (a
        pipelined batch) its timeline rows too (a larger one has copied them already)."""
        await write_batch(
            conn, games=self._touched, timeline=timeline or [], guilds=guilds,
            channels=channels, parked=parked, state_encoder=self.state_encoder,
            pipelined=timeline is not None,
        )  # fmt: skip


def _note_settings(
    message: LogMessage,
    event: Event,
    guilds: dict[str, tuple[LogMessage, GuildConfigured]],
    channels: dict[str, tuple[LogMessage, ChannelConfigured]],
) -> None:
    """Keep a batch's last settings event of each guild and channel (the rows to write)."""
    if isinstance(event, GuildConfigured):
        guilds[event.guild_id] = (message, event)
    elif isinstance(event, ChannelConfigured):
        channels[event.channel_id] = (message, event)
