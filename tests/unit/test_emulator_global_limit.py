"""The emulator's global limit, counted in fixed windows or a sliding one (injected clock)."""

from __future__ import annotations

from deploy.emulator.ratelimit import RateLimiter, RateLimits

ROUTE = "GET /users/@me"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def burst(limiter: RateLimiter, clock: Clock, at: float, count: int) -> list[bool]:
    """``count`` requests at time ``at``; True for each one answered 429."""
    clock.now = at
    return [limiter.check(ROUTE, "", "t", global_limit=True).limited for _ in range(count)]


def test_fixed_windows_open_at_the_first_request() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimits(global_per_second=3, default=(100, 1.0)), clock)
    assert burst(limiter, clock, 100.0, 1) == [False]
    assert burst(limiter, clock, 100.9, 3) == [False, False, True]
    # the window opened at 100.0 closed at 101.0: a new one starts full
    assert burst(limiter, clock, 101.0, 3) == [False, False, False]


def test_a_sliding_window_allows_the_limit_in_any_one_second() -> None:
    clock = Clock()
    limiter = RateLimiter(
        RateLimits(global_per_second=3, default=(100, 1.0), global_window="sliding"), clock
    )
    assert burst(limiter, clock, 100.0, 1) == [False]
    assert burst(limiter, clock, 100.9, 3) == [False, False, True]
    # at 101.0 the request of 100.0 left the last second; the two of 100.9 have not
    assert burst(limiter, clock, 101.0, 2) == [False, True]
    clock.now = 101.5
    decision = limiter.check(ROUTE, "", "t", global_limit=True)
    assert decision.scope == "global"
    assert abs(decision.retry_after - 0.4) < 1e-9  # when the first of 100.9 leaves
    assert burst(limiter, clock, 101.9, 2) == [False, False]


def test_interaction_callbacks_skip_the_global_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimits(global_per_second=1, global_window="sliding"), clock)
    assert burst(limiter, clock, 100.0, 2) == [False, True]
    assert not limiter.check(
        "POST /interactions/{id}/{token}/callback", "", "t", global_limit=False
    ).limited
