"""The benchmarks' command ports for the bot (in process, as ``muster bot`` runs by default, or
through a ``muster commands`` worker process, as with ``MUSTER_COMMANDS=nats``) and the game
their clicks join (used by ``tests.bench.bot``, ``bot_cpu`` and ``join_path``)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.app import MusterApp
from domain.commands import CreateGame
from domain.ports import CommandPort
from gateways.command_service import NatsCommands
from gateways.commands import InProcessCommands
from tests.bench.cmdservice.rush import Log, cpu_seconds, start_workers, stop

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS


async def bench_game(
    port: CommandPort, tag: str, host_id: int, guild_id: int, channel_id: int
) -> str:
    """A game for clicks (100 seats, no waitlist limit, tomorrow); its Join button's id."""
    outcome = await port.send(
        CreateGame(
            command_id=f"{tag}:{uuid.uuid4().hex[:8]}",
            user_id=str(host_id),
            permissions=0x20,
            guild_id=str(guild_id),
            channel_id=str(channel_id),
            title="Bench",
            scheduled_at=datetime.now(UTC) + timedelta(days=1),
            max_players=100,
            waitlist_cap="unlimited",
        )
    )
    return f"muster:join:{outcome.game_id}"


def in_process_port(nats_url: str) -> tuple[CommandPort, Callable[[], Any]]:
    """The command port ``muster bot`` uses in one process: MusterApp on the JetStream log."""
    env = {
        "PERSISTENCE_MODULE": "gateways.jetstream", "MUSTER_NATS_URL": nats_url,
        "MUSTER_EVENTS_STREAM": f"BENCH_{uuid.uuid4().hex[:8]}",
        "MUSTER_EVENTS_SUBJECT_PREFIX": f"b{uuid.uuid4().hex[:8]}",
    }  # fmt: skip
    app = MusterApp(env=env)
    port = InProcessCommands(app)

    async def close() -> None:
        await port.aclose()
        app.close()

    return port, close


@dataclass
class Worker:
    """A ``muster commands`` process on a log of its own."""

    subject: str
    pid: int

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


@contextlib.contextmanager
def worker_process(nats_url: str) -> Iterator[Worker]:
    """One ``muster commands`` worker process (every partition of 1), stopped on exit."""
    tag = uuid.uuid4().hex[:8]
    log = Log(nats_url, f"BENCH_{tag}", f"b{tag}", f"bench.{tag}.commands")
    [proc] = start_workers(log, 1)
    try:
        yield Worker(log.subject, proc.pid)
    finally:
        stop([proc])


def worker_port(nc: NATS, subject: str) -> CommandPort:
    """The bot's port with ``MUSTER_COMMANDS=nats``: request-reply to the worker on ``nc``."""

    async def connection() -> NATS:
        return nc

    return NatsCommands(connection, prefix=subject, workers=1, timeout=30)
