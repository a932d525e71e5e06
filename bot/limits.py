"""A per-user interaction limit: at most ``count`` interactions per ``seconds`` per user.

A sliding window per user, kept in a bounded map in the order of each user's last interaction
(a user whose window has emptied is forgotten, the longest idle go first when the map is full),
with an injectable clock so tests never sleep. A plain dict rather than a TTL cache: the check
runs on the event loop before every acknowledgement, so it is kept to a few dict operations.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


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
        self.max_users = max_users
        self._recent: dict[int, deque[float]] = {}  # oldest last interaction first
        self.refused = 0

    def allow(self, user_id: int) -> bool:
        """True (and counted) if the user made fewer than ``count`` in the last ``seconds``."""
        now = self.clock()
        since = now - self.seconds
        users = self._recent
        recent = users.pop(user_id, None)  # back in at the end: the most recent
        if recent is None:
            recent = deque()
        else:
            while recent and recent[0] <= since:
                recent.popleft()
        self._forget(since)
        users[user_id] = recent  # kept while they keep trying, even when refused
        if len(recent) >= self.count:
            self.refused += 1
            return False
        recent.append(now)
        return True

    def _forget(self, since: float) -> None:
        """Drop the users idle for a whole window (from the longest idle) and any over
        ``max_users``."""
        users = self._recent
        while users:
            user_id, recent = next(iter(users.items()))
            if len(users) < self.max_users and recent and recent[-1] > since:
                return
            del users[user_id]
