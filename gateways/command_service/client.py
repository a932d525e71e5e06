"""The :class:`~domain.ports.CommandPort` of entry points that run beside command workers.

``send(command)`` is a NATS request to the worker that owns the command's game (see
:mod:`gateways.command_service.wire`); the reply is the Outcome, or the same DomainError the
domain raised. While no worker serves the partition (one restarting, say) the request is sent
again until ``timeout`` runs out — nobody received it, so that is always safe — and then
:class:`CommandUnavailable` says what to start. A worker that received the command but did not
answer in time gives :class:`CommandTimeout`: the command may have been stored, and sending it
again with the same ``command_id`` is safe (the domain answers a repeat with the first Outcome).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import nats.errors

from domain.commands import AnyCommand
from domain.decisions import target
from domain.outcome import Outcome
from gateways.command_service.wire import (
    PING,
    decode_reply,
    encode_request,
    partition_of,
    subject_of,
)

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS


class CommandUnavailable(TimeoutError):
    """No command worker serves the command's partition; nothing was stored."""


class CommandTimeout(TimeoutError):
    """A command worker took the command but did not answer in time; it may have been stored."""


class NatsCommands:
    """``send(command)`` through NATS request-reply to ``muster commands`` workers.

    ``connect`` returns the process's NATS connection (called once, on first use);
    ``workers`` is the number of partitions the workers were started with; ``timeout`` is the
    most a ``send`` waits, in seconds.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[NATS]],
        *,
        prefix: str = "muster.commands",
        workers: int = 1,
        timeout: float = 10.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.prefix, self.workers, self.timeout = prefix, workers, timeout
        self._connect = connect
        self._nc: NATS | None = None
        self._connecting = asyncio.Lock()
        self._closed = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def _connection(self) -> NATS:
        if self._nc is None:
            async with self._connecting:
                if self._nc is None:
                    self._nc = await self._connect()
        return self._nc

    async def send(self, command: AnyCommand) -> Outcome:
        """Send ``command`` to its game's worker; the Outcome, or the DomainError raised."""
        if self._closed:
            raise RuntimeError("the command port is closed")
        partition = partition_of(target(command), self.workers)
        subject = subject_of(self.prefix, self.workers, partition)
        payload = encode_request(command)
        self._in_flight += 1
        self._idle.clear()
        try:
            nc = await self._connection()
            data = await self._request(nc, subject, payload, partition)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
        return decode_reply(data)

    async def _request(self, nc: NATS, subject: str, payload: bytes, partition: int) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        pause = 0.01
        while (remaining := deadline - loop.time()) > 0:
            try:
                reply = await nc.request(subject, payload, timeout=remaining)
            except nats.errors.NoRespondersError:
                await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
                pause = min(pause * 2, 0.25)
                continue
            except nats.errors.TimeoutError:
                raise CommandTimeout(
                    f"the command worker of partition {partition} of {self.workers} took the "
                    f"command but did not answer within {self.timeout:g}s "
                    "(MUSTER_COMMAND_TIMEOUT); it may or may not have been stored, and sending "
                    "it again with the same command_id is safe"
                ) from None
            return bytes(reply.data)
        raise CommandUnavailable(
            f"no command worker served partition {partition} of {self.workers} ({subject}) "
            f"within {self.timeout:g}s (MUSTER_COMMAND_TIMEOUT); nothing was stored. Start "
            f"`muster commands --workers {self.workers}` (all partitions) or one worker per "
            f"partition with `--worker K`, and check that MUSTER_COMMAND_WORKERS is the same "
            "everywhere"
        )

    async def aclose(self) -> None:
        """Wait for commands in flight, then refuse new ones (the connection is not ours)."""
        self._closed = True
        await self._idle.wait()


async def unserved_partitions(
    nc: NATS, prefix: str, workers: int, timeout: float = 2.0
) -> list[int]:
    """The partitions of ``workers`` that no command worker answers (``muster doctor``)."""

    async def served(k: int) -> bool:
        try:
            await nc.request(subject_of(prefix, workers, k), PING, timeout=timeout)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            return False
        return True

    answers = await asyncio.gather(*(served(k) for k in range(workers)))
    return [k for k, ok in enumerate(answers) if not ok]
