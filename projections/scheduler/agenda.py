"""What is due when: the scheduler's due times in one heap, and the key of each.

A :class:`Due` names one thing to do at one time: a reminder (game, offset, player, for the
start time it was computed for), a start or an end. The :class:`Agenda` keeps each game's
current set of due times; replacing a game's set (a join, a reschedule, a cancel) is cheap
because heap entries are invalidated lazily: an entry whose time is no longer the key's
current time is dropped when it reaches the top, and the heap is rebuilt when stale entries
outnumber live ones.
"""

from __future__ import annotations

import heapq
from typing import Literal, NamedTuple

Kind = Literal["remind", "start", "complete"]


class Due(NamedTuple):
    """One thing to do. ``start`` is the game's start (unix seconds) it was computed for, so a
    reminder computed before a reschedule never matches the one after."""

    kind: Kind
    game_id: str
    offset_minutes: int
    user_id: str
    start: int

    @property
    def key(self) -> str:
        """Stable text for command ids and nonces: ``<game>:<offset>:<user>:<start>``."""
        if self.kind == "remind":
            return f"{self.game_id}:{self.offset_minutes}:{self.user_id}:{self.start}"
        return self.game_id


class Agenda:
    """Pending due times of every game, earliest first (see the module docstring)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, Due]] = []
        self._at: dict[Due, float] = {}
        self._by_game: dict[str, set[Due]] = {}

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, due: object) -> bool:
        return due in self._at

    def items(self) -> list[tuple[Due, float]]:
        """Every pending due time (a snapshot)."""
        return list(self._at.items())

    def of_game(self, game_id: str) -> dict[Due, float]:
        """A game's pending due times."""
        return {due: self._at[due] for due in self._by_game.get(game_id, ())}

    def set_game(self, game_id: str, dues: dict[Due, float]) -> None:
        """Make ``dues`` the game's pending due times (an empty dict drops the game)."""
        old = self._by_game.pop(game_id, set())
        for due in old - dues.keys():
            del self._at[due]
        for due, at in dues.items():
            if self._at.get(due) != at:
                self._at[due] = at
                heapq.heappush(self._heap, (at, due))
        if dues:
            self._by_game[game_id] = set(dues)
        self._compact()

    def put(self, due: Due, at: float) -> None:
        """Add (or move) one due time, e.g. to retry it later."""
        if self._at.get(due) != at:
            self._at[due] = at
            self._by_game.setdefault(due.game_id, set()).add(due)
            heapq.heappush(self._heap, (at, due))

    def discard(self, due: Due) -> None:
        """Forget one due time (it was handled)."""
        if self._at.pop(due, None) is not None:
            game = self._by_game.get(due.game_id)
            if game is not None:
                game.discard(due)
                if not game:
                    del self._by_game[due.game_id]

    def next_at(self) -> float | None:
        """The earliest pending due time, or None when nothing is pending."""
        while self._heap:
            at, due = self._heap[0]
            if self._at.get(due) == at:
                return at
            heapq.heappop(self._heap)
        return None

    def pop_due(self, now: float) -> list[tuple[float, Due]]:
        """Take every due time ``<= now`` off the agenda, earliest first, with its time."""
        taken: list[tuple[float, Due]] = []
        while (at := self.next_at()) is not None and at <= now:
            _, due = heapq.heappop(self._heap)
            self.discard(due)
            taken.append((at, due))
        return taken

    def _compact(self) -> None:
        if len(self._heap) > 2 * len(self._at) + 1024:
            self._heap = [(at, due) for due, at in self._at.items()]
            heapq.heapify(self._heap)
