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
