"""Start-up state from the read models, and the log from there on.

The read models hold, in one consistent snapshot, every game still to start or end (its
folded domain state), the guild and channel settings, the guild-wide mutes (in the timeline)
and the log position they were built up to. The scheduler loads that and then follows the log
from the next position with the projectors' own :class:`~projections.feed.LogFeed`, folding
each event itself — so it never waits for the projector, and never misses or repeats an event.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import psycopg
from nats.aio.client import Client as NATS

from domain.codec import EventMapper
from domain.events import GuildRemindersMuted, GuildRemindersUnmuted, Settings, type_name
from domain.game import GameState
from gateways.jetstream.layout import Layout
from projections.feed import LogFeed, LogMessage
from projections.scheduler.board import Board

log = logging.getLogger(__name__)

PROJECTION = "read_models"
MUTE_TYPES = [type_name(GuildRemindersMuted), type_name(GuildRemindersUnmuted)]


async def load_snapshot(conn: psycopg.AsyncConnection[Any], board: Board) -> int:
    """Fill ``board`` from the read models; the log position they reflect (0: none)."""
    await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
    decoder = msgspec.msgpack.Decoder(GameState)
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT position FROM projector_position WHERE name = %s", (PROJECTION,)
        )
        row = await cur.fetchone()
        position = int(row[0]) if row else 0
        cur = await conn.execute(
            "SELECT game_id::text, state FROM games WHERE status IN ('scheduled', 'in_progress')"
        )
        async for game_id, state in cur:
            try:
                board.load_game(game_id, decoder.decode(state))
            except msgspec.DecodeError as error:
                log.warning("game %s: unreadable read-model state (%s); skipped", game_id, error)
        cur = await conn.execute("SELECT channel_id, settings FROM channel_settings")
        for channel_id, settings in await cur.fetchall():
            board.channels[channel_id] = msgspec.convert(settings, Settings)
        cur = await conn.execute("SELECT guild_id, settings FROM guild_settings")
        for guild_id, settings in await cur.fetchall():
            board.guilds[guild_id] = msgspec.convert(settings, Settings)
        cur = await conn.execute(
            "SELECT type, body FROM timeline WHERE type = ANY(%s) ORDER BY position",
            (MUTE_TYPES,),
        )
        for kind, body in await cur.fetchall():
            muted = board.guild_muted.setdefault(body["guild_id"], set())
            if kind == MUTE_TYPES[0]:
                muted.add(body["user_id"])
            else:
                muted.discard(body["user_id"])
    await conn.set_isolation_level(None)
    return position


class LogFollower:
    """Folds the log into a :class:`Board` from a position on, batch by batch."""

    def __init__(self, nc: NATS, layout: Layout, board: Board, after: int) -> None:
        self.nc, self.layout, self.board = nc, layout, board
        self.position = after
        self.mapper = EventMapper()
        self.feed = LogFeed(nc, layout, after)

    async def start(self) -> None:
        await self.feed.start()

    async def stop(self) -> None:
        await self.feed.stop()

    async def last_sequence(self) -> int:
        """The log's newest position now (to know when start-up has caught up)."""
        info = await self.nc.jetstream().stream_info(self.layout.stream)
        return int(info.state.last_seq)

    async def step(self, timeout: float) -> int:
        """Fold the next batch (waiting up to ``timeout``); how many events it held."""
        batch = await self.feed.next_batch(timeout)
        touched: set[str] = set()
        for message in batch:
            touched |= self._apply(message)
            self.position = message.seq
        if touched:
            self.board.refresh(touched)
        return len(batch)

    def _apply(self, message: LogMessage) -> set[str]:
        if message.error:
            log.warning("log position %s unreadable: %s", message.seq, message.error)
            return set()
        try:
            event = self.mapper.decode(message.topic, message.body)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError) as error:
            log.warning("log position %s (%s) skipped: %s", message.seq, message.topic, error)
            return set()
        return self.board.apply(message.aggregate_id, event)
