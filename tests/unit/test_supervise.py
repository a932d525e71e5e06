"""Supervision: a failing service is restarted with backoff, or ends the group naming it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from deploy import supervise as sv
from deploy.supervise import Service, ServiceFailed, backoff, supervise


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sv, "backoff", lambda attempt: 0.0)


async def test_a_restartable_service_is_restarted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    runs = 0

    async def flaky(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ConnectionResetError("server went away")
        stop.set()

    with caplog.at_level(logging.ERROR, logger="muster.supervise"):
        await supervise([Service("projectors", flaky)], stop)
    assert runs == 3
    messages = [(r.getMessage(), r.exc_info and r.exc_info[0]) for r in caplog.records]
    assert messages == [
        ("service projectors failed", ConnectionResetError),  # with its traceback
        ("service projectors failed again (ConnectionResetError: server went away)", None),
    ]


async def test_a_fatal_failure_names_the_service_and_stops_the_others() -> None:
    stop = asyncio.Event()
    others_stopped = asyncio.Event()

    async def steady(stop: asyncio.Event) -> None:
        try:
            await stop.wait()
        finally:
            others_stopped.set()

    async def broken(stop: asyncio.Event) -> None:
        raise OSError("port 8765 is taken")

    with pytest.raises(ServiceFailed, match=r"the Discord emulator service failed .*8765"):
        await supervise(
            [Service("projectors", steady), Service("Discord emulator", broken, restart=False)],
            stop,
        )
    assert others_stopped.is_set()


async def test_a_service_that_returns_unasked_counts_as_a_failure() -> None:
    async def quits(stop: asyncio.Event) -> None:
        return None

    with pytest.raises(ServiceFailed, match=r"bot service failed .*stopped by itself"):
        await supervise([Service("bot", quits, max_restarts=2)], asyncio.Event())


async def test_stop_ends_every_service() -> None:
    stop = asyncio.Event()

    async def waits(stop: asyncio.Event) -> None:
        await stop.wait()

    stop.set()
    await supervise([Service("a", waits), Service("b", waits)], stop)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff(100) == 30.0
