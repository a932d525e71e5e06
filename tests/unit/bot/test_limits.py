"""The per-user interaction limit, on a fake clock."""

from __future__ import annotations

from bot.limits import PerUserLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_in_ten_seconds_then_refused_then_allowed_again() -> None:
    clock = Clock()
    limit = PerUserLimit(5, 10, clock=clock)
    assert [limit.allow(1) for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow(2)  # others are not affected
    clock.now += 9.9
    assert not limit.allow(1)
    clock.now += 0.2  # the first five are now older than ten seconds
    assert limit.allow(1)
    assert limit.refused == 2


def test_sliding_window_counts_only_recent_clicks() -> None:
    clock = Clock()
    limit = PerUserLimit(2, 10, clock=clock)
    assert limit.allow(7)
    clock.now += 6
    assert limit.allow(7)
    clock.now += 5  # the first click left the window, the second has not
    assert limit.allow(7)
    assert not limit.allow(7)


def test_idle_users_are_forgotten_and_the_map_is_bounded() -> None:
    clock = Clock()
    limit = PerUserLimit(1, 10, clock=clock, max_users=3)
    for user in (1, 2, 3, 4):
        assert limit.allow(user)
    assert list(limit._recent) == [2, 3, 4]  # the longest idle made room
    assert not limit.allow(2)  # refused, and now the most recent
    assert list(limit._recent) == [3, 4, 2]
    clock.now += 10.5
    assert limit.allow(5)  # everyone else's window has emptied
    assert list(limit._recent) == [5]
