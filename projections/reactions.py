"""Reactions to events: what must follow in *other* aggregates, sent as ordinary commands.

:class:`SettingsReactions` follows the log for ``channel.configured`` and ``guild.configured``
events that change ``max_players``, and sends :class:`~domain.commands.ReconcileSeats` to every
scheduled game that inherits the changed cap: games in that channel (or guild) without a cap of
their own and, for a guild change, in a channel without one either. The game's decision then
promotes waiting players into new seats, or moves the latest seated players over a lower cap to
the head of the waitlist (``domain/membership.py``).

Why running it twice, or in two processes, changes nothing:

* each command's id is ``settings:<aggregate_id>:<aggregate_version>:<game_id>`` — the same for
  the same configuration and game, so a repeat returns the first outcome and stores nothing; the
  audit of the game shows which configuration caused a move (and the actor is Muster, id 0);
* the decision reads the channel's and guild's settings at least at the version of the event
  (``channel_version`` / ``guild_version``), never an older cached copy;
* the reaction's stream position is kept in ``projector_position`` (row ``settings_reactions``)
  once every command of a batch was answered, so a restart resumes there; a crash re-sends at
  most one batch, which the ids make harmless. One runner per schema holds an advisory lock.

Which games inherit the change is read from the read models, **after** they have applied the
event (:func:`projections.freshness.wait_for_position`). A read model that is behind is waited
for, however long it takes (a warning is logged while waiting): the reaction never chooses games
from an older read model, and never skips an event. A read model that is ahead is harmless: a
game reconciled needlessly stores nothing.

Known limit: a decision in *another* process may use settings cached for up to
``MusterApp.SETTINGS_MAX_AGE`` seconds; a join decided there after the reconcile with the old,
higher cap is corrected by the game's next cap change or reconcile, not at once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import msgspec
import psycopg
from nats.aio.client import Client as NATS

from domain.codec import EventMapper
from domain.commands import SYSTEM_USER_ID, ReconcileSeats
from domain.errors import ConcurrencyConflict, DomainError
from domain.events import ChannelConfigured, GuildConfigured, type_name
from domain.ports import CommandPort
from gateways.jetstream.layout import Layout
from gateways.postgres import connect
from projections.feed import LogFeed, LogMessage
from projections.freshness import ProjectionBehind, wait_for_position
from projections.runner import UPSERT_POSITION, hold_projector_lock, stored_position

log = logging.getLogger(__name__)

SETTINGS_TOPICS = frozenset(type_name(t) for t in (GuildConfigured, ChannelConfigured))

GAMES_INHERITING_CHANNEL_CAP = """
SELECT game_id::text FROM games
WHERE channel_id = %s AND status = 'scheduled' AND details->>'max_players' IS NULL
ORDER BY scheduled_at, game_id
"""
GAMES_INHERITING_GUILD_CAP = """
SELECT g.game_id::text FROM games g
LEFT JOIN channel_settings c ON c.channel_id = g.channel_id
WHERE g.guild_id = %s AND g.status = 'scheduled' AND g.details->>'max_players' IS NULL
    AND (c.settings IS NULL OR c.settings->>'max_players' IS NULL)
ORDER BY g.scheduled_at, g.game_id
"""

SettingsEvent = GuildConfigured | ChannelConfigured


@dataclass
class ReactionProgress:
    """What the reaction has done so far (for tests, health and logs)."""

    position: int = 0
    settings_events: int = 0  # cap changes reacted to
    commands: int = 0  # ReconcileSeats sent (repeats included)
    changed: int = 0  # of which stored events (not counting replayed repeats)
    refused: int = 0  # refused by the domain (logged)


def reconcile_command(message: LogMessage, event: SettingsEvent, game_id: str) -> ReconcileSeats:
    """The command for one game, with an id that names the configuration that caused it."""
    level = "channel_version" if isinstance(event, ChannelConfigured) else "guild_version"
    fields: dict[str, Any] = {level: message.version}
    return ReconcileSeats(
        command_id=f"settings:{message.aggregate_id}:{message.version}:{game_id}",
        user_id=SYSTEM_USER_ID,
        game_id=game_id,
        **fields,
    )


async def games_inheriting_cap(
    conn: psycopg.AsyncConnection[Any], event: SettingsEvent
) -> list[str]:
    """Scheduled games whose resolved cap comes from the changed channel or guild."""
    if isinstance(event, ChannelConfigured):
        cur = await conn.execute(GAMES_INHERITING_CHANNEL_CAP, (event.channel_id,))
    else:
        cur = await conn.execute(GAMES_INHERITING_GUILD_CAP, (event.guild_id,))
    return [row[0] for row in await cur.fetchall()]


class SettingsReactions:
    """Sends ReconcileSeats to the games a channel or guild cap change reaches."""

    name = "settings_reactions"

    def __init__(
        self,
        nc: NATS,
        layout: Layout,
        database_url: str,
        schema: str,
        commands: CommandPort,
        *,
        concurrency: int = 8,
        read_model: str = "read_models",
        behind_warning: float = 5.0,
        max_batch: int = 2_000,
    ) -> None:
        self.nc, self.layout, self.commands = nc, layout, commands
        self.database_url, self.schema = database_url, schema
        self.concurrency = concurrency
        self.read_model = read_model
        self.behind_warning = behind_warning
        self.max_batch = max_batch
        self.mapper = EventMapper()
        self.progress = ReactionProgress()

    async def run(self, stop: asyncio.Event, until: int | None = None) -> ReactionProgress:
        """React until ``stop`` is set (or position ``until`` is reached)."""
        async with AsyncExitStack() as cleanup:
            lock = await connect(self.database_url, self.schema)
            cleanup.push_async_callback(lock.close)
            if not await hold_projector_lock(lock, self.schema, self.name, stop):
                return self.progress
            conn = await connect(self.database_url, self.schema)
            cleanup.push_async_callback(conn.close)
            self.progress.position = await stored_position(conn, self.name)
            await conn.commit()
            feed = LogFeed(self.nc, self.layout, self.progress.position, self.max_batch)
            cleanup.push_async_callback(feed.stop)
            await feed.start()
            while not stop.is_set() and (until is None or self.progress.position < until):
                batch = await feed.next_batch(timeout=0.2)
                if until is not None:
                    batch = [m for m in batch if m.seq <= until]
                if not batch:
                    continue
                if not await self._react(conn, batch, stop):
                    break  # stopped while waiting for the read model
                async with conn.transaction():
                    await conn.execute(UPSERT_POSITION, (self.name, batch[-1].seq))
                self.progress.position = batch[-1].seq
        return self.progress

    async def _react(
        self, conn: psycopg.AsyncConnection[Any], batch: list[LogMessage], stop: asyncio.Event
    ) -> bool:
        latest = {c[0].aggregate_id: c for c in map(self._cap_change, batch) if c is not None}
        changes = sorted(latest.values(), key=lambda c: c[0].seq)  # older ones are superseded
        if not changes:
            return True
        if not await self._wait_for_read_model(conn, changes[-1][0].seq, stop):
            return False
        for message, event in changes:
            games = await games_inheriting_cap(conn, event)
            await conn.rollback()  # end the read: the next one sees newer commits
            log.info(
                "%s v%d changed max players: reconciling %d game(s)",
                message.aggregate_id, message.version, len(games),
            )  # fmt: skip
            self.progress.settings_events += 1
            await self._send_all(message, event, games)
        return True

    def _cap_change(self, message: LogMessage) -> tuple[LogMessage, SettingsEvent] | None:
        if message.topic not in SETTINGS_TOPICS or message.error:
            return None
        try:
            event = self.mapper.decode(message.topic, message.body)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError) as error:
            log.warning("cannot read %s at %d: %s", message.topic, message.seq, error)
            return None
        if not isinstance(event, SettingsEvent) or "max_players" not in event.changed:
            return None
        return message, event

    async def _wait_for_read_model(
        self, conn: psycopg.AsyncConnection[Any], position: int, stop: asyncio.Event
    ) -> bool:
        """Wait until the read models have applied ``position``; False if stopped first."""
        warned = False
        while not stop.is_set():
            try:
                await wait_for_position(conn, position, self.behind_warning, self.read_model)
            except ProjectionBehind as behind:
                if not warned:
                    log.warning("settings reactions wait for the read models: %s", behind)
                    warned = True
                continue
            if warned:
                log.info("read models reached %d; settings reactions go on", position)
            return True
        return False

    async def _send_all(self, message: LogMessage, event: SettingsEvent, games: list[str]) -> None:
        room = asyncio.Semaphore(self.concurrency)

        async def send(game_id: str) -> None:
            async with room:
                await self._send(reconcile_command(message, event, game_id))

        async with asyncio.TaskGroup() as group:
            for game_id in games:
                group.create_task(send(game_id))

    async def _send(self, command: ReconcileSeats) -> None:
        self.progress.commands += 1
        try:
            outcome = await self.commands.send(command)
        except ConcurrencyConflict:
            raise  # transient: the service restarts and sends the batch again
        except DomainError as refused:
            self.progress.refused += 1
            log.warning("%s was refused: %s", command.command_id, refused)
            return
        if outcome.event_types and not outcome.replayed:
            self.progress.changed += 1
            log.info("game %s: %s", command.game_id, outcome.message)
