"""Closing a NatsBridge leaves no task pending on its loop (none is "destroyed but pending")."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from gateways.jetstream.bridge import NatsBridge

pytestmark = pytest.mark.integration


def test_close_leaves_no_task_pending(nats_url: str, caplog: pytest.LogCaptureFixture) -> None:
    bridge = NatsBridge(nats_url)
    seen: list[bytes] = []

    async def subscribe() -> None:
        async def on_message(msg: object) -> None:
            seen.append(getattr(msg, "data", b""))

        await bridge.nc.subscribe("muster.test.bridge", cb=on_message)
        await bridge.nc.flush()

    async def linger() -> None:  # a call still running when the bridge closes
        await asyncio.Event().wait()

    bridge.run(subscribe)
    bridge.submit_cleanup(linger)
    loop = bridge._loop
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        bridge.close()
        gc.collect()
    assert [t for t in asyncio.all_tasks(loop) if not t.done()] == []
    assert loop.is_closed()
    assert "Task was destroyed but it is pending" not in caplog.text
