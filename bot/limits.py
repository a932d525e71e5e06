"""A per-user interaction limit: at most ``count`` interactions per ``seconds`` per user.

A sliding window per user, kept in a bounded TTL map (a user idle for a whole window is
forgotten), with an injectable clock so tests never sleep.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from cachetools import TTLCache


class PerUserLimit:
    """``allow(user_id)`` says whether this interaction may go ahead (and counts it)."""

    def __init__(
        self,
        count: int = 5,
        seconds: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 100_000,
    ) -> None:
        if count < 1 or seconds <= 0:
            raise ValueError("a limit needs count >= 1 and seconds > 0")
        self.count, self.seconds, self.clock = count, seconds, clock
        self._recent: TTLCache[int, deque[float]] = TTLCache(max_users, seconds, timer=clock)
        self.refused = 0

    def allow(self, user_id: int) -> bool:
        """True (and counted) if the user made fewer than ``count`` in the last ``seconds``."""
        now = self.clock()
        recent = self._recent.get(user_id)
        if recent is None:
            recent = deque()
        while recent and recent[0] <= now - self.seconds:
            recent.popleft()
        if len(recent) >= self.count:
            self._recent[user_id] = recent  # keep the window alive while they keep trying
            self.refused += 1
            return False
        recent.append(now)
        self._recent[user_id] = recent
        return True
