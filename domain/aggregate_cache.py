"""The command side's aggregate cache: bounded by count and by idle time.

eventsourcing's own cache (``AGGREGATE_CACHE_MAXSIZE``) is bounded only by a count, so a
process that meets a few hundred games keeps every one of them for good: memory grows until
the count is reached, however few games are still in play. This cache also drops an aggregate
nobody has used (read or stored) for ``idle`` seconds, so memory follows the active games.

Dropping is always safe: a dropped aggregate is rebuilt from the log on its next command (with
its remembered command ids, which are folded from the events), exactly as after a restart.
Expired entries are removed whenever an aggregate is stored or used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from threading import Lock
from typing import Any

from eventsourcing.application import Cache

AGGREGATE_CACHE_IDLE = 600.0
"""Seconds an unused aggregate stays in a process's cache (10 minutes)."""


class IdleEntries(dict[str, tuple[Any, float]]):
    """The cached aggregates with when each was last used, least recently used first; ``key in``
    is true only for one not idle for too long (as eventsourcing reads ``cache.cache``)."""

    def __init__(self, idle: float, timer: Callable[[], float]) -> None:
        super().__init__()
        self.idle, self.timer = idle, timer

    def __contains__(self, key: object) -> bool:
        entry = self.get(key)  # type: ignore[call-overload]
        return entry is not None and self.timer() - entry[1] < self.idle


class IdleAggregateCache(Cache[str, Any]):
    """At most ``maxsize`` aggregates (least recently used out first); none idle for longer
    than ``idle`` seconds by ``timer``. Thread-safe, like the cache it replaces.

    A plain dict in the order of last use rather than cachetools' ``TTLCache``: every command
    reads its aggregate here, and a ``TTLCache`` use (a read and a write, to restart the idle
    time; its expiry scan and two linked lists) cost several times a dict's.
    """

    def __init__(
        self, maxsize: int, idle: float, timer: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.maxsize, self.idle, self.timer = maxsize, idle, timer
        self.entries = IdleEntries(idle, timer)
        self.cache = self.entries  # eventsourcing reads .cache
        self._lock = Lock()

    def get(self, key: str, *, evict: bool = False) -> Any:
        """The cached aggregate (``KeyError`` when absent or expired); using it restarts its
        idle time, unless ``evict`` takes it out."""
        now = self.timer()
        with self._lock:
            value, used = self.entries.pop(key)
            if now - used >= self.idle:
                raise KeyError(key)
            if not evict:
                self.entries[key] = (value, now)
            return value

    def put(self, key: str, value: Any) -> None:
        if value is None:
            return
        now = self.timer()
        with self._lock:
            entries = self.entries
            entries.pop(key, None)
            entries[key] = (value, now)
            while entries:  # the longest unused first: idle too long, or one too many
                oldest, (_value, used) = next(iter(entries.items()))
                if len(entries) <= self.maxsize and now - used < self.idle:
                    return
                del entries[oldest]
