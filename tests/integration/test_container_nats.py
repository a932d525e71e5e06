"""The container's NATS connection: a service's reconnects after its server comes back, with one
log line per event; a one-shot tool's gives up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.bootstrap import Container, ServerUnreachable
from deploy.embedded import nats_client_url, nats_server
from deploy.settings import Settings

pytestmark = pytest.mark.integration


class Notes(logging.Handler):
    """The container's log lines, with a way to wait for one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.changed.set()  # callbacks run on the test's loop

    async def wait_for(self, line: str, timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while line not in self.lines:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def notes() -> Iterator[Notes]:
    handler = Notes()
    logger = logging.getLogger("muster.bootstrap")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def test_a_service_reconnects_and_says_so_once(tmp_path: Path, notes: Notes) -> None:
    server = nats_server(tmp_path)
    server.start()
    url = nats_client_url(tmp_path, server.port)
    try:
        async with Container.open(Settings(nats_timeout=2), {"nats": url}) as container:
            nc = await container.nats()
            server.stop()
            await notes.wait_for("NATS connection lost; reconnecting")
            server.start()
            await notes.wait_for("NATS reconnected")
            assert nc.is_connected
            await nc.publish("x", b"still works")
            await nc.flush(timeout=2)
            assert notes.lines.count("NATS connection lost; reconnecting") == 1
            assert len([n for n in notes.lines if n.startswith("NATS: ")]) <= 1
    finally:
        server.stop()


async def test_a_tool_gives_up_when_its_server_is_gone(tmp_path: Path) -> None:
    server = nats_server(tmp_path)
    server.start()
    url = nats_client_url(tmp_path, server.port)
    server.stop()
    async with Container.open(Settings(nats_timeout=1), {"nats": url}, one_shot=True) as c:
        with pytest.raises(ServerUnreachable, match=r"nats://muster:\*\*\*@127\.0\.0\.1"):
            await c.nats()
