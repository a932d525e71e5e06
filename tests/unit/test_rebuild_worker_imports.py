"""A rebuild worker process starts without nats-py's WebSocket transport (and its aiohttp
import) unless a URL asks for it, and its NATS client still works over TCP."""

from __future__ import annotations

import subprocess
import sys

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
