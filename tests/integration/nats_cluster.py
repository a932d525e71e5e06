"""A 3-node NATS cluster for tests (import the ``nats_cluster`` fixture into a test module).

The nodes run from the same pip-installed ``nats-server`` as the single test server, on free
loopback ports, under the test's own directory; they are stopped (and their data removed with the
directory) when the test ends. Helpers find the stream's leader and wait for a new one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from deploy.embedded_cluster import NatsCluster
from deploy.embedded_cluster import nats_cluster as make_cluster
from deploy.processes import ServerProcess


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three routed JetStream servers; ``client_url()`` lists them all."""
    cluster = make_cluster(tmp_path / "cluster", 3)
    try:
        for node in cluster.nodes:
            node.start()
        wait_for_jetstream(cluster.client_url())
        yield cluster
    finally:
        for node in cluster.nodes:
            node.stop()


def wait_for_jetstream(url: str, timeout: float = 30.0) -> None:
    """Wait until the servers at ``url`` (comma-separated) answer JetStream API calls: a
    cluster once it has elected its meta leader."""

    async def ready() -> bool:
        nc = await nats.connect(url.split(","), connect_timeout=2)
        try:
            reply = await nc.request("$JS.API.INFO", b"", timeout=0.5)
        except nats.errors.Error:
            return False
        finally:
            await nc.close()
        return "error" not in json.loads(reply.data)

    deadline = time.monotonic() + timeout
    while not asyncio.run(ready()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no JetStream leader after {timeout:g}s")
        time.sleep(0.1)


def stream_leader(cluster: NatsCluster, stream: str, timeout: float = 30.0) -> ServerProcess:
    """The node that leads ``stream`` now (waits while an election is under way)."""

    async def ask() -> str | None:
        nc = await nats.connect(
            cluster.client_url(running_only=True).split(","),
            connect_timeout=2,
            max_reconnect_attempts=2,
        )
        try:
            reply = await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=2)
        except nats.errors.Error:
            return None
        finally:
            await nc.close()
        leader: str | None = json.loads(reply.data).get("cluster", {}).get("leader")
        return leader

    deadline = time.monotonic() + timeout
    while True:
        name = asyncio.run(ask())
        if name:
            return cluster.node_named(name)
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream {stream} has no leader after {timeout:g}s")
        time.sleep(0.1)
