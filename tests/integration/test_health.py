"""Health reports go to the JetStream key-value bucket and can be read from another client."""

from __future__ import annotations

import asyncio

import nats
import pytest

from gateways.health import HealthReporter, read_health

pytestmark = pytest.mark.integration


async def test_a_report_is_readable_by_another_connection(nats_url: str) -> None:
    writer = await nats.connect(nats_url)
    reader = await nats.connect(nats_url)
    try:
        reporter = HealthReporter(writer, "test-proc", lambda: {"pending": 3}, clock=lambda: 100.0)
        reporter.state = "running"
        reporter.last_error = "Discord said 50007"
        await reporter.report()
        health = (await read_health(reader))["test-proc"]
        assert (health.state, health.last_error, health.figures) == (
            "running", "Discord said 50007", {"pending": 3}
        )  # fmt: skip
        stop = asyncio.Event()
        stop.set()
        await reporter.run(stop)
        assert (await read_health(reader))["test-proc"].state == "stopping"
    finally:
        await writer.close()
        await reader.close()
