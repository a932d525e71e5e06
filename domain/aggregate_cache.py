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

from cachetools import TTLCache
from eventsourcing.application import Cache

AGGREGATE_CACHE_IDLE = 600.0
"""Seconds an unused aggregate stays in a process's cache (10 minutes)."""


class IdleAggregateCache(Cache[str, Any]):
    """At most ``maxsize`` aggregates (least recently used out first); none idle for longer
    than ``idle`` seconds by ``timer``. Thread-safe, like the cache it replaces."""

    def __init__(
        self, maxsize: int, idle: float, timer: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.entries: TTLCache[str, Any] = TTLCache(maxsize, idle, timer=timer)
        self.cache = self.entries  # eventsourcing reads .cache
        self._lock = Lock()

    def get(self, key: str, *, evict: bool = False) -> Any:
        """The cached aggregate (``KeyError`` when absent or expired); using it restarts its
        idle time, unless ``evict`` takes it out."""
        with self._lock:
            if evict:
                return self.entries.pop(key)
            value = self.entries[key]
            self.entries[key] = value
            return value

    def put(self, key: str, value: Any) -> None:
        if value is None:
            return
        with self._lock:
            self.entries[key] = value
