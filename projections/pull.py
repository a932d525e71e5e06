"""An ephemeral JetStream pull consumer driven by hand, for the readers of the log.

Pull requests go out on the connection directly and replies arrive through a callback, which is
several times faster than nats-py's message-by-message ``fetch``. A consumer that is replaced
(``_open`` again, after a gap or a lost consumer) gets a new inbox, and replies still on their
way to the old one are ignored. :class:`~projections.feed.LogFeed` (the projectors) and
:class:`~projections.event_stream.StreamReader` (``muster events``, analytics) build on it and
decide when to pull and what a message means. A subclass that sets ``raw`` gets each delivery
as it is parsed, without a ``Msg``, a queue or a task per message, when the connection is
Muster's client (:mod:`gateways.jetstream.headers`): :meth:`PullConsumer._on_raw`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, ConsumerInfo

from gateways.jetstream.layout import Layout


class PullConsumer:
    """One consumer of ``layout``'s stream at a time, its inbox and its pull requests."""

    raw = False  # deliveries to _on_raw (on Muster's client) instead of _on_message

    def __init__(self, nc: NATS, layout: Layout, *, pull: int, expires: float) -> None:
        self.nc, self.layout = nc, layout
        self.pull, self.expires = pull, expires  # messages per request; seconds it may wait
        self._sub: Any = None
        self._inbox = ""
        self._consumer = ""
        self._generation = 0  # replies of an older consumer are ignored
        self._outstanding = 0  # messages asked for and not yet received
        self._recreate = False  # set when the consumer must be replaced
        self._stopped = False
        self._wake = asyncio.Event()  # wakes the pull loop

    async def _open(self, config: ConsumerConfig) -> ConsumerInfo:
        """A new consumer (and inbox) in place of the current one."""
        self._generation += 1
        generation = self._generation
        await self._close()

        async def on_message(msg: Msg) -> None:
            if generation == self._generation:
                self._on_message(msg)

        def on_raw(subject: bytes, reply: bytes, data: bytes, block: bytes | None) -> None:
            if generation == self._generation:
                self._on_raw(subject, reply, data, block)

        self._inbox = self.nc.new_inbox()
        if self.raw and hasattr(self.nc, "subscribe_raw"):
            self._sub = await self.nc.subscribe_raw(self._inbox, on_raw)
        else:
            self._sub = await self.nc.subscribe(self._inbox, cb=on_message)
        info = await self.nc.jetstream().add_consumer(self.layout.stream, config)
        self._consumer = info.name
        self._outstanding = 0
        self._recreate = False
        return info

    def _on_message(self, msg: Msg) -> None:
        """A reply to a pull: a message, or a status (:meth:`_status`)."""
        raise NotImplementedError

    def _on_raw(self, subject: bytes, reply: bytes, data: bytes, block: bytes | None) -> None:
        """A reply to a pull as parsed (``raw`` subclasses), all raw bytes: ``block`` is its
        header block."""
        raise NotImplementedError

    def _status(self, msg: Msg) -> bool:
        """Whether ``msg`` is a status reply rather than a message; acts on it if so."""
        return self._act_on_status((msg.headers or {}).get("Status"))

    def _act_on_status(self, status: str | None) -> bool:
        """Whether there is a status (rather than a message); acts on it if so."""
        if not status:
            return False
        if status in ("404", "408"):  # nothing (more) for now, or the pull expired
            self._outstanding = 0
        else:  # 409 (consumer deleted, ...), 503 (no consumer), anything else: start over
            self._recreate = True
        self._wake.set()
        return True

    async def _ask(self) -> None:
        """One pull request for ``pull`` more messages."""
        request = {"batch": self.pull, "expires": int(self.expires * 1e9)}
        self._outstanding += self.pull
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.layout.stream}.{self._consumer}"
        await self.nc.publish(subject, json.dumps(request).encode(), reply=self._inbox)

    async def _close(self) -> None:
        """Stop listening and delete the consumer (else the server drops it when idle)."""
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()
            self._sub = None
        if self._consumer:
            with contextlib.suppress(nats.errors.Error):  # it may be gone already
                await self.nc.jetstream().delete_consumer(self.layout.stream, self._consumer)
