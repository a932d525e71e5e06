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

The hand-off back to the loop is one ``call_soon_threadsafe`` per command that settles an
asyncio future, rather than ``run_in_executor``'s chain of a concurrent future, a done
callback and a state copy (less work on the event loop for every click).
"""

from __future__ import annotations

import asyncio
import contextlib
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
        answer: asyncio.Future[Outcome] = loop.create_future()
        self._pool.submit(self._decide, command, loop, answer)
        return await answer

    def _decide(
        self, command: AnyCommand, loop: asyncio.AbstractEventLoop, answer: asyncio.Future[Outcome]
    ) -> None:
        """On a pool thread: handle ``command`` unless its caller gave up first, then settle
        ``answer`` on the loop."""
        if answer.cancelled():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            try:
                outcome = self.app.handle(command)
            except BaseException as error:  # noqa: BLE001 raised to the caller, as run_in_executor does
                loop.call_soon_threadsafe(_fail, answer, error)
            else:
                loop.call_soon_threadsafe(_succeed, answer, outcome)

    async def aclose(self) -> None:
        """Wait for commands in flight, then refuse new ones."""
        self._closed = True
        await asyncio.to_thread(self._pool.shutdown, wait=True)


def _succeed(answer: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not answer.done():
        answer.set_result(outcome)


def _fail(answer: asyncio.Future[Outcome], error: BaseException) -> None:
    if not answer.done():
        answer.set_exception(error)
