"""The log as a projector reads it: batches of events, in stream order, from a position.

The feed is an ephemeral **pull consumer** without acks (``AckPolicy.NONE``), created at the
projector's stored position + 1, from which it asks for the next messages only when it has room
for them. Why this shape:

* the position lives in PostgreSQL, committed with the projector's rows, so the broker need not
  remember anything (no durable consumer, no acks, no redelivery interleaving — nats-server
  #6114 — and no message dropped after MaxDeliver);
* pulling gives back-pressure: a push consumer outruns a slow projector and the client drops
  messages (nats-py's slow-consumer error), which a rebuild of a long log hits at once;
* the log's sequences are contiguous (the stream denies deletes), so a missing sequence is
  detected at once and the consumer is recreated from the first one missing. Nothing is skipped
  and nothing is applied twice.

Pull requests go out on the connection directly and replies arrive through a callback, which is
several times faster than nats-py's message-by-message ``fetch`` (``projections/pull.py``); on
Muster's client (:mod:`gateways.jetstream.headers`) a raw one, called as each frame is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any
from uuid import UUID

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from gateways.jetstream.headers import has_status, parse_headers
from gateways.jetstream.layout import H_MSG_ID, H_TOPIC, H_VERSION, Layout
from projections.pull import PullConsumer

PULL = 1_000  # messages asked for per pull request
REFILL_AT = PULL // 2  # the next pull goes out when this few of the last one are still to come
HIGH_WATER = 5_000  # no new pull while this many messages wait (at least two batches' worth)
PULL_EXPIRES = 1.0  # seconds a pull waits for new messages on an idle log
INACTIVE_THRESHOLD = 3600.0  # an abandoned consumer (projector killed) goes after an hour


class FeedFailed(RuntimeError):
    """The feed cannot go on (NATS closed the connection, say); the projector must stop."""


class LogMessage(msgspec.Struct, frozen=True, gc=False):
    """One stored event as delivered: where it is in the log and its raw body (a Struct: built
    once per event read, ten times cheaper than a frozen dataclass; left out of the garbage
    collector's bookkeeping, as its fields are plain values that cannot form a cycle)."""

    seq: int
    aggregate_id: str
    version: int
    topic: str
    msg_id: str | None
    body: bytes
    error: str = ""  # set when the message itself is unreadable: the projection parks it


def log_message(
    layout: Layout, seq: int, subject: str, headers: dict[str, str], body: bytes
) -> LogMessage:
    """A stored message as a :class:`LogMessage` (raises KeyError/ValueError if not Muster's)."""
    return LogMessage(
        seq=seq,
        aggregate_id=str(layout.originator_id_from(subject)),
        version=int(headers[H_VERSION]),
        topic=headers[H_TOPIC],
        msg_id=headers.get(H_MSG_ID),
        body=body,
    )


def stream_sequence(reply: str | bytes) -> int:
    """A delivered message's stream sequence, from its ``$JS.ACK`` reply subject (both token
    layouts, as nats-py's ``Msg.metadata`` reads them)."""
    tokens = reply.encode().split(b".") if isinstance(reply, str) else reply.split(b".")
    if tokens[0] == b"$JS" and len(tokens) >= 9 and tokens[1] == b"ACK":
        token = tokens[5] if len(tokens) == 9 else tokens[7] if len(tokens) >= 11 else b""
        if token.isdigit():  # int() would also take " 7", "+7" or "1_0"
            return int(token)
    raise ValueError(f"not a JetStream delivery: {reply!r}")


class StoredMessages:
    """Reads deliveries as :class:`LogMessage` (as :func:`log_message` over the parsed header
    block) with what repeats remembered: each subject's aggregate id, and what a header block
    says besides its message id (a stored event's other header lines are its topic, event type
    and version: a few hundred different blocks in a log). One per feed (per layout)."""

    SUBJECTS_KEPT = 16_384
    BLOCKS_KEPT = 4_096

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._aggregates: dict[bytes, str] = {}
        self._blocks: dict[bytes, tuple[int, str] | None] = {}

    def read(self, seq: int, subject: bytes, data: bytes, block: bytes | None) -> LogMessage:
        """The message at ``seq``; an unreadable one carries its ``error``."""
        aggregate_id = self._aggregates.get(subject)
        if aggregate_id is None or block is None or not block.startswith(_PLAIN):
            return self._slowly(seq, subject, data, block)
        head, line, tail = block.partition(_MSG_ID_LINE)
        if line:
            value, crlf, after = tail.partition(_CRLF)
            if not crlf:
                return self._slowly(seq, subject, data, block)
            rest = head + crlf + after  # the block without its message-id line
            msg_id: str | None = value.strip().decode("utf-8", "replace")
        else:
            rest, msg_id = block, None
        known = self._blocks.get(rest, _UNREAD)
        if known is _UNREAD:
            known = self._blocks[rest] = _version_and_topic(rest)
            if len(self._blocks) > self.BLOCKS_KEPT:
                self._blocks.clear()
        if known is None:  # another message id, or no version or topic: read it all
            return self._slowly(seq, subject, data, block)
        return LogMessage(seq, aggregate_id, known[0], known[1], msg_id, data)

    def _slowly(self, seq: int, subject: bytes, data: bytes, block: bytes | None) -> LogMessage:
        message = stored_message(self.layout, seq, subject.decode(), data, parse_headers(block))
        if not message.error and len(self._aggregates) < self.SUBJECTS_KEPT:
            self._aggregates[subject] = message.aggregate_id
        return message


def _version_and_topic(rest: bytes) -> tuple[int, str] | None:
    """What a header block without its message-id line says, if it has no other message id."""
    headers = parse_headers(rest)
    if H_MSG_ID in headers:
        return None
    try:
        return int(headers[H_VERSION]), headers[H_TOPIC]
    except (KeyError, ValueError):
        return None


def stored_message(
    layout: Layout, seq: int, subject: str, data: bytes, headers: dict[str, str]
) -> LogMessage:
    """:func:`log_message`, or a message saying why it cannot be read (the projection parks it)."""
    try:
        return log_message(layout, seq, subject, headers, data)
    except (KeyError, ValueError) as error:  # not written by Muster's recorder
        return LogMessage(
            seq=seq, aggregate_id=subject, version=0,
            topic=headers.get(H_TOPIC, "(no topic)"), msg_id=headers.get(H_MSG_ID),
            body=data, error=f"unreadable message: {type(error).__name__}: {error}",
        )  # fmt: skip


_PLAIN = b"NATS/1.0\r\n"  # a header block without an inline status
_CRLF = b"\r\n"
_MSG_ID_LINE = f"\r\n{H_MSG_ID}:".encode()
_UNREAD: Any = object()

_FAILED = LogMessage(seq=0, aggregate_id="", version=0, topic="", msg_id=None, body=b"")
"""Wakes a waiting ``next_batch`` when the feed has failed."""


class LogFeed(PullConsumer):
    """Follows the stream from ``after + 1`` and hands out batches."""

    raw = True

    def __init__(self, nc: NATS, layout: Layout, after: int, max_batch: int = 2_000) -> None:
        super().__init__(nc, layout, pull=PULL, expires=PULL_EXPIRES)
        self.after = after  # last sequence handed to the queue
        self.max_batch = max_batch
        self.high_water = max(HIGH_WATER, 2 * max_batch)
        self._ready: deque[LogMessage] = deque()
        self._arrived = asyncio.Event()
        self._error: BaseException | None = None
        self._puller: asyncio.Task[None] | None = None
        self._stored = StoredMessages(layout)
        self._ack_prefix = b"\0"  # the reply subjects' first tokens, learnt (none starts so)

    async def start(self) -> None:
        await self._create_consumer()
        self._puller = asyncio.create_task(self._pull_loop())

    async def _create_consumer(self) -> None:
        """A new consumer (and inbox) starting right after the last message handed out."""
        await self._open(
            ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self.after + 1,
                filter_subject=self.layout.all_subjects,
                inactive_threshold=INACTIVE_THRESHOLD,
                mem_storage=True,
                num_replicas=1,
            )
        )

    async def _pull_loop(self) -> None:
        try:
            await self._pull_forever()
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # handed to the projector by next_batch  # noqa: BLE001
            self._error = error
            self._put(_FAILED)

    async def _pull_forever(self) -> None:
        while not self._stopped:
            if self._recreate:
                await self._create_consumer()
            if self._outstanding <= REFILL_AT and len(self._ready) < self.high_water:
                await self._ask()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), PULL_EXPIRES + 1)
            except TimeoutError:
                if self._outstanding:  # a pull went unanswered: the consumer may be gone
                    self._recreate = True

    def _on_message(self, msg: Msg) -> None:
        """A delivery on nats-py's client (without raw subscriptions)."""
        headers = msg.headers or {}
        if self._act_on_status(headers.get("Status")):
            return
        try:
            seq = stream_sequence(msg.reply)
        except ValueError:  # not a delivery of our consumer: nothing to do with it
            return
        if self._next(seq):
            self._put(stored_message(self.layout, seq, msg.subject, msg.data, headers))

    def _on_raw(self, subject: bytes, reply: bytes, data: bytes, block: bytes | None) -> None:
        """A delivery as its frame is parsed; the header block is read only as needed."""
        # an inline status is on the block's first line: "NATS/1.0 404 No Messages"
        if has_status(block) and self._act_on_status(parse_headers(block).get("Status")):
            return
        # The sequence as stream_sequence reads it, sooner for a reply of the usual 9 tokens
        # whose first 4 (up to the consumer's name) are those of the last one: 5 left to split.
        if reply.startswith(self._ack_prefix) and len(
            tail := reply[len(self._ack_prefix) :].split(b".")
        ) == 5 and (token := tail[1]).isdigit():  # fmt: skip
            seq = int(token)
        else:
            try:
                seq = stream_sequence(reply)
            except ValueError:  # not a delivery of our consumer: nothing to do with it
                return
            tokens = reply.split(b".")  # $JS.ACK.<stream>.<consumer>.<delivered>.<seq>.…
            if len(tokens) == 9:
                self._ack_prefix = b".".join(tokens[:4]) + b"."
        if self._next(seq):
            ready = self._ready
            ready.append(self._stored.read(seq, subject, data, block))
            if len(ready) == 1:  # next_batch waits only while the queue is empty
                self._arrived.set()

    def _next(self, seq: int) -> bool:
        """Whether the delivery at ``seq`` is the next message (else a duplicate or a gap)."""
        if self._outstanding:  # (never below 0)
            self._outstanding -= 1
        if self._outstanding == REFILL_AT:
            self._wake.set()
        if seq <= self.after:
            return False  # delivered before a consumer was recreated
        if seq != self.after + 1:  # a message went missing: start again from it
            self._recreate = True
            self._wake.set()
            return False
        self.after = seq
        return True

    def _put(self, message: LogMessage) -> None:
        self._ready.append(message)
        self._arrived.set()

    async def next_batch(self, timeout: float | None = None) -> list[LogMessage]:
        """At least one message (or none after ``timeout``), at most ``max_batch``."""
        if not self._ready:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return []
        ready = self._ready
        batch = [ready.popleft() for _ in range(min(len(ready), self.max_batch))]
        if self._error is not None:
            raise FeedFailed(f"reading {self.layout.stream} failed: {self._error}") from self._error

        if len(ready) < self.high_water:
            self._wake.set()
        return batch

    async def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._puller is not None:
            self._puller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._puller
        await self._close()


def game_uuid(aggregate_id: str) -> str:
    """``game.<uuid>`` → ``<uuid>`` (the games table's key); ``ValueError`` when the rest is
    not a UUID as Muster writes it (lower case, hyphenated): a subject another writer made up,
    such as ``game.<uuid>,<uuid>``, whose event is parked rather than let into SQL."""
    key = aggregate_id.removeprefix("game.")
    if len(key) != 36 or str(UUID(key)) != key:  # UUID() also takes braces, URNs, no hyphens
        raise ValueError(f"{aggregate_id!r} is not game.<uuid>")
    return key
