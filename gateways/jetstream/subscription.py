"""Follow the log from a position: an ordered JetStream consumer behind eventsourcing's iterator.

An ordered consumer (ephemeral, in-memory, no acks) delivers the stream in sequence order and
recreates itself from the last sequence it saw if a message is missed, so the iterator yields each
notification once, in order, with nothing skipped. Messages cross from the bridge's event loop to
the iterating thread through a bounded queue; when the reader falls behind, the consumer's flow
control slows the server instead of memory growing.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    Notification,
    OperationalError,
    Subscription,
)
from nats.js.api import ConsumerConfig, DeliverPolicy

from gateways.jetstream.recorder import notification_of

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from gateways.jetstream.recorder import JetStreamApplicationRecorder

_STOP = object()
QUEUE_SIZE = 10_000


class JetStreamSubscription(Subscription[ApplicationRecorder]):
    """Yields notifications with ids greater than ``gt``, then blocks for new ones."""

    def __init__(
        self,
        recorder: JetStreamApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._jsr = recorder
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
        self._wanted = set(topics)
        self._sub: Any = None
        bridge = recorder.bridge
        self._sub = bridge.run(lambda: self._start((gt or 0) + 1))

    async def _start(self, from_seq: int) -> Any:
        js = self._jsr.bridge.nc.jetstream(timeout=self._jsr.bridge.timeout)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=from_seq
        )
        return await js.subscribe(
            self._jsr.layout.all_subjects,
            stream=self._jsr.layout.stream,
            cb=self._on_message,
            ordered_consumer=True,
            config=config,
            idle_heartbeat=2.0,
        )

    async def _on_message(self, msg: Msg) -> None:
        if self._has_been_stopped:
            return
        record = self._jsr.wire.record_from(msg)
        if self._wanted and record.event.topic not in self._wanted:
            return
        item = notification_of(record)
        while not self._has_been_stopped:
            try:
                self._queue.put_nowait(item)
            except queue.Full:  # the reader is behind: hold this delivery (flow control)
                await asyncio.sleep(0.01)
            else:
                return

    def stop(self) -> None:
        """Stop delivery; a blocked ``next()`` returns with ``StopIteration``."""
        if self._has_been_stopped:
            return
        super().stop()
        sub, self._sub = self._sub, None
        if sub is not None:
            self._jsr.bridge.submit_cleanup(sub.unsubscribe)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)

    def __next__(self) -> Notification:
        while True:
            if self._has_been_stopped:
                raise StopIteration
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._jsr.bridge.closed:  # nothing more can arrive: fail, never hang
                    raise OperationalError(
                        f"the NATS connection to {self._jsr.bridge.url} closed under a subscription"
                    ) from None
                continue
            if item is _STOP or self._has_been_stopped:
                raise StopIteration
            notification: Notification = item
            return notification
