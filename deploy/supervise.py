"""Structured concurrency for Muster's long-running parts: every service in one task group.

A service is an async function that runs until ``stop`` is set. :func:`supervise` runs them all
in one :class:`asyncio.TaskGroup`:

* a service that raises is logged **with its traceback**, then either restarted after an
  exponential backoff (``restart=True``; for parts that resume from durable state, such as the
  projectors) or ends the group: :class:`ServiceFailed` names it and the caller exits non-zero;
* a service that returns while ``stop`` is not set has stopped unexpectedly: the same rules;
* once ``stop`` is set, every service is expected to return; backoff waits end at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from gateways.health import HealthReporter

log = logging.getLogger("muster.supervise")


class ServiceFailed(RuntimeError):
    """A service that may not be restarted (or gave up restarting) failed; names it."""

    def __init__(self, name: str, error: BaseException | None) -> None:
        reason = f"{type(error).__name__}: {error}" if error else "it stopped by itself"
        super().__init__(f"the {name} service failed ({reason})")
        self.name = name


@dataclass(frozen=True)
class Service:
    """A named long-running part: ``run(stop)`` returns once ``stop`` is set."""

    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]
    restart: bool = True
    max_restarts: int | None = None  # None: keep restarting while the process runs


class Reported:
    """A service's health under ``key`` (``gateways/health.py``): the service says
    :meth:`running` and :meth:`failed` as things happen; :meth:`service` reports it."""

    def __init__(
        self, key: str, figures: Callable[[], dict[str, Any]] = dict, *, interval: float = 5.0
    ) -> None:
        self.key, self.figures, self.interval = key, figures, interval
        self.state, self.last_error = "starting", ""
        self._reporter: HealthReporter | None = None

    def _set(self, state: str, last_error: str | None = None) -> None:
        self.state = state
        if last_error is not None:
            self.last_error = last_error
        if self._reporter is not None:
            self._reporter.state, self._reporter.last_error = self.state, self.last_error

    def running(self) -> None:
        """The service is up (its last error, if any, stays in the report)."""
        self._set("running")

    def failed(self, error: BaseException | str) -> None:
        """The service is degraded, because of ``error``."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self._set("degraded", text)

    def service(self, name: str, nats: Callable[[], Awaitable[NATS]]) -> Service:
        """The reporting itself, as a supervised service."""
        from gateways.health import HealthReporter

        async def run(stop: asyncio.Event) -> None:
            report = HealthReporter(await nats(), self.key, self.figures, interval=self.interval)
            self._reporter = report
            self._set(self.state)
            await report.run(stop)

        return Service(name, run)


def backoff(attempt: int, *, first: float = 0.5, most: float = 30.0) -> float:
    """Seconds to wait before restart number ``attempt`` (1, 2, ...): doubling, capped."""
    return float(min(most, first * 2 ** (attempt - 1)))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def keep_running(service: Service, stop: asyncio.Event) -> None:
    """Run one service until ``stop``; restart it on failure, or raise ServiceFailed."""
    restarts = 0
    last = ""
    while not stop.is_set():
        error: BaseException | None = None
        try:
            await service.run(stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
            again = f"{type(exc).__name__}: {exc}"
            if again == last:  # the same failure again: one line, the traceback was logged
                log.error("service %s failed again (%s)", service.name, again)  # noqa: TRY400
            else:
                log.exception("service %s failed", service.name)
            last = again
        if stop.is_set():
            return
        if error is None:
            log.error("service %s stopped by itself", service.name)
        out_of_restarts = service.max_restarts is not None and restarts >= service.max_restarts
        if not service.restart or out_of_restarts:
            raise ServiceFailed(service.name, error)
        restarts += 1
        delay = backoff(restarts)
        log.warning("restarting %s in %.1fs (restart %d)", service.name, delay, restarts)
        await _wait(stop, delay)


async def supervise(services: Sequence[Service], stop: asyncio.Event) -> None:
    """Run every service until ``stop`` is set; a fatal failure stops the others and raises
    :class:`ServiceFailed` naming the service."""
    try:
        async with asyncio.TaskGroup() as group:
            for service in services:
                group.create_task(keep_running(service, stop), name=service.name)
    except ExceptionGroup as group:
        stop.set()
        failed = group.subgroup(ServiceFailed)
        if failed is None:
            raise
        first = failed.exceptions[0]
        raise first from first.__cause__


def stop_on_signals() -> asyncio.Event:
    """An event the running loop sets on SIGINT or SIGTERM: how each `muster` process stops."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # loops without signal support
            loop.add_signal_handler(sig, stop.set)
    return stop
