"""What one viewer's game page adds to the shared game view, kept in memory for a few seconds.

The game view itself is shared and kept by :class:`~api.gamecache.GameCache`. A page also shows
the viewer's reminder mutes (read from the timeline) and is rendered from a template; both are
kept here so a reload costs neither a database round trip nor a render:

* :class:`MuteCache` keeps a viewer's (game, server) mutes while the log shows no newer event of
  the game and for at most ``ttl`` seconds (a server-wide mute made elsewhere is a guild event,
  which the web does not follow: it shows after at most ``ttl``, like names and roles). The web's
  own mute commands forget the viewer's entries at once (read-your-writes).
* :class:`RenderedPages` keeps rendered pages under a key made of *everything* the template
  reads (the view's ETag, the viewer, their session's CSRF token and name, their mutes, the
  server's and channel's names …), so a hit is byte for byte what a render would give.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from api.gamecache import drop_expired


class MuteCache:
    """(viewer, game, guild) → (game muted, server muted)."""

    def __init__(
        self, ttl: float = 5.0, size: int = 20_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._found: OrderedDict[tuple[str, str, str], tuple[float, int, tuple[bool, bool]]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._found)

    def get(
        self, user_id: str, game_id: str, guild_id: str, latest: int
    ) -> tuple[bool, bool] | None:
        """The viewer's mutes, if read after the game's newest event (``latest``) and recently."""
        key = (user_id, game_id, guild_id)
        found = self._found.get(key)
        if found is None:
            return None
        expires, seen, mutes = found
        if expires < self.clock() or seen < latest:
            del self._found[key]
            return None
        return mutes

    def put(
        self, user_id: str, game_id: str, guild_id: str, latest: int, mutes: tuple[bool, bool]
    ) -> None:
        """Keep ``mutes``, read when ``latest`` was the game's newest known event."""
        key = (user_id, game_id, guild_id)
        now = self.clock()
        drop_expired(self._found, lambda found: found[0], now)
        self._found[key] = (now + self.ttl, latest, mutes)
        self._found.move_to_end(key)
        while len(self._found) > self.size:
            self._found.popitem(last=False)

    def forget(self, user_id: str) -> None:
        """The viewer (un)muted something: read theirs afresh."""
        for key in [k for k in self._found if k[0] == user_id]:
            del self._found[key]


class RenderedPages:
    """Rendered pages by a key of all their inputs (LRU, and expiring after ``ttl``)."""

    def __init__(
        self, ttl: float = 5.0, size: int = 5_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._pages: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable) -> bytes | None:
        found = self._pages.get(key)
        if found is None:
            return None
        if found[0] < self.clock():
            del self._pages[key]
            return None
        return found[1]

    def put(self, key: Hashable, body: bytes) -> None:
        now = self.clock()
        drop_expired(self._pages, lambda page: page[0], now)
        self._pages[key] = (now + self.ttl, body)
        self._pages.move_to_end(key)
        while len(self._pages) > self.size:
            self._pages.popitem(last=False)
