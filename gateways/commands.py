"""The in-process :class:`~domain.ports.CommandPort`: ``MusterApp.handle`` in a bounded pool.

``MusterApp.handle`` is synchronous (it waits for the log's acknowledgement), so it runs in a
thread pool off the event loop. The pool is bounded: past ``max_workers`` commands at once,
callers queue in order instead of starting more threads. The app serialises commands per
aggregate itself, so a burst on one game is decided one command at a time.

Threads beside an event loop share one GIL. When the loop gives the GIL up for a socket call, a
pool thread or the NATS bridge's thread takes it, and by default the loop may wait up to 5 ms
(CPython's switch interval) to get it back; in the bot's benchmark its loop spent 0.36-0.88 ms
per click more than the echo floor's in calls that give the GIL up. The port therefore shortens
the process's switch interval to :data:`LOOP_TURN` (never lengthens it): 0.07-0.20 ms more.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from concurrent.futures import ThreadPoolExecutor

from domain.app import MusterApp
from domain.commands import AnyCommand
from domain.outcome import Outcome

LOOP_TURN = 50e-6  # seconds a thread may keep the GIL while another (the event loop) waits


def shorten_gil_turns(interval: float = LOOP_TURN) -> None:
    """Let a thread that waits for the GIL (the event loop) have it within ``interval`` s."""
    sys.setswitchinterval(min(sys.getswitchinterval(), interval))


class InProcessCommands:
    """``send(command)`` for entry points running in the same process as the domain."""

    def __init__(self, app: MusterApp, *, max_workers: int = 8) -> None:
        self.app = app
        shorten_gil_turns()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="muster-cmd")
        self._closed = False

    async def send(self, command: AnyCommand) -> Outcome:
        """Decide and append ``command`` on a pool thread; Outcome or DomainError."""
        if self._closed:
            raise RuntimeError("the command port is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(self.app.handle, command))

    async def aclose(self) -> None:
        """Wait for commands in flight, then refuse new ones."""
        self._closed = True
        await asyncio.to_thread(self._pool.shutdown, wait=True)
