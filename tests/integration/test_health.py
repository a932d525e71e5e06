"""Health reports go to the JetStream key-value bucket and can be read from another client."""

from __future__ import annotations

import asyncio
import time
import uuid

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


async def test_muster_health_says_why_a_process_is_not_healthy(
    nats_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from deploy import cli

    key = f"scheduler-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MUSTER_NATS_URL", nats_url)

    async def muster_health(*options: str) -> tuple[int, str]:
        code = await asyncio.to_thread(cli.main, ["health", key, *options])
        return code, capsys.readouterr().out.strip()

    assert await muster_health() == (
        1,
        f"{key}: no health report (not running, or stopped reporting)",
    )
    writer = await nats.connect(nats_url)
    try:
        reporter = HealthReporter(writer, key)
        await reporter.report()  # still "starting"
        assert await muster_health() == (1, f"{key}: it says starting")
        assert await muster_health("--live") == (0, f"{key}: alive")
        reporter.state = "running"
        await reporter.report()
        assert await muster_health() == (0, f"{key}: running")
        reporter.state, reporter.last_error = "degraded", "PostgreSQL is down"
        await reporter.report()
        assert await muster_health() == (1, f"{key}: it says degraded: PostgreSQL is down")
        assert await muster_health("--live") == (0, f"{key}: alive")
        reporter.state = "stopping"
        await reporter.report()
        assert await muster_health("--live") == (1, f"{key}: it says stopping: PostgreSQL is down")
        reporter.state, reporter.clock = "running", lambda: time.time() - 100
        await reporter.report()
        code, out = await muster_health()
        assert (code, out.endswith("s old (more than 30s)")) == (1, True), out
    finally:
        await writer.close()
