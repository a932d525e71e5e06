"""Game views kept in memory and invalidated by the log.

Every viewer of a game sees the same roster, so its view (and its JSON and ETag) is built once
and kept until the log says the game changed: :class:`~api.live.LiveHub` records each game's
newest log position as events arrive from JetStream, and the web's own writes record theirs at
once (read-your-writes). A view built from read models that had not yet applied the newest
event is not kept. Display names can change without an event, so views also expire after
``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from api import models

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def drop_expired(entries: OrderedDict[K, V], expires: Callable[[V], float], now: float) -> None:
    """Drop the expired entries of a cache kept in the order they were stored (every entry
    lives ``ttl`` from its store, so the oldest stored expire first). An expired entry is never
    served again; kept, it stays until the size bound pushes it out (in the soak, expired views
    and pages were most of the API's growing memory)."""
    while entries:
        key, value = next(iter(entries.items()))
        if expires(value) >= now:
            return
        del entries[key]


@dataclass(frozen=True)
class CachedGame:
    view: models.GameDetail
    body: bytes
    etag: str
    expires: float


class GameCache:
    """Views by game id, valid while no newer event of that game was seen."""

    KNOWN = 100_000
    """Games whose newest position is remembered, the most recently changed (a game forgotten
    here has had no event while this many others had one: far longer than a view lives)."""

    def __init__(
        self, ttl: float = 5.0, size: int = 5_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self.latest: OrderedDict[str, int] = OrderedDict()
        self._views: OrderedDict[str, CachedGame] = OrderedDict()
        self._flights: dict[str, asyncio.Task[CachedGame | None]] = {}

    async def build(
        self, game_id: str, load: Callable[[], Awaitable[models.GameDetail | None]]
    ) -> CachedGame | None:
        """Build a view once however many ask at the same time (``None``: no such game)."""
        flight = self._flights.get(game_id)
        if flight is None:

            async def run() -> CachedGame | None:
                try:
                    view = await load()
                    return None if view is None else self.put(view)
                finally:
                    self._flights.pop(game_id, None)

            flight = self._flights[game_id] = asyncio.ensure_future(run())
        return await asyncio.shield(flight)

    def saw(self, game_id: str, position: int) -> None:
        """The log holds an event of ``game_id`` at ``position``."""
        if position > self.latest.get(game_id, 0):
            self.latest[game_id] = position
            self.latest.move_to_end(game_id)
            while len(self.latest) > self.KNOWN:
                self.latest.popitem(last=False)

    def get(self, game_id: str) -> CachedGame | None:
        found = self._views.get(game_id)
        if found is None:
            return None
        if found.expires < self.clock() or found.view.position < self.latest.get(game_id, 0):
            del self._views[game_id]
            return None
        return found

    def __len__(self) -> int:
        return len(self._views)

    def put(self, view: models.GameDetail) -> CachedGame:
        drop_expired(self._views, lambda cached: cached.expires, self.clock())
        body = view.model_dump_json().encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:20]}"'
        cached = CachedGame(view, body, etag, self.clock() + self.ttl)
        if view.position >= self.latest.get(view.game_id, 0):
            self._views[view.game_id] = cached
            self._views.move_to_end(view.game_id)
            while len(self._views) > self.size:
                self._views.popitem(last=False)
        return cached
