"""The in-process command port on eventsourcing's in-memory (POPO) persistence."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.app import MusterApp
from domain.ports import CommandPort
from gateways.commands import InProcessCommands
from tests.contracts.command_port import CommandPortContract
from tests.unit.domain.scenario import NOW


class TestInProcessOnPopo(CommandPortContract):
    @pytest.fixture
    async def port(self) -> AsyncIterator[CommandPort]:
        port = InProcessCommands(MusterApp(clock=lambda: NOW), max_workers=4)
        yield port
        await port.aclose()


@pytest.mark.parametrize(("before", "after"), [(0.005, 50e-6), (10e-6, 10e-6)])
async def test_the_port_shortens_gil_turns_and_never_lengthens_them(
    before: float, after: float
) -> None:
    """Pool threads beside an event loop: the loop gets the GIL back within 50 µs, not 5 ms."""
    import sys

    saved = sys.getswitchinterval()
    sys.setswitchinterval(before)
    try:
        port = InProcessCommands(MusterApp(clock=lambda: NOW), max_workers=1)
        await port.aclose()
        assert sys.getswitchinterval() == pytest.approx(after)
    finally:
        sys.setswitchinterval(saved)
