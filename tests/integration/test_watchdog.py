"""An embedded server killed under `muster up` is restarted with its data, and clients reconnect."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import nats
import pytest

from deploy.stack import LocalStack
from deploy.watchdog import Watchdog

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_killed_nats_is_restarted_with_its_stream(tmp_path: Path) -> None:
    stack = LocalStack(data_dir=tmp_path, database_url="unused", redis_url="unused", durable=True)
    with stack:
        (process,) = stack.processes
        reconnected = asyncio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        nc = await nats.connect(
            stack.url("nats"),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.1,
            reconnected_cb=on_reconnect,
        )
        try:
            js = nc.jetstream()
            await js.add_stream(name="KEEP", subjects=["keep.>"])
            await js.publish("keep.one", b"1")
            clock = Clock()
            watchdog = Watchdog(stack.processes, clock=clock)
            assert watchdog.check() == []

            assert process.proc is not None
            process.proc.send_signal(signal.SIGKILL)
            process.proc.wait()
            lines = watchdog.check()
            assert lines[0] == "NATS stopped (exit code -9); restarting it"
            assert lines[1].startswith("NATS restarted (pid ")
            assert process.running

            await asyncio.wait_for(reconnected.wait(), 30)  # the client reconnected by itself
            ack = await js.publish("keep.two", b"2", timeout=10)
            assert ack.seq == 2  # and the stream kept its first message
        finally:
            await nc.close()


def test_a_server_that_cannot_restart_is_retried_with_backoff(tmp_path: Path) -> None:
    stack = LocalStack(data_dir=tmp_path, database_url="unused", redis_url="unused", durable=True)
    with stack:
        (process,) = stack.processes
        assert process.proc is not None
        process.proc.send_signal(signal.SIGKILL)
        process.proc.wait()
        process.argv = [*process.argv, "--no-such-flag"]
        clock = Clock()
        watchdog = Watchdog(stack.processes, clock=clock, ready_timeout=5)
        lines = watchdog.check()
        assert lines[0].startswith("NATS stopped")
        assert lines[1].startswith("NATS did not restart (")
        assert lines[1].endswith("next try in 1s")
        assert watchdog.check() == []  # not due yet
        clock.now = 1.0
        assert watchdog.check()[0].endswith("next try in 2s")
