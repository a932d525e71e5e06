"""A command worker: answers command requests for its partitions of the games.

Each request is handled by the in-process port (``MusterApp.handle`` in a bounded pool), so a
worker is the one writer of its games and keeps their aggregates warm in its cache; games of
other partitions never reach it. Requests are answered concurrently (one task each), and the
commands of one game take turns in the order they arrived (a FIFO lock per aggregate, before
the pool): a burst on one game holds one pool thread, not all of them, so other games' commands
do not wait behind it, and callers in different processes are served in turn.

Crash safety comes from the domain, not from here: a worker killed mid-command either stored
the command's events atomically or not at all, and the caller, seeing a timeout, sends the same
``command_id`` again — to the restarted worker, which answers a stored command with its first
Outcome. A stopping worker (``stop`` set) stops taking requests, answers those it holds, then
returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import nats.errors

from domain.decisions import target
from domain.errors import DomainError
from domain.ports import CommandPort
from gateways.command_service.wire import (
    PING,
    PONG,
    BadRequest,
    decode_request,
    encode_error,
    encode_outcome,
    subject_of,
)
from gateways.jetstream.barrier import subscriptions_in_place

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

log = logging.getLogger("muster.commands")

QUEUE = "muster-commands"
"""Queue group of every partition's subject: a standby of a partition shares its requests."""


class CommandWorker:
    """Serve ``partitions`` (of ``workers``) on ``nc`` with ``port`` (the in-process one);
    at most ``max_in_flight`` requests at once, the others wait in the subscription's buffer."""

    def __init__(
        self,
        nc: NATS,
        port: CommandPort,
        *,
        prefix: str,
        workers: int,
        partitions: Sequence[int],
        max_in_flight: int = 1024,
    ) -> None:
        bad = [k for k in partitions if not 0 <= k < workers]
        if bad or not partitions:
            raise ValueError(f"partitions must be in 0..{workers - 1}, not {list(partitions)}")
        self.nc, self.port = nc, port
        self.prefix, self.workers, self.partitions = prefix, workers, tuple(partitions)
        self.handled = 0
        self.refused = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._turns = Turns()
        self._slots = asyncio.Semaphore(max_in_flight)
        self.serving = asyncio.Event()

    @property
    def subjects(self) -> list[str]:
        return [subject_of(self.prefix, self.workers, k) for k in self.partitions]

    def figures(self) -> dict[str, Any]:
        """For the health report."""
        return {
            "partitions": list(self.partitions),
            "workers": self.workers,
            "handled": self.handled,
            "refused": self.refused,
            "failed": self.failed,
            "in_flight": len(self._tasks),
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Answer requests until ``stop`` is set; then finish those taken and return."""
        subscriptions: list[Subscription] = []
        try:
            for subject in self.subjects:
                sub = await self.nc.subscribe(subject, queue=QUEUE, cb=self._on_request)
                subscriptions.append(sub)
            await subscriptions_in_place(self.nc)  # requests now reach us
            self.serving.set()
            log.info("serving %s", ", ".join(self.subjects))
            await stop.wait()
        finally:
            self.serving.clear()
            for sub in subscriptions:
                try:
                    await sub.unsubscribe()
                except nats.errors.Error as error:  # the connection is gone: nothing to stop
                    log.warning("could not unsubscribe %s: %s", sub.subject, error)
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _on_request(self, msg: Msg) -> None:
        # nats-py awaits this callback before delivering the next message: hand off at once,
        # unless max_in_flight are taken (then requests wait in the subscription's buffer).
        await self._slots.acquire()
        task = asyncio.create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _answer(self, msg: Msg) -> None:
        if msg.data == PING:
            if msg.reply:
                await msg.respond(PONG)
            return
        try:
            command = decode_request(msg.data)
            async with self._turns.turn(target(command)):
                outcome = await self.port.send(command)
        except DomainError as error:
            self.refused += 1
            data = encode_error(error)
        except BadRequest as error:
            log.warning("unreadable command request: %s", error)
            self.failed += 1
            data = encode_error(error)
        except Exception as error:  # a worker failure crosses the wire as a failure, not a hang
            log.exception("command failed in the worker")
            self.failed += 1
            data = encode_error(error)
        else:
            self.handled += 1
            data = encode_outcome(outcome)
        if not msg.reply:
            return
        try:
            await msg.respond(data)
        except nats.errors.Error as error:  # the caller will time out and may send it again
            log.warning("could not answer a command: %s", error)


class Turns:
    """One FIFO asyncio lock per key, dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
