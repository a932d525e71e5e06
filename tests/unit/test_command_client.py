"""The command service's client on a fake NATS connection: a partition without a worker is
asked again until one serves it; closing waits for commands in flight."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import nats.errors
import pytest

from domain.commands import JoinGame
from domain.outcome import Outcome
from gateways.command_service import CommandUnavailable, NatsCommands, partition_of
from gateways.command_service.wire import encode_outcome
from tests.unit.domain.scenario import GAME

JOIN = JoinGame(command_id="j1", user_id="7", game_id=GAME)
OUTCOME = Outcome(
    result="joined", message="You joined the game (1/3).", aggregate_id=f"game.{GAME}",
    command_id="j1", version=2,
)  # fmt: skip


@dataclass
class Reply:
    data: bytes


@dataclass
class FakeNats:
    """Answers ``request`` with no responders ``absent`` times, then with OUTCOME (after
    ``gate`` is set, when given)."""

    absent: int = 0
    gate: asyncio.Event | None = None
    subjects: list[str] = field(default_factory=list)

    async def request(self, subject: str, payload: bytes, timeout: float) -> Reply:
        self.subjects.append(subject)
        if self.absent:
            self.absent -= 1
            raise nats.errors.NoRespondersError
        if self.gate is not None:
            await self.gate.wait()
        return Reply(encode_outcome(OUTCOME))


def port_on(nc: FakeNats, timeout: float = 30.0) -> NatsCommands:
    async def connect() -> FakeNats:
        return nc

    return NatsCommands(connect, prefix="p", workers=4, timeout=timeout)  # type: ignore[arg-type]


async def test_a_partition_without_worker_is_asked_again_until_one_answers() -> None:
    nc = FakeNats(absent=3)
    assert await port_on(nc).send(JOIN) == OUTCOME
    k = partition_of(f"game.{GAME}", 4)
    assert nc.subjects == [f"p.4.{k}"] * 4


async def test_no_worker_until_the_timeout_is_a_clear_error() -> None:
    with pytest.raises(CommandUnavailable, match=r"muster commands --workers 4"):
        await port_on(FakeNats(absent=10**9), timeout=0.05).send(JOIN)


async def test_close_waits_for_commands_in_flight_then_refuses() -> None:
    gate = asyncio.Event()
    port = port_on(FakeNats(gate=gate))
    sending = asyncio.create_task(port.send(JOIN))
    await asyncio.sleep(0)  # the send is under way
    closing = asyncio.create_task(port.aclose())
    await asyncio.sleep(0)
    assert not closing.done()
    gate.set()
    assert await sending == OUTCOME
    await closing
    with pytest.raises(RuntimeError, match="closed"):
        await port.send(JOIN)
