"""The recorder's tip cache: bounded by count and by idle time, newest tip kept."""

from __future__ import annotations

from gateways.jetstream.recorder import TipCache
from gateways.jetstream.wire import Tip


def test_a_tip_unused_for_the_idle_time_is_dropped() -> None:
    now = [0.0]
    tips = TipCache(size=10, idle=600.0, clock=lambda: now[0])
    tips.put("events.game.a", Tip(version=1, seq=1))
    tips.put("events.game.b", Tip(version=1, seq=2))
    now[0] = 599.0
    assert tips.get("events.game.a") == Tip(version=1, seq=1)  # used: kept 600 s more
    now[0] = 601.0
    tips.put("events.game.c", Tip(version=1, seq=3))
    assert tips.get("events.game.b") is None
    assert tips.get("events.game.a") == Tip(version=1, seq=1)
    assert len(tips) == 2


def test_the_newest_tip_is_kept_and_the_count_is_bounded() -> None:
    tips = TipCache(size=2, idle=600.0, clock=lambda: 0.0)
    tips.put("events.game.a", Tip(version=2, seq=5))
    tips.put("events.game.a", Tip(version=1, seq=3))  # an older read arriving late
    assert tips.get("events.game.a") == Tip(version=2, seq=5)
    tips.put("events.game.b", Tip(version=1, seq=6))
    tips.put("events.game.c", Tip(version=1, seq=7))
    assert len(tips) == 2
    assert tips.get("events.game.a") is None


def test_a_tip_that_knows_its_count_replaces_the_same_tip_without() -> None:
    tips = TipCache(size=10, idle=600.0, clock=lambda: 0.0)
    tips.put("events.game.a", Tip(version=2, seq=5))  # read alone: count unknown
    tips.put("events.game.a", Tip(version=2, seq=5, count=2))
    assert tips.get("events.game.a") == Tip(version=2, seq=5, count=2)
    tips.put("events.game.a", Tip(version=2, seq=5))  # never the other way round
    assert tips.get("events.game.a") == Tip(version=2, seq=5, count=2)
