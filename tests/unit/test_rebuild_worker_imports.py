"""A rebuild worker process starts without nats-py's WebSocket transport (and its aiohttp
import) unless a URL asks for it, and its NATS client still works over TCP."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from typing import Any

from projections import rebuild_workers

PROBE = """
import sys
from projections.rebuild_worker import without_websockets
print(without_websockets({url!r}))
import projections.rebuild_workers, nats.aio.transport
print(sys.modules.get("aiohttp") is not None, nats.aio.transport.aiohttp is not None)
from gateways.jetstream.headers import Client
Client()  # the client a worker connects with can be made
"""


def probe(url: str) -> list[str]:
    done = subprocess.run(  # a process of its own: this one's modules stay as they are
        [sys.executable, "-c", PROBE.format(url=url)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.split()


def test_a_tcp_worker_leaves_aiohttp_out() -> None:
    assert probe("nats://127.0.0.1:4222, nats://127.0.0.1:4223") == ["True", "False", "False"]


def test_a_websocket_url_keeps_it() -> None:
    assert probe("nats://127.0.0.1:4222,WS://127.0.0.1:8080") == ["False", "True", "True"]


def test_the_job_goes_on_standard_input_not_the_command_line(monkeypatch: Any) -> None:
    """The job's URLs carry passwords; a command line is visible to every user of the machine."""
    secret = "s3cret-pw"
    job = rebuild_workers.WorkerJob(
        nats_url=f"nats://muster:{secret}@127.0.0.1:4222", stream="EVENTS", prefix="events",
        database_url=f"postgresql://muster:{secret}@127.0.0.1/muster", schema="rebuild",
        index=0, count=1, until=0,
    )  # fmt: skip
    seen: dict[str, Any] = {}

    class Finished:
        returncode = 0

        async def communicate(self, given: bytes | None = None) -> tuple[bytes, None]:
            seen["stdin"] = given
            result = rebuild_workers.WorkerResult(0, 0, 0, 0, 0, 1.0)
            return json.dumps(dataclasses.asdict(result)).encode(), None

    async def exec_(*command: str, **options: Any) -> Finished:
        seen["command"], seen["options"] = command, options
        return Finished()

    monkeypatch.setattr(rebuild_workers.asyncio, "create_subprocess_exec", exec_)
    _, results = asyncio.run(rebuild_workers.run_workers([job]))
    assert results[0].peak_rss_mib == 1.0
    assert not any(secret in part for part in seen["command"])
    assert seen["options"]["stdin"] == asyncio.subprocess.PIPE
    assert json.loads(seen["stdin"])["nats_url"] == job.nats_url
