"""Discord as a projection of the log: announcements posted once and kept true, DMs sent once.

The projector follows the log like the read models (:class:`~projections.feed.LogFeed` from its
position in ``projector_position``, name ``discord``), but its effects are outside PostgreSQL, so
delivery is at least once and every effect is idempotent:

* **Announcement**: on ``game.created`` the projector notes the intent (its own row), posts with a
  deterministic nonce (``enforce_nonce``: a repeat within Discord's nonce window returns the
  first message; after a longer outage the channel's recent history is searched for the game's
  Join button first), records the message id in its row and in the log (``RecordAnnouncement``,
  deterministic command id).
* **Edits**: after any other change of a game (or of its channel's or guild's settings) it
  renders the announcement from the read model, once the read model has reached the event, and
  edits through the coalescing outbound client with the rendered log position as the version,
  so an older render never overwrites a newer one, whichever process sends it. Edits are not
  awaited one by one: newer renders merge into the pending edit while it waits for the channel's
  rate-limit slot, so a burst costs a few edits.
* **DMs**: each (event, recipient) gets a ``pending`` row before the send (deterministic nonce),
  then its fate — ``sent``, ``refused`` (error 50007: the member blocks DMs; never retried) or
  ``failed`` (any other refusal) — in the row and in the log (``RecordDirectMessage``). A DM
  still pending after Discord's nonce window (a restart, a long queue) is first looked for in
  the member's DM channel (:class:`~gateways.discord.dm_search.DmSearch`, by its nonce or the
  ``ref`` line it shows), so it is delivered once however late the repeat.

The position only moves past an event once everything it asked for is done; a failure Discord
may recover from (5xx, timeouts) ends :meth:`DiscordProjector.run` with the error, and the
supervisor restarts it from the position, which repeats nothing that was done. A reply from
the Discord work queue that is merely late is not such a failure (the queued operation is still
carried out; re-queueing it would only make the queue longer): the projector waits for it up to
``REPLY_PATIENCE`` seconds (``patient``), counted in its health figures as ``late_replies``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from nats.aio.client import Client as NATS

from domain.commands import SYSTEM_USER_ID, RecordAnnouncement, RecordDirectMessage
from domain.errors import ConcurrencyConflict, DomainError
from domain.events import DirectMessageStatus
from domain.ports import CommandPort
from gateways.discord.dm_search import ref_line
from gateways.discord.errors import OutboundError
from gateways.discord.outbound import patient
from gateways.discord.ports import OutboundPort
from gateways.jetstream.layout import Layout
from gateways.postgres import connect
from projections import queries
from projections.discord import render, store
from projections.discord.plan import EVERYONE, DirectMessage, Effects, effects_of
from projections.discord.progress import DiscordProgress, Posted, permanent
from projections.discord.render import dm_body, located
from projections.feed import LogFeed, LogMessage
from projections.freshness import ProjectionBehind, wait_for_position
from projections.queries import GameDetail
from projections.runner import UPSERT_POSITION, hold_projector_lock, stored_position

log = logging.getLogger(__name__)

NAME = "discord"
BLOCKED_DMS = 50007  # Discord: "Cannot send messages to this user"
NONCE_WINDOW = timedelta(minutes=2)  # Discord keeps nonces "a few minutes"; stay well inside
DM_MAX_AGE = timedelta(days=1)  # an older event's DM is no longer news: recorded as skipped
MAX_PENDING = 500  # effects in flight before the projector stops reading the log
GRACE = 5.0  # seconds effects in flight may take to finish when the projector is stopped
FAR = timedelta(days=3650)
REPLY_PATIENCE = 600.0  # seconds an effect waits for a late reply from the work queue


def utc_now() -> datetime:
    return datetime.now(UTC)


class DiscordProjector:
    """Follows the log and keeps Discord in line with it (see the module docstring)."""

    name = NAME

    def __init__(
        self,
        nc: NATS,
        layout: Layout,
        database_url: str,
        schema: str,
        *,
        outbound: OutboundPort,
        commands: CommandPort,
        clock: Callable[[], datetime] = utc_now,
        max_batch: int = 500,
        read_model_wait: float = 5.0,
        dm_max_age: timedelta = DM_MAX_AGE,
        find_dm: Callable[[str, str], Awaitable[str | None]] | None = None,
    ) -> None:
        self.nc, self.layout, self.outbound, self.commands = nc, layout, outbound, commands
        self.database_url, self.schema = database_url, schema
        self.clock, self.max_batch, self.read_model_wait = clock, max_batch, read_model_wait
        self.dm_max_age = dm_max_age
        self.find_dm = find_dm  # (user, nonce) -> the DM's id if it went out (DmSearch.find)
        self.progress = DiscordProgress()
        self._inflight: list[tuple[int, list[asyncio.Task[Any]]]] = []
        self._posts: dict[str, asyncio.Task[Posted | None]] = {}  # posts in flight, by game
        self._conn: Any = None  # the projector's own connection (autocommit)
        self._results: Any = None  # effects record their outcome on this one

    async def run(self, stop: asyncio.Event, until: int | None = None) -> DiscordProgress:
        """Project until ``stop`` is set (or everything up to ``until`` is done)."""
        with patient(REPLY_PATIENCE):  # every effect's task inherits it
            return await self._run(stop, until)

    async def _run(self, stop: asyncio.Event, until: int | None) -> DiscordProgress:
        async with contextlib.AsyncExitStack() as cleanup:
            lock = await connect(self.database_url, self.schema)
            cleanup.push_async_callback(lock.close)
            if not await hold_projector_lock(lock, self.schema, NAME, stop):
                return self.progress
            for attr in ("_conn", "_results"):
                conn = await connect(self.database_url, self.schema)
                await conn.set_autocommit(True)
                cleanup.push_async_callback(conn.close)
                setattr(self, attr, conn)
            self.progress.position = await stored_position(self._conn, NAME)
            feed = LogFeed(self.nc, self.layout, self.progress.position, self.max_batch)
            cleanup.push_async_callback(feed.stop)
            cleanup.push_async_callback(self._abandon)
            await feed.start()
            read = self.progress.position
            while not stop.is_set() and (until is None or self.progress.position < until):
                batch = await feed.next_batch(timeout=0.1) if until is None or read < until else []
                if until is not None:
                    batch = [m for m in batch if m.seq <= until]
                if batch:
                    read = batch[-1].seq
                    await self._handle(batch, stop)
                await self._settle(wait=not batch and bool(self._inflight))
            await self._finish(GRACE)
        return self.progress

    def figures(self) -> dict[str, object]:
        """For the health report: what it has done, and what is in flight."""
        return {
            "position": self.progress.position,
            "posted": self.progress.posted,
            "edits": self.progress.edits,
            "dms": dict(self.progress.dms),
            "problems": self.progress.problems,
            "in_flight": sum(1 for _, ts in self._inflight for t in ts if not t.done()),
            # replies of the work queue past MUSTER_DISCORD_REPLY_TIMEOUT (external mode): a
            # warning that the queue is behind, not a failure
            "late_replies": getattr(self.outbound, "late_replies", 0),
            "waiting_late": getattr(self.outbound, "waiting_late", 0),
        }

    # -- one batch ---------------------------------------------------------------------------
    async def _handle(self, batch: list[LogMessage], stop: asyncio.Event) -> None:
        effects = [e for e in map(effects_of, batch) if e is not None]
        tasks: list[asyncio.Task[Any]] = []
        if effects:
            if not await self._follow_read_model(batch[-1].seq, stop):
                return  # stopped while waiting: nothing of this batch was done
            games, floors = await self._games(effects)
            for game_id, detail in games.items():
                mine = [e for e in effects if e.game_id == game_id]
                floor = floors.get(game_id, 0)
                changed = max([e.seq for e in mine] + [floor])  # the newest change to show
                version = max(detail.position, floor)
                tasks += await self._announce(detail, mine, version, changed)
            for effect in effects:
                owed_by = games.get(effect.game_id or "")
                if owed_by is not None:
                    for dm in effect.dms:
                        tasks += await self._owe(owed_by, dm)
        self._inflight.append((batch[-1].seq, tasks))
        while sum(len(t) for _, t in self._inflight) > MAX_PENDING:
            await self._settle(wait=True)

    async def _follow_read_model(self, position: int, stop: asyncio.Event) -> bool:
        """Wait until the read models have applied ``position`` (renders come from them);
        False if ``stop`` was set meanwhile."""
        while not stop.is_set():
            try:
                await wait_for_position(self._conn, position, timeout=self.read_model_wait)
            except ProjectionBehind as behind:
                log.warning("Discord projection waits for the read models: %s", behind)
            else:
                return True
        return False

    async def _games(self, effects: list[Effects]) -> tuple[dict[str, GameDetail], dict[str, int]]:
        """The read model of every game the batch concerns, and for games whose channel's or
        guild's settings changed, that change's position (their render reflects it, though the
        game's own position did not move)."""
        ids = list(dict.fromkeys(e.game_id for e in effects if e.game_id))
        floors: dict[str, int] = {}
        now = self.clock()
        for effect in effects:
            reached: list[str] = []
            if effect.channel_id:
                reached = [g.game_id for g in await queries.games_in_channel(
                    self._conn, effect.channel_id)]  # fmt: skip
            if effect.guild_id:
                found = await queries.games_in_guild(
                    self._conn, effect.guild_id, now - timedelta(days=1), now + FAR
                )
                reached = [g.game_id for g in found if g.status in ("scheduled", "in_progress")]
            for game_id in reached:
                floors[game_id] = effect.seq
            ids += reached
        games: dict[str, GameDetail] = {}
        for game_id in dict.fromkeys(ids):
            detail = await queries.game_detail(self._conn, game_id)
            if detail is None:
                log.warning("game %s is not in the read models (parked there?)", game_id)
            else:
                games[game_id] = detail
        return games, floors

    # -- announcements -----------------------------------------------------------------------
    async def _announce(
        self, detail: GameDetail, effects: list[Effects], version: int, changed: int
    ) -> list[asyncio.Task[Any]]:
        """Post the game's announcement, or edit it to show ``detail`` (rendered as of log
        position ``version``) unless it already shows the change at ``changed``."""
        post = self._posts.get(detail.game_id)
        if post is not None:
            return [asyncio.create_task(self._edit_after(post, detail, version, changed))]
        mine = await store.announcement(self._conn, detail.game_id)
        tasks: list[asyncio.Task[Any]] = []
        if mine is not None and mine.message_id:
            channel_id, message_id = mine.channel_id, mine.message_id
            if not mine.recorded:  # posted, but the run ended before the log was told
                record = self._record_post(detail.game_id, channel_id, message_id)
                tasks.append(asyncio.create_task(record))
        elif detail.announcement_message_id and detail.announcement_channel_id:
            channel_id = detail.announcement_channel_id
            message_id = detail.announcement_message_id
        elif mine is not None or (any(e.created for e in effects) and not self._over(detail)):
            # (over before the projector first saw it: old news, unless a post was tried, which
            # may be in Discord however the run that tried it ended)
            seq = min((e.seq for e in effects), default=changed)
            post = self._posting(detail, mine, seq, version)
            if mine is None:
                return [post]
            return [post, asyncio.create_task(self._edit_after(post, detail, version, changed))]
        else:
            return []
        shown = mine.rendered_position if mine is not None and mine.message_id else 0
        if shown < changed:  # (a render shows everything up to its version)
            tasks.append(asyncio.create_task(self._edit(detail, channel_id, message_id, version)))
        return tasks

    async def _post(
        self, detail: GameDetail, mine: store.Posted | None, seq: int, version: int
    ) -> Posted | None:
        """Post the announcement once; where it is and the version it shows (None: refused)."""
        op = store.nonce("announcement", self.layout.stream, detail.game_id)
        now = self.clock()
        message_id = None
        over = self._over(detail)
        if mine is not None and (over or now - mine.attempted_at > NONCE_WINDOW):
            message_id = await self._find_post(detail)  # posted before the run ended?
            if message_id is None and over:  # never shown, and over: nothing to announce
                await store.forget_post(self._results, detail.game_id)
                return None
        await store.intend_post(self._results, detail.game_id, detail.channel_id, op, now)
        if message_id is None:
            try:
                sent = await self.outbound.send_message(
                    detail.channel_id, render.announcement(detail), op_id=op
                )
            except OutboundError as error:
                if not permanent(error):
                    raise
                await store.forget_post(self._results, detail.game_id)
                await self._park(seq, f"game.{detail.game_id}", "announcement", error)
                return None
            message_id = str(sent["id"]) if sent else None
            if message_id is None:
                raise RuntimeError(f"Discord returned no message for game {detail.game_id}")
            self.progress.posted += 1
        # A repeat (found, or the nonce's first message) may show an older render: not counted
        # as showing any, so the edit that follows it (see _announce) shows this one.
        shown = version if mine is None else 0
        await store.posted(self._results, detail.game_id, detail.channel_id, message_id,
                           op=op, now=now, rendered=shown)  # fmt: skip
        await self._record_post(detail.game_id, detail.channel_id, message_id)
        return Posted(detail.channel_id, message_id, shown)

    def _over(self, detail: GameDetail) -> bool:
        """Over, or long past: no news to announce."""
        ended = detail.status in ("completed", "cancelled")
        return ended or detail.scheduled_at < self.clock() - self.dm_max_age

    async def _record_post(self, game_id: str, channel_id: str, message_id: str) -> None:
        """Tell the log where the announcement is (idempotent), then remember it was told."""
        await self._record(RecordAnnouncement(
            command_id=f"discord:announcement:{game_id}", user_id=SYSTEM_USER_ID,
            game_id=game_id, channel_id=channel_id, message_id=message_id,
        ))  # fmt: skip
        await store.recorded(self._results, game_id)

    def _posting(
        self, detail: GameDetail, mine: store.Posted | None, seq: int, version: int
    ) -> asyncio.Task[Posted | None]:
        """The post as a task of its own (a channel out of budget holds up nothing else);
        later renders and DMs of the game wait for it."""
        task = asyncio.create_task(self._post(detail, mine, seq, version))
        self._posts[detail.game_id] = task
        task.add_done_callback(lambda done: self._forget_post(detail.game_id, done))
        return task

    def _forget_post(self, game_id: str, done: asyncio.Task[Posted | None]) -> None:
        if self._posts.get(game_id) is done:
            del self._posts[game_id]

    async def _edit_after(
        self, post: asyncio.Task[Posted | None], detail: GameDetail, version: int, changed: int
    ) -> None:
        """Edit once the post still in flight is made (unless it already shows ``changed``)."""
        posted = await post
        if posted is not None and posted.version < changed:
            await self._edit(detail, posted.channel_id, posted.message_id, version)

    async def _find_post(self, detail: GameDetail) -> str | None:
        """The game's announcement among the channel's latest messages (found by its button)."""
        wanted = f"{render.JOIN}{detail.game_id}"
        for message in await self.outbound.fetch_history(detail.channel_id, limit=100):
            for row in message.get("components") or []:
                if any(c.get("custom_id") == wanted for c in row.get("components") or []):
                    return str(message["id"])
        return None

    async def _edit(
        self, detail: GameDetail, channel_id: str, message_id: str, version: int
    ) -> None:
        try:
            await self.outbound.edit_message(channel_id, message_id, render.announcement(detail),
                                             version=version, wait=True)  # fmt: skip
        except OutboundError as error:
            if not permanent(error):
                raise
            log.error("announcement of game %s cannot be edited: %s", detail.game_id, error)  # noqa: TRY400 Discord's refusal, no traceback needed
            self.progress.problems += 1
            return
        self.progress.edits += 1
        await store.rendered(self._results, detail.game_id, version)

    # -- DMs ---------------------------------------------------------------------------------
    async def _owe(self, detail: GameDetail, dm: DirectMessage) -> list[asyncio.Task[Any]]:
        recipients = [dm.user_id]
        if dm.user_id == EVERYONE:
            joined, waiting = await queries.players_at(self._conn, detail.game_id, dm.source)
            recipients = [u for u in joined + waiting if u != dm.except_id]
        post = self._posts.get(detail.game_id)
        if post is None and detail.announcement_message_id is None:
            mine = await store.announcement(self._conn, detail.game_id)
            if mine is not None and mine.message_id:  # posted, not yet in the read model
                detail = located(detail, mine.channel_id, mine.message_id)
        tasks: list[asyncio.Task[Any]] = []
        for user in recipients:
            op = store.nonce("dm", self.layout.stream, dm.source, user)
            owed = await store.owe_dm(self._conn, dm.source, user, game_id=detail.game_id,
                                      kind=dm.kind, op=op, now=self.clock())  # fmt: skip
            if owed.status != "pending":
                continue
            known = await queries.recorded_direct_message(
                self._conn, detail.game_id, dm.source, user
            )
            if known is not None:  # recorded in the log, not yet in the row
                await store.dm_done(self._conn, dm.source, user, status=known, message_id=None,
                                    detail="", now=self.clock())  # fmt: skip
                continue
            if dm.occurred_at is not None and self.clock() - dm.occurred_at > self.dm_max_age:
                why = f"not news any more: the event is older than {self.dm_max_age}"
                tasks.append(
                    asyncio.create_task(self._record_dm(detail, dm, user, "skipped", why=why))
                )
            else:
                tried = owed.attempted_at
                send = self._send_dm(detail, dm, user, op, post, tried=tried)
                tasks.append(asyncio.create_task(send))
        return tasks

    async def _send_dm(
        self, detail: GameDetail, dm: DirectMessage, user: str, op: str,
        post: asyncio.Task[Posted | None] | None, *, tried: datetime,
    ) -> None:  # fmt: skip
        posted = await post if post is not None else None
        if posted is not None:  # just posted: the read model does not know it yet
            detail = located(detail, posted.channel_id, posted.message_id)
        if self.find_dm is not None and self.clock() - tried > NONCE_WINDOW:
            found = await self.find_dm(user, op)  # sent before a restart, past the nonce window?
            if found is not None:
                await self._record_dm(detail, dm, user, "sent", why="", message_id=found)
                return
            await store.dm_attempted(self._results, dm.source, user, self.clock())
        message_id, why = None, ""
        status: DirectMessageStatus
        body = dm_body(detail, dm)
        body = msgspec.structs.replace(body, content=f"{body.content}\n{ref_line(op)}")
        try:
            sent = await self.outbound.send_dm(user, body, op_id=op)
        except OutboundError as error:
            if not permanent(error):
                raise
            status = "refused" if error.code == BLOCKED_DMS else "failed"
            why = ("the member does not accept direct messages from the bot"
                   if status == "refused" else error.reason)[:500]  # fmt: skip
        else:
            status, message_id = "sent", (str(sent["id"]) if sent else None)
        await self._record_dm(detail, dm, user, status, why=why, message_id=message_id)

    async def _record_dm(
        self, detail: GameDetail, dm: DirectMessage, user: str, status: DirectMessageStatus, *,
        why: str, message_id: str | None = None,
    ) -> None:  # fmt: skip
        await self._record(RecordDirectMessage(
            command_id=f"discord:dm:{self.layout.stream}:{dm.source}:{user}",
            user_id=SYSTEM_USER_ID, game_id=detail.game_id, recipient_id=user, kind=dm.kind,
            source_position=dm.source, status=status, detail=why, message_id=message_id,
        ))  # fmt: skip
        await store.dm_done(self._results, dm.source, user, status=status, message_id=message_id,
                            detail=why, now=self.clock())  # fmt: skip
        self.progress.dms[status] = self.progress.dms.get(status, 0) + 1

    # -- bookkeeping -------------------------------------------------------------------------
    async def _record(self, command: RecordAnnouncement | RecordDirectMessage) -> None:
        try:
            await self.commands.send(command)
        except ConcurrencyConflict:
            raise  # busy, not wrong: the run ends and the next one records it
        except DomainError as error:  # refused for good: say so, go on
            log.error("could not record %s: %s", type(command).__name__, error)  # noqa: TRY400 a refusal, not a bug
            self.progress.problems += 1

    async def _park(self, seq: int, aggregate_id: str, what: str, error: Exception) -> None:
        log.error("Discord refused the %s of %s: %s (parked)", what, aggregate_id, error)
        self.progress.problems += 1
        await self._results.execute(
            "INSERT INTO parked_events (projector, position, subject, type, error, attempts) "
            "VALUES (%s, %s, %s, %s, %s, 1) ON CONFLICT DO NOTHING",
            (NAME, seq, self.layout.subject_for(aggregate_id), what, str(error)[:1000]),
        )

    async def _settle(self, *, wait: bool) -> None:
        """Move the position past every batch whose effects are all done; raise the first
        failure. With ``wait``, first wait for the oldest batch's effects."""
        if wait and self._inflight:
            pending = [t for t in self._inflight[0][1] if not t.done()]
            if pending:
                await asyncio.wait(pending, timeout=0.5, return_when=asyncio.FIRST_EXCEPTION)
        for _, tasks in self._inflight:
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        done = None
        while self._inflight and all(t.done() for t in self._inflight[0][1]):
            done = self._inflight.pop(0)[0]
        if done is not None:
            await self._conn.execute(UPSERT_POSITION, (NAME, done))
            self.progress.position = done

    async def _finish(self, grace: float) -> None:
        """On a requested stop: give what is in flight ``grace`` seconds to finish and record
        the position it reaches (the rest is redone by the next run)."""
        tasks = [t for _, ts in self._inflight for t in ts]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        with contextlib.suppress(Exception):  # a failure here is redone by the next run
            await self._settle(wait=False)

    async def _abandon(self) -> None:
        """On the way out: effects in flight are cancelled (the position has not passed them,
        so they are redone, idempotently, by the next run)."""
        tasks = [t for _, ts in self._inflight for t in ts if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()
