"""The log as a projector reads it: batches of decoded events, in stream order, from a position.

Why an **ordered consumer** (ephemeral, in-memory, no acks) rather than a durable one: a
projector's position lives in PostgreSQL, committed in the same transaction as its rows, so the
broker need not remember anything. An ordered consumer delivers strictly in sequence, restarts
itself from the last sequence seen if a message is missed, and never redelivers out of order or
drops a message after too many deliveries (durable consumers do both: nats-server #6114 and the
MaxDeliver advisory). On start the projector creates it at ``stored position + 1``; a crash
loses nothing, since uncommitted batches are simply delivered again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from gateways.jetstream.layout import H_MSG_ID, H_TOPIC, H_VERSION, Layout

QUEUE_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One stored event as delivered: where it is in the log and its raw body."""

    seq: int
    aggregate_id: str
    version: int
    topic: str
    msg_id: str | None
    body: bytes


class LogFeed:
    """Follows the stream from ``after + 1`` and hands out batches."""

    def __init__(self, nc: NATS, layout: Layout, after: int, max_batch: int = 2_000) -> None:
        self.nc = nc
        self.layout = layout
        self.after = after
        self.max_batch = max_batch
        self._queue: asyncio.Queue[LogMessage] = asyncio.Queue(QUEUE_LIMIT)
        self._sub: Any = None

    async def start(self) -> None:
        js = self.nc.jetstream()
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.after + 1
        )
        self._sub = await js.subscribe(
            self.layout.all_subjects,
            stream=self.layout.stream,
            cb=self._on_message,
            ordered_consumer=True,
            config=config,
            idle_heartbeat=2.0,
        )

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers or {}
        seq = msg.metadata.sequence.stream
        if seq <= self.after:
            return  # already delivered before the consumer reset itself
        self.after = seq
        aggregate = self.layout.originator_id_from(msg.subject)
        await self._queue.put(
            LogMessage(
                seq=seq,
                aggregate_id=str(aggregate),
                version=int(headers[H_VERSION]),
                topic=headers[H_TOPIC],
                msg_id=headers.get(H_MSG_ID),
                body=msg.data,
            )
        )

    async def next_batch(self, timeout: float | None = None) -> list[LogMessage]:
        """At least one message (or none after ``timeout``), at most ``max_batch``."""
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def stop(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()
