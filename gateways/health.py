"""Process health in a JetStream key-value bucket, readable from any process.

Every long-running process (bot, API, scheduler, projectors, workers) runs a
:class:`HealthReporter` that puts its :class:`Health` under its own key every ``interval``
seconds; the bucket's TTL drops the key of a process that stopped reporting, so a key that is
missing means "not running". The web status page and ``muster doctor`` call :func:`read_health`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

BUCKET = "MUSTER_HEALTH"
TTL = 30.0  # seconds a report stays without being renewed


class Health(msgspec.Struct, kw_only=True):
    """One process's report. ``figures`` are its own numbers (latency, pending, lag ...)."""

    process: str
    state: str = "running"  # starting | running | degraded | stopping
    started_at: float = 0.0  # unix seconds
    reported_at: float = 0.0
    last_error: str = ""
    figures: dict[str, Any] = msgspec.field(default_factory=dict)


async def health_bucket(nc: NATS, *, ttl: float = TTL) -> KeyValue:
    """The health bucket, created on first use (memory storage: health is not history)."""
    js = nc.jetstream()
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        from nats.js.api import StorageType

        return await js.create_key_value(
            KeyValueConfig(bucket=BUCKET, ttl=ttl, history=1, storage=StorageType.MEMORY)
        )


def health_key(process: str) -> str:
    """A valid key for a process name (``bot``, ``scheduler``, ``projector.read-models`` ...)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in process)


class HealthReporter:
    """Puts ``figures()`` under the process's key every ``interval`` seconds until stopped.

    Set ``state`` and ``last_error`` as things happen; they go out with the next report.
    """

    def __init__(
        self,
        nc: NATS,
        process: str,
        figures: Callable[[], dict[str, Any]] = dict,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nc, self.process, self.figures = nc, process, figures
        self.interval, self.clock = interval, clock
        self.state = "starting"
        self.last_error = ""
        self.started_at = clock()

    def snapshot(self) -> Health:
        return Health(
            process=self.process,
            state=self.state,
            started_at=self.started_at,
            reported_at=self.clock(),
            last_error=self.last_error,
            figures=self.figures(),
        )

    async def report(self) -> None:
        """Put one report now."""
        bucket = await health_bucket(self.nc)
        await bucket.put(health_key(self.process), msgspec.json.encode(self.snapshot()))

    async def run(self, stop: asyncio.Event) -> None:
        """Report until ``stop`` is set; then report ``stopping`` once."""
        while not stop.is_set():
            await self.report()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
        self.state = "stopping"
        with contextlib.suppress(Exception):
            await self.report()


async def read_health(nc: NATS) -> dict[str, Health]:
    """Every live report, by process key (missing = not running or stopped reporting)."""
    bucket = await health_bucket(nc)
    try:
        keys = await bucket.keys()
    except NoKeysError:
        return {}
    found: dict[str, Health] = {}
    for key in keys:
        with contextlib.suppress(Exception):
            entry = await bucket.get(key)
            if entry.value:
                found[key] = msgspec.json.decode(entry.value, type=Health)
    return found


async def read_one(nc: NATS, process: str) -> Health | None:
    """One process's live report, or None when there is none (never reported, or expired)."""
    try:
        bucket = await nc.jetstream().key_value(BUCKET)
        entry = await bucket.get(health_key(process))
    except (BucketNotFoundError, KeyNotFoundError):
        return None
    return msgspec.json.decode(entry.value, type=Health) if entry.value else None


def problem(
    health: Health | None, now: float, max_age: float = TTL, *, live: bool = False
) -> str | None:
    """Why a process is not healthy (missing, stale, not running), or None when it is. With
    ``live``, reporting at all is enough (starting or degraded, it is alive)."""
    if health is None:
        return "no health report (not running, or stopped reporting)"
    age = now - health.reported_at
    if age > max_age:
        return f"its last report is {age:.0f}s old (more than {max_age:g}s)"
    if health.state != "running" and not (live and health.state != "stopping"):
        because = f": {health.last_error}" if health.last_error else ""
        return f"it says {health.state}{because}"
    return None
