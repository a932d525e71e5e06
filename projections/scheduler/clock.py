"""Time for the scheduler: the wall clock, or a manual one that tests move by hand."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Unix seconds."""
        ...

    async def wait(self, wake: asyncio.Event, timeout: float | None) -> None:
        """Return when ``wake`` is set or ``timeout`` seconds (of this clock) have passed."""
        ...


class WallClock:
    """The real time; waits with asyncio's timer (monotonic), so a sleep ends on time."""

    def now(self) -> float:
        return time.time()

    async def wait(self, wake: asyncio.Event, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


class ManualClock:
    """A clock that only moves when :meth:`advance` is called (for tests)."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._moved.set()

    async def wait(self, wake: asyncio.Event, timeout: float | None) -> None:
        deadline = None if timeout is None else self._now + timeout
        while not wake.is_set() and (deadline is None or self._now < deadline):
            self._moved.clear()
            waiters = [
                asyncio.ensure_future(wake.wait()),
                asyncio.ensure_future(self._moved.wait()),
            ]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
