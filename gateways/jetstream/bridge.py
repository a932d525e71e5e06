"""A synchronous front for one asyncio NATS connection.

eventsourcing's recorders are synchronous and are called from many threads at once; nats-py is
asyncio. A :class:`NatsBridge` owns one event loop in a daemon thread and one NATS connection on
it. Callers submit coroutines with :meth:`NatsBridge.run`, which blocks the calling thread for at
most ``timeout`` seconds, so concurrent threads share one connection and overlap their round trips.

No call hangs: an unreachable or silent server becomes eventsourcing's ``OperationalError``
naming the URL and what to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import nats
from eventsourcing.persistence import OperationalError
from nats.aio.client import Client as NATS

from gateways.jetstream.headers import Client as RawClient

T = TypeVar("T")
log = logging.getLogger("muster.nats")

HINT = "is the server running and reachable? `muster doctor` checks every dependency"


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Poll a TCP port until it accepts a connection or ``timeout`` passes.

    A NATS connect attempt before the port is open costs seconds of reconnect wait, so every
    connect is preceded by this cheap probe.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(0.5, timeout)):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def server_urls(url: str) -> list[str]:
    """The servers of a NATS URL setting (``nats://h:p[,nats://h2:p2...]``)."""
    servers = [u.strip() for u in url.split(",") if u.strip()]
    return [u if "://" in u else f"nats://{u}" for u in servers]


def host_and_port(url: str) -> tuple[str, int]:
    """Host and port of one server URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 4222


class NatsBridge:
    """One NATS connection on a private event loop, usable from any thread."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run_loop, name="muster-nats-bridge", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._pending: deque[_Call[Any]] = deque()
        self._pending_lock = threading.Lock()
        self._drain_scheduled = False
        self.lost: asyncio.Event | None = None  # set when the connection drops (loop only)
        try:
            self.nc: NATS = self.run(self._connect)
        except BaseException:
            self._stop_loop()
            raise

    async def _connect(self) -> NATS:
        servers = server_urls(self.url)

        def any_reachable() -> bool:
            wait = self.timeout / len(servers)
            return any(wait_for_port(*host_and_port(u), wait) for u in servers)

        reachable = await asyncio.to_thread(any_reachable)
        if not reachable:
            raise OperationalError(
                f"cannot reach NATS at {self.url} within {self.timeout:g}s: {HINT}"
            )
        client = RawClient()  # nats-py's, with raw subscriptions (the appends' answers)
        self.lost = asyncio.Event()
        told = False

        async def on_error(error: Exception) -> None:  # one line per outage, not a traceback
            nonlocal told
            if not told:
                told = True
                log.warning("NATS: %s", error or type(error).__name__)

        async def on_disconnected() -> None:
            if self.lost is not None:  # answers to requests in flight will never come
                self.lost.set()

        async def on_reconnected() -> None:
            nonlocal told
            told = False
            self.lost = asyncio.Event()

        connect = client.connect(
            servers,
            connect_timeout=max(1, round(self.timeout)),
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,  # per server: with several, the next one is tried at once
            allow_reconnect=True,
            name="muster",
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
        )
        try:
            await asyncio.wait_for(connect, self.timeout)
        except (OSError, TimeoutError, nats.errors.Error) as error:
            await self._discard(client)
            raise OperationalError(
                f"cannot connect to NATS at {self.url} within {self.timeout:g}s ({error!r}): {HINT}"
            ) from error
        except asyncio.CancelledError:
            await self._discard(client)
            raise
        return client

    @staticmethod
    async def _discard(client: NATS) -> None:
        """Release a half-open connection's socket (a failed connect leaves it open)."""
        with contextlib.suppress(nats.errors.Error, OSError):
            await client.close()
        transport = getattr(client, "_transport", None)
        if transport is not None:
            transport.close()

    def run(self, make: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run ``make()`` on the bridge's loop; return its result, waiting at most ``timeout``."""
        if self._closed:
            raise OperationalError(f"the NATS connection to {self.url} is closed")
        limit = self.timeout if timeout is None else timeout
        call: _Call[T] = _Call(make)
        self._submit(call)
        if not call.done.acquire(timeout=limit + 1.0):
            self._loop.call_soon_threadsafe(call.cancel)
            raise OperationalError(f"NATS at {self.url} did not answer within {limit:g}s: {HINT}")
        try:
            return call.outcome()
        except (TimeoutError, nats.errors.TimeoutError, asyncio.CancelledError) as error:
            raise OperationalError(
                f"NATS at {self.url} did not answer within {limit:g}s: {HINT}"
            ) from error
        except nats.errors.ConnectionClosedError as error:
            raise OperationalError(f"the NATS connection to {self.url} is closed") from error
        except nats.errors.NoRespondersError as error:
            raise OperationalError(
                f"NATS at {self.url} has no JetStream responder: start nats-server with -js"
            ) from error

    def _submit(self, call: _Call[Any]) -> None:
        """Queue a call; wake the loop only if no drain is already scheduled.

        Many threads submitting at once then cost one loop wake-up, and their requests leave in
        one socket write instead of one each.
        """
        self._pending.append(call)
        with self._pending_lock:
            wake = not self._drain_scheduled
            self._drain_scheduled = True
        if wake:
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._pending_lock:
            self._drain_scheduled = False
        while self._pending:
            self._pending.popleft().start(self._loop)

    @property
    def closed(self) -> bool:
        """Whether the connection is closed for good (by us, or after NATS gave up on it)."""
        nc = getattr(self, "nc", None)
        return self._closed or (nc is not None and nc.is_closed)

    def submit_cleanup(self, make: Callable[[], Awaitable[None]]) -> None:
        """Schedule best-effort cleanup (an unsubscribe, say) without waiting for it.

        A connection already closed has nothing left to clean up, so that error is ignored.
        """
        if self._closed:
            return

        async def cleanup() -> None:
            with contextlib.suppress(nats.errors.ConnectionClosedError):
                await make()

        asyncio.run_coroutine_threadsafe(cleanup(), self._loop)

    def close(self) -> None:
        """Close the connection, finish every task left on the loop, then stop the loop thread.

        Tasks still running (a cleanup, a caller's call, the client's own) are cancelled and
        awaited, so nothing is destroyed while pending.
        """
        if self._closed:
            return
        self._closed = True
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(self.timeout + 1.0)
        except (FutureTimeoutError, nats.errors.Error, OSError):
            future.cancel()
        self._stop_loop()

    async def _shutdown(self) -> None:
        nc = getattr(self, "nc", None)
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(TimeoutError, nats.errors.Error, OSError):
                await asyncio.wait_for(nc.close(), self.timeout)
        await _finish_tasks()

    def _run_loop(self) -> None:
        """The loop thread: run until stopped, then finish what is left and close the loop."""
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            try:
                self._loop.run_until_complete(_finish_tasks())
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            finally:
                self._loop.close()

    def _stop_loop(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)


async def _finish_tasks() -> None:
    """Cancel every other task of the running loop and wait until they are done."""
    me = asyncio.current_task()
    while others := [t for t in asyncio.all_tasks() if t is not me and not t.done()]:
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


class _Call(Generic[T]):
    """One cross-thread call: the caller blocks on a bare lock, the cheapest wake-up there is."""

    __slots__ = ("_cancelled", "_error", "_make", "_result", "_task", "done")

    def __init__(self, make: Callable[[], Awaitable[T]]) -> None:
        self._make = make
        self._task: asyncio.Task[None] | None = None
        self._result: T | None = None
        self._error: BaseException | None = None
        self._cancelled = False
        self.done = threading.Lock()
        self.done.acquire()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._cancelled:  # the caller gave up before the call began: never run it
            return
        self._task = loop.create_task(self._run())
        self._task.add_done_callback(self._finish)  # for a task cancelled before it began

    async def _run(self) -> None:
        """Run the call and wake the caller as it ends. (A done callback alone would wake it
        one more turn of the bridge's loop later, a turn the loop takes for every append.)"""
        try:
            self._result = await self._make()
        except (Exception, asyncio.CancelledError) as error:  # noqa: BLE001 raised by the caller
            self._error = error
        if self._task is not None:
            self._task.remove_done_callback(self._finish)
        self.done.release()

    def _finish(self, task: asyncio.Task[None]) -> None:
        """Wake the caller of a call that could not wake it itself: cancelled before it began,
        or ended by an exception the call does not catch."""
        if task.cancelled():
            self._error = asyncio.CancelledError()
        elif (error := task.exception()) is not None:
            self._error = error
        self.done.release()

    def cancel(self) -> None:
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()

    def outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]
