"""``external`` mode: a JetStream work queue of operations, drained by ``muster worker`` processes.

Publishing: each operation goes to ``<ops_prefix>.<op>.<lane>`` on the work-queue stream
``ops_stream`` with a ``Nats-Msg-Id`` per call (a publish retried after a lost acknowledgement is
dropped) and, when the caller waits, ``Muster-Reply-To`` = an inbox of the publishing process.

Draining (:class:`Worker`): one durable pull consumer shared by every worker. An operation is
acknowledged only after Discord has done it, so a worker killed mid-operation leaves it to be
redelivered after ``ack_wait``; operations are idempotent (see :mod:`gateways.discord.ops`), so it
is done exactly once. Discord refusing an operation (a 4xx other than 429) dead-letters it at
once; every other failure (429 after retries, 5xx, timeouts, and errors that are not Discord's,
such as Redis being unreachable) is retried with a delay and dead-lettered after
``max_attempts`` deliveries, onto ``<dead_prefix>.<op>`` in the stream ``<ops_stream>_DEAD``
with the reason in the ``Muster-Error`` header. The consumer's ``max_deliver`` is
``max_attempts`` too, so even an operation whose worker dies on every try (or cannot reach the
dead-letter stream) is delivered a bounded number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import msgspec
import nats.errors
import nats.js.errors
from discord.errors import DiscordServerError, HTTPException, RateLimited
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

from gateways.discord.client import DiscordRest
from gateways.discord.config import DiscordConfig
from gateways.discord.errors import (
    DiscordUnavailable,
    OutboundError,
    OutboundTimeout,
    TurnTimeout,
)
from gateways.discord.ops import EditMessage, Executor, Op, lane_of, new_id, op_name
from gateways.discord.outbound import REPLY_PATIENCE, Lanes, Outbound, as_outbound_error

log = logging.getLogger(__name__)

REPLY_TO = "Muster-Reply-To"
ERROR = "Muster-Error"
DEAD_AGE = 14 * 24 * 3600.0
LATE_LOOK = 1.0  # seconds between looks at the connection while waiting for a late reply
TRANSIENT = (DiscordServerError, RateLimited, aiohttp.ClientError, TimeoutError, DiscordUnavailable)
_ops = msgspec.json.Decoder(Op)


class Reply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a worker answers: Discord's result, or why the operation failed."""

    ok: bool
    value: Any = None
    error: str | None = None
    status: int | None = None
    code: int | None = None


_replies = msgspec.json.Decoder(Reply)


def failure_of(name: str, exc: BaseException) -> OutboundError:
    """The ``OutboundError`` for any failure: Discord's own, or what else went wrong."""
    if isinstance(exc, TRANSIENT):
        return as_outbound_error(name, exc)
    return OutboundError(name, f"{type(exc).__name__}: {exc}")


def subject_of(config: DiscordConfig, op: Op) -> str:
    return f"{config.ops_prefix}.{op_name(op)}.{lane_of(op).replace(':', '.')}"


async def ensure_streams(nc: NATS, config: DiscordConfig) -> None:
    """Create (or update) the work-queue stream and its dead-letter stream."""
    js = nc.jetstream()
    for stream in (
        StreamConfig(
            name=config.ops_stream,
            description="Muster: Discord operations waiting for a worker",
            subjects=[f"{config.ops_prefix}.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=120.0,
        ),
        StreamConfig(
            name=f"{config.ops_stream}_DEAD",
            description="Muster: Discord operations given up, with the reason",
            subjects=[f"{config.dead_prefix}.>"],
            storage=StorageType.FILE,
            max_age=DEAD_AGE,
        ),
    ):
        try:
            await js.stream_info(stream.name or "")
        except nats.js.errors.NotFoundError:
            await js.add_stream(stream)
        else:
            await js.update_stream(stream)


class ExternalOutbound(Outbound):
    """Publishes operations for ``muster worker`` processes and waits for their replies."""

    mode = "external"

    def __init__(self, rest: DiscordRest, nc: NATS) -> None:
        super().__init__(rest)
        self.nc, self.config = nc, rest.config
        self._inbox = ""
        self._sub: Subscription | None = None
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self.late_replies = 0  # calls whose reply came (or is awaited) past the reply timeout
        self.waiting_late = 0  # of them, still waiting now
        self.went_late = asyncio.Event()  # set once a call waits past the reply timeout

    async def start(self) -> ExternalOutbound:
        await ensure_streams(self.nc, self.config)
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)
        return self

    async def close(self) -> None:
        await super().close()
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _admit(self, op: EditMessage) -> object:
        """No slot here: the worker takes the edit's turn when it runs it. A slot taken at
        publishing counts as in flight until a worker answers, so while the queue is behind,
        queued edits would hold their channel's budget (the worker's own sends and retries
        then starve: their turns time out and wait a redelivery), and a slot whose lease ran
        out before the worker got to it would no longer hold Discord's limit back."""
        return None

    async def _on_reply(self, msg: Msg) -> None:
        waiter = self._waiting.get(msg.subject.rsplit(".", 1)[-1])
        if waiter is not None and not waiter.done():
            waiter.set_result(_replies.decode(msg.data))

    async def _dispatch(self, op: Op, *, wait: bool = True) -> Any:
        # Edits always want their reply: the coalescer sends the next one when it arrives.
        wants_reply = wait or isinstance(op, EditMessage)
        # One id per call, not per operation: a caller that repeats an operation (same op id)
        # wants it run again and answered; Discord's nonce keeps a repeated send from posting
        # twice. Within this call, a publish retried after a lost PubAck is deduplicated.
        call = new_id()
        headers = {"Nats-Msg-Id": call}
        waiter: asyncio.Future[Reply] | None = None
        if wants_reply:
            headers[REPLY_TO] = f"{self._inbox}.{call}"
            waiter = self._waiting[call] = asyncio.get_running_loop().create_future()
        name = op_name(op)
        reconnects = self._reconnects()
        try:
            await self._publish(subject_of(self.config, op), msgspec.json.encode(op), headers)
            if waiter is None:
                return None
            try:
                reply = await asyncio.wait_for(asyncio.shield(waiter), self.config.reply_timeout)
            except TimeoutError:
                reply = await self._late(name, waiter, reconnects)
        finally:
            self._waiting.pop(call, None)
        if not reply.ok:
            raise OutboundError(name, reply.error or "failed", reply.status, reply.code)
        return reply.value if wait else None

    def _reconnects(self) -> int:
        return int(self.nc.stats.get("reconnects", 0))

    async def _late(self, name: str, waiter: asyncio.Future[Reply], reconnects: int) -> Reply:
        """The reply did not come in time: give up, or (inside :func:`patient`) keep waiting.
        The operation stays queued and a worker carries it out; publishing it again would
        only make the queue longer. But a reply is a plain NATS message: one a worker sent
        while this connection was away is lost, so once the connection has reconnected
        since the publish, a late reply is given up for (``OutboundTimeout``: the caller
        redoes the operation, idempotently) instead of waited for in vain."""
        timeout = self.config.reply_timeout
        more = REPLY_PATIENCE.get() - timeout
        if more <= 0:
            raise OutboundTimeout(name, timeout)
        self.late_replies += 1
        self.waiting_late += 1
        self.went_late.set()
        log.warning("%s: no reply within %.1f s (the Discord work queue is behind); "
                    "still waiting, up to %.0f s more", name, timeout, more)  # fmt: skip
        deadline = asyncio.get_running_loop().time() + more
        try:
            while True:
                if self._reconnects() != reconnects:
                    log.warning("%s: NATS reconnected since it was queued; its reply may be "
                                "lost, so it is not waited for", name)  # fmt: skip
                    raise OutboundTimeout(name, timeout)
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise OutboundTimeout(name, timeout + more)
                try:
                    return await asyncio.wait_for(asyncio.shield(waiter), min(left, LATE_LOOK))
                except TimeoutError:
                    continue
        finally:
            self.waiting_late -= 1

    async def _publish(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        js = self.nc.jetstream()
        for attempt in range(3):
            try:
                await js.publish(subject, data, headers=headers)
            except nats.errors.TimeoutError:
                if attempt == 2:
                    raise
            else:
                return


class Worker:
    """Drains the work queue: runs each operation once Discord allows, replies, acknowledges."""

    def __init__(self, rest: DiscordRest, nc: NATS, durable: str = "workers") -> None:
        self.rest, self.nc, self.durable = rest, nc, durable
        self.config = rest.config
        self.metrics = rest.metrics
        self.executor = Executor(rest.http, rest.cache, rest.redis, rest.keys)
        self.lanes = Lanes(self.config.queue_size)
        self._active: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; operations in hand are finished first."""
        cfg = self.config
        await ensure_streams(self.nc, cfg)
        consumer = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=cfg.ack_wait,
            max_deliver=cfg.max_attempts,
            max_ack_pending=cfg.worker_concurrency * 4,
            filter_subject=f"{cfg.ops_prefix}.>",
        )
        js = self.nc.jetstream()
        await js.add_consumer(cfg.ops_stream, consumer)  # creates it, or updates its limits
        sub = await js.pull_subscribe_bind(self.durable, stream=cfg.ops_stream)
        gauge = self.metrics.queue_depth.labels("external")
        try:
            while not stop.is_set():
                free = cfg.worker_concurrency - len(self._active)
                if free <= 0:
                    await asyncio.wait(self._active, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    msgs = await sub.fetch(free, timeout=0.5)
                except TimeoutError:  # nothing to do (nats raises both kinds of timeout)
                    continue
                except nats.errors.Error as exc:  # e.g. reconnecting: try again shortly
                    log.warning("fetching operations failed: %s", exc)
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    task = asyncio.create_task(self._guarded(msg))
                    self._active.add(task)
                    task.add_done_callback(self._active.discard)
                with contextlib.suppress(nats.errors.Error, TimeoutError):
                    info = await sub.consumer_info()
                    gauge.set((info.num_pending or 0) + (info.num_ack_pending or 0))
        finally:
            if self._active:
                await asyncio.wait(self._active, timeout=cfg.request_timeout)
            await self.lanes.close()
            await sub.unsubscribe()

    async def _guarded(self, msg: Msg) -> None:
        """Handle one message; what cannot even be dead-lettered is logged (and, past
        ``max_deliver``, no longer delivered)."""
        try:
            await self._handle(msg)
        except Exception:
            log.exception("could not settle operation message %s", msg.metadata.sequence.stream)

    async def _handle(self, msg: Msg) -> None:
        try:
            op = _ops.decode(msg.data)
        except msgspec.DecodeError as exc:  # not an operation this version knows
            await self._dead_letter(msg, "unknown", f"undecodable: {exc}", 1)
            await self._reply(msg, Reply(ok=False, error=f"undecodable operation: {exc}"))
            return
        name = op_name(op)
        attempts = msg.metadata.num_delivered
        alive = asyncio.create_task(self._keep_alive(msg))
        try:
            done = await self.lanes.run(lane_of(op), lambda: self.executor.run(op))
            value = await done
        except (HTTPException, OutboundError) as exc:
            if isinstance(exc, TRANSIENT) and attempts < self.config.max_attempts:
                await self._retry_later(msg, name, attempts, exc)
                return
            error = exc if isinstance(exc, OutboundError) else as_outbound_error(name, exc)
            await self._give_up(msg, op, error, attempts)
        except Exception as exc:  # noqa: BLE001 - any failure: retried, then dead-lettered
            if attempts < self.config.max_attempts:
                log.warning("%s %s failed (attempt %d): %r", name, op.id, attempts, exc)
                await self._retry_later(msg, name, attempts, exc)
                return
            await self._give_up(msg, op, failure_of(name, exc), attempts)
        else:
            await msg.ack()
            self.metrics.ops.labels("external", name, "ok").inc()
            await self._reply(msg, Reply(ok=True, value=value))
        finally:
            alive.cancel()

    async def _retry_later(
        self, msg: Msg, name: str, attempts: int, exc: BaseException | None = None
    ) -> None:
        """Redeliver after the backoff, or after the wait the failure names if longer."""
        backoff = self.config.backoff
        delay = backoff[min(attempts - 1, len(backoff) - 1)]
        if isinstance(exc, TurnTimeout):  # its turn is this far away now, not the whole wait
            delay = max(delay, exc.ahead)
        elif isinstance(exc, RateLimited | DiscordUnavailable):
            delay = max(delay, exc.retry_after or 0.0)
        await msg.nak(delay=delay)
        self.metrics.ops.labels("external", name, "retried").inc()

    async def _give_up(self, msg: Msg, op: Op, error: OutboundError, attempts: int) -> None:
        name = op_name(op)
        log.warning("dead-lettering %s %s after %d attempt(s): %s", name, op.id, attempts, error)
        await self._dead_letter(msg, name, error.reason, attempts)
        self.metrics.ops.labels("external", name, "failed").inc()
        reply = Reply(ok=False, error=error.reason, status=error.status, code=error.code)
        await self._reply(msg, reply)

    async def _dead_letter(self, msg: Msg, name: str, reason: str, attempts: int) -> None:
        """Park the operation with its reason on the dead-letter stream, and drop it here."""
        headers = {ERROR: " ".join(reason.split()), "Muster-Attempts": str(attempts)}
        await self.nc.jetstream().publish(
            f"{self.config.dead_prefix}.{name}", msg.data, headers=headers
        )
        await msg.term()
        self.metrics.dead_letters.labels(name).inc()

    async def _reply(self, msg: Msg, reply: Reply) -> None:
        to = (msg.headers or {}).get(REPLY_TO)
        if to:
            await self.nc.publish(to, msgspec.json.encode(reply))

    async def _keep_alive(self, msg: Msg) -> None:
        """Tell JetStream the operation is still in hand (waiting for a slot is not a crash)."""
        while True:
            await asyncio.sleep(self.config.ack_wait / 3)
            with contextlib.suppress(nats.errors.Error):
                await msg.in_progress()
