"""The scheduler's loop: sleep until the next due time, hand out what is due, repeat.

It sleeps exactly until the earliest pending due time (or until the log changes the agenda),
never on a polling interval; a wake-up at most every ``MAX_SLEEP`` seconds guards against the
wall clock being set back or forth while it sleeps. Due times run concurrently (bounded);
the start and the end of one game run in order. A due time that fails for a reason that may
pass (the log or Discord not answering) is handed out again with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.ports import CommandPort
from projections.scheduler.actions import Actions
from projections.scheduler.agenda import Due
from projections.scheduler.board import Board
from projections.scheduler.clock import Clock, WallClock
from projections.scheduler.mailbox import Mailbox
from projections.scheduler.metrics import SchedulerMetrics

log = logging.getLogger(__name__)

MAX_SLEEP = 60.0
STOP_GRACE = 5.0  # seconds due times in flight get to finish at stop; then they are cancelled
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
WARM_AHEAD = 3600.0  # open DM channels for reminders due within this many seconds
WARM_EVERY = 600.0  # ... looked for again at least this often (and whenever the log changes)
WARM_PAUSE = 5.0  # ... but not more often than this


class Scheduler:
    """Due times from a :class:`Board`, carried out by :class:`Actions` at their time."""

    def __init__(
        self,
        port: CommandPort,
        mailbox: Mailbox,
        *,
        clock: Clock | None = None,
        metrics: SchedulerMetrics | None = None,
        concurrency: int = 64,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.clock = clock or WallClock()
        self.metrics = metrics or SchedulerMetrics.default()
        self.board = Board()
        self.actions = Actions(port, mailbox, self.board, self.metrics)
        self.on_error = on_error
        self.last_error = ""
        self._slots = asyncio.Semaphore(concurrency)
        self._game_locks: dict[str, asyncio.Lock] = {}
        self._attempts: dict[Due, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._warm_wake = asyncio.Event()
        self._warmed: set[str] = set()

    # -- feeding ----------------------------------------------------------------------------
    def wake(self) -> None:
        """The agenda changed: look at the next due time again."""
        self._wake.set()
        self._warm_wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def figures(self) -> dict[str, Any]:
        """For the health report."""
        nxt = self.board.agenda.next_at()
        return {
            "pending": len(self.board.agenda),
            "in_flight": self.in_flight,
            "next_due": None if nxt is None else datetime.fromtimestamp(nxt, UTC).isoformat(),
            "games": len(self.board.games),
        }

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Hand out due times until ``stop`` is set; then let those in flight finish."""
        stopper = asyncio.create_task(self._wake_on(stop))
        warmer = asyncio.create_task(self._warm(stop))
        try:
            while not stop.is_set():
                self._wake.clear()
                now = self.clock.now()
                for at, due in self.board.agenda.pop_due(now):
                    self._start(at, due)
                nxt = self.board.agenda.next_at()
                self.metrics.pending.set(len(self.board.agenda))
                timeout = MAX_SLEEP if nxt is None else min(MAX_SLEEP, max(0.0, nxt - now))
                await self.clock.wait(self._wake, timeout)
        finally:
            stopper.cancel()
            warmer.cancel()
            log.info("scheduler: stopping; %d due times in flight", self.in_flight)
            await self.drain(STOP_GRACE)

    async def tick(self) -> int:
        """Hand out what is due now and wait for it (tests and tools step with this)."""
        due = self.board.agenda.pop_due(self.clock.now())
        for at, item in due:
            self._start(at, item)
        await self.drain()
        return len(due)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the due times in flight; past ``timeout``, cancel them (each is safe to
        cut short: its commands and its DM are idempotent, and the next start resumes it)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def to_warm(self) -> list[str]:
        """Players with a reminder due within ``WARM_AHEAD`` whose DM channel is not open yet."""
        horizon = self.clock.now() + WARM_AHEAD
        users: dict[str, None] = {}
        for due, at in self.board.agenda.items():
            if due.kind == "remind" and at <= horizon and due.user_id not in self._warmed:
                users[due.user_id] = None
        return list(users)

    async def _warm(self, stop: asyncio.Event) -> None:
        """Open DM channels ahead of a burst (one at a time, paced by Discord's limits), so the
        reminders themselves spend their budget on messages."""
        while not stop.is_set():
            self._warm_wake.clear()
            for user in self.to_warm():
                if stop.is_set():
                    return
                try:
                    await self.actions.mailbox.prepare(user)
                except Exception:  # an optimisation must not stop the scheduler
                    log.exception("opening the DM channel of %s ahead failed", user)
                self._warmed.add(user)
            if len(self._warmed) > 100_000:  # DM channels stay cached for a day
                self._warmed.clear()
            await self.clock.wait(self._warm_wake, WARM_EVERY)
            await self.clock.wait(stop, WARM_PAUSE)  # at most one scan per pause

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()
        self._warm_wake.set()

    def _start(self, at: float, due: Due) -> None:
        self.board.take(due)
        task = asyncio.create_task(self._handle(at, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, at: float, due: Due) -> None:
        lock = self._game_locks.setdefault(due.game_id, asyncio.Lock())
        try:
            async with self._slots:
                if due.kind == "remind":
                    result = await self.actions.run(due, self.clock.now())
                else:
                    async with lock:
                        result = await self.actions.run(due, self.clock.now())
        except Exception as error:  # a bug must not stop the other due times
            log.exception("%s %s failed", due.kind, due.key)
            self._error(f"{due.kind} {due.key}: {type(error).__name__}: {error}")
            result = "retry"
        finally:
            if due.game_id not in self.board.games:
                self._game_locks.pop(due.game_id, None)
        if result == "retry":
            attempt = self._attempts.get(due, 0)
            self._attempts[due] = attempt + 1
            self.metrics.retries.inc()
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            self.board.defer(due, self.clock.now() + delay)
            self.wake()
            return
        self._attempts.pop(due, None)
        self.board.done(due)
        if result == "done":
            self.metrics.due_lag.labels(due.kind).observe(max(0.0, self.clock.now() - at))

    def _error(self, text: str) -> None:
        self.last_error = text
        if self.on_error is not None:
            self.on_error(text)
