"""Outbound Discord operations behind one interface, and the ``direct`` and ``in_process`` modes.

Contract of :class:`Outbound` (the ``OutboundPort`` of :mod:`gateways.discord.ports`; the cases in
``tests/contracts/discord_outbound.py`` run against all three modes and the in-memory fake):

* ``send_message`` / ``send_dm`` return the created message; however often the operation is
  retried or redelivered, Discord shows it once (``nonce`` + ``enforce_nonce``).
* ``edit_message`` returns once the edit is accepted; with ``wait=True``, once Discord shows this
  content or newer. Edits of one message coalesce, and a channel gets at most its budget of
  writes (5 per 5 s), spaced so the newest content lands within one spacing.
* ``edit_message(..., version=position)`` never lets an older render replace a newer one: the
  version is the log position the body was rendered from, claimed in Redis, so the order holds
  across processes whatever their clocks.
* ``update_messages`` edits several messages (each coalesced on its own, each with its version).
* ``delete_message`` succeeds if the message is already gone.
* ``fetch_history`` / ``fetch_emojis`` return Discord's payloads.
* Discord refusing an operation raises :class:`OutboundError`; in ``external`` mode, no reply in
  time raises :class:`OutboundTimeout` (the operation may still run later, idempotently).
  A caller for whom a late reply is no failure (the Discord projection: its work queue may be
  long) runs inside :func:`patient`: past the reply timeout it keeps waiting, up to the
  patience it gave, with a warning in the log and in the outbound's ``late`` figures (not
  across a reconnect of NATS, which may have lost the reply: then ``OutboundTimeout``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from discord.errors import HTTPException, RateLimited

from gateways.discord.cache import describe
from gateways.discord.client import DiscordRest
from gateways.discord.coalesce import Coalescer
from gateways.discord.errors import OutboundError
from gateways.discord.ops import (
    Body,
    DeleteMessage,
    EditMessage,
    Executor,
    FetchEmojis,
    FetchHistory,
    Json,
    Op,
    SendDM,
    SendMessage,
    edit_route,
    lane_of,
    op_name,
)
from gateways.discord.ports import MessageEdit

REPLY_PATIENCE: ContextVar[float] = ContextVar("discord_reply_patience", default=0.0)


@contextlib.contextmanager
def patient(seconds: float) -> Iterator[None]:
    """Within this block (and the tasks started in it), a reply later than the reply timeout
    is waited for, up to ``seconds`` in all, before :class:`OutboundTimeout`."""
    token = REPLY_PATIENCE.set(seconds)
    try:
        yield
    finally:
        REPLY_PATIENCE.reset(token)


class Outbound(abc.ABC):
    """Send, edit, delete messages; DMs; history; emojis (see the module docstring)."""

    mode: str

    def __init__(self, rest: DiscordRest) -> None:
        self.rest = rest
        self.metrics = rest.metrics
        self.executor = Executor(rest.http, rest.cache, rest.redis, rest.keys)
        self.coalescer = Coalescer(self._admit, self._dispatch, self.metrics, self.mode)

    @abc.abstractmethod
    async def _dispatch(self, op: Op, *, wait: bool = True) -> Any:
        """Carry out ``op`` in this mode; its result (``None`` if not ``wait``)."""

    async def start(self) -> Outbound:
        return self

    async def close(self) -> None:
        await self.coalescer.flush()

    async def _admit(self, op: EditMessage) -> object:
        """Take the channel's edit slot before the pending content is fixed."""
        return await self.rest.http.admit(edit_route(op.channel_id, op.message_id))

    # -- the interface ---------------------------------------------------------------------
    async def send_message(
        self, channel_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        """Post a message; pass the same ``op_id`` when retrying so it is posted once."""
        op = SendMessage(channel_id=str(channel_id), body=body, **_id(op_id))
        return await self._dispatch(op, wait=wait)  # type: ignore[no-any-return]

    async def send_dm(
        self, user_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        """Direct-message a user (their DM channel is opened once and cached)."""
        op = SendDM(user_id=str(user_id), body=body, **_id(op_id))
        return await self._dispatch(op, wait=wait)  # type: ignore[no-any-return]

    async def edit_message(
        self,
        channel_id: str | int,
        message_id: str | int,
        body: Body,
        *,
        version: int | None = None,
        wait: bool = False,
    ) -> None:
        """Show ``body`` on a message; coalesced with other edits of it.

        ``version`` is the log position the body was rendered from: an edit older than one
        already made is dropped, in every process and whatever their clocks say. Without it the
        edit is applied in arrival order.
        """
        op = EditMessage(
            channel_id=str(channel_id), message_id=str(message_id), body=body, version=version
        )
        await self.coalescer.edit(op, wait=wait)

    async def update_messages(self, edits: Sequence[MessageEdit], *, wait: bool = False) -> None:
        """Edit several messages, each ``(channel_id, message_id, body[, version])``."""
        await asyncio.gather(
            *(
                self.edit_message(e[0], e[1], e[2], version=e[3] if len(e) > 3 else None, wait=wait)
                for e in edits
            )
        )

    async def delete_message(self, channel_id: str | int, message_id: str | int) -> None:
        op = DeleteMessage(channel_id=str(channel_id), message_id=str(message_id))
        await self._dispatch(op)

    async def fetch_history(
        self,
        channel_id: str | int,
        limit: int = 50,
        *,
        before: str | int | None = None,
        after: str | int | None = None,
    ) -> list[Json]:
        """Messages of a channel, newest first (Discord's order)."""
        op = FetchHistory(
            channel_id=str(channel_id),
            limit=limit,
            before=None if before is None else str(before),
            after=None if after is None else str(after),
        )
        return await self._dispatch(op)  # type: ignore[no-any-return]

    async def fetch_emojis(self, guild_id: str | int) -> list[Json]:
        return await self._dispatch(FetchEmojis(guild_id=str(guild_id)))  # type: ignore[no-any-return]

    async def flush(self) -> None:
        """Wait until every edit accepted so far has been carried out."""
        await self.coalescer.flush()

    async def _execute(self, op: Op) -> Any:
        """Run ``op`` here, turning Discord's refusal into ``OutboundError``."""
        name = op_name(op)
        try:
            result = await self.executor.run(op)
        except OutboundError:
            self.metrics.ops.labels(self.mode, name, "failed").inc()
            raise
        except (HTTPException, RateLimited, OSError, TimeoutError) as exc:
            self.metrics.ops.labels(self.mode, name, "failed").inc()
            raise as_outbound_error(name, exc) from exc
        self.metrics.ops.labels(self.mode, name, "ok").inc()
        return result


def as_outbound_error(name: str, exc: BaseException) -> OutboundError:
    reason, _ = describe(exc)
    if isinstance(exc, HTTPException):
        return OutboundError(name, f"{reason}: {exc.text}", exc.status, exc.code)
    return OutboundError(name, reason)


def _id(op_id: str | None) -> dict[str, str]:
    return {} if op_id is None else {"id": op_id}


class DirectOutbound(Outbound):
    """Calls Discord at once, in the caller's task (edits still coalesce and are paced)."""

    mode = "direct"

    async def _dispatch(self, op: Op, *, wait: bool = True) -> Any:
        result = await self._execute(op)
        return result if wait else None


class Lanes:
    """One bounded FIFO queue and one worker task per lane (a channel, a DM, a guild)."""

    def __init__(self, capacity: int, on_depth: Callable[[int], None] | None = None) -> None:
        self.capacity = capacity
        self.on_depth = on_depth
        self._queues: dict[
            str, asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]]
        ] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self.depth = 0

    async def run(self, lane: str, work: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        """Queue ``work`` on ``lane`` (waiting while the lane is full); its future result."""
        queue = self._queues.get(lane)
        if queue is None:
            queue = self._queues[lane] = asyncio.Queue(self.capacity)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await queue.put((work, done))
        self._moved(+1)
        if lane not in self._workers:
            self._workers[lane] = asyncio.create_task(self._work(lane, queue))
        return done

    async def _work(self, lane: str, queue: asyncio.Queue[Any]) -> None:
        try:
            while not queue.empty():
                work, done = queue.get_nowait()
                self._moved(-1)
                if done.cancelled():
                    continue
                try:
                    result = await work()
                except Exception as exc:  # noqa: BLE001 - handed to whoever waits for it
                    if not done.done():  # the caller may have given up meanwhile
                        done.set_exception(exc)
                else:
                    if not done.done():
                        done.set_result(result)
        finally:
            self._workers.pop(lane, None)
            if queue.empty():
                self._queues.pop(lane, None)

    def _moved(self, delta: int) -> None:
        self.depth += delta
        if self.on_depth is not None:
            self.on_depth(self.depth)

    async def close(self) -> None:
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


class InProcessOutbound(Outbound):
    """A bounded asyncio queue per channel, drained by one worker task per channel."""

    mode = "in_process"

    def __init__(self, rest: DiscordRest) -> None:
        super().__init__(rest)
        gauge = self.metrics.queue_depth.labels(self.mode)
        self.lanes = Lanes(rest.config.queue_size, gauge.set)
        self._unwatched: set[asyncio.Future[Any]] = set()

    async def _dispatch(self, op: Op, *, wait: bool = True) -> Any:
        done = await self.lanes.run(lane_of(op), lambda: self._execute(op))
        if wait:
            return await done
        self._unwatched.add(done)
        done.add_done_callback(self._forget)
        return None

    def _forget(self, done: asyncio.Future[Any]) -> None:
        self._unwatched.discard(done)
        if not done.cancelled():
            done.exception()  # already counted and logged by _execute's metrics

    async def close(self) -> None:
        await super().close()
        pending = list(self._unwatched)
        if pending:
            await asyncio.wait(pending, timeout=self.rest.config.request_timeout)
        await self.lanes.close()
