"""The per-viewer caches of the game page: mutes follow the game's log position, pages their
inputs, and both expire (injected clock)."""

from __future__ import annotations

from api.viewercache import MuteCache, RenderedPages


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_mutes_are_kept_until_the_game_has_a_newer_event() -> None:
    mutes = MuteCache(ttl=5.0, clock=Clock())
    mutes.put("u", "g", "guild", 7, (True, False))
    assert mutes.get("u", "g", "guild", 7) == (True, False)
    assert mutes.get("other", "g", "guild", 7) is None
    assert mutes.get("u", "g", "guild", 8) is None  # an event after the read
    assert mutes.get("u", "g", "guild", 7) is None  # and it was dropped


def test_mutes_expire_and_a_viewers_own_mute_forgets_theirs() -> None:
    clock = Clock()
    mutes = MuteCache(ttl=5.0, clock=clock)
    mutes.put("u", "g1", "guild", 1, (False, False))
    mutes.put("u", "g2", "guild", 1, (False, False))
    mutes.put("v", "g1", "guild", 1, (False, True))
    mutes.forget("u")
    assert mutes.get("u", "g1", "guild", 1) is None
    assert mutes.get("u", "g2", "guild", 1) is None
    assert mutes.get("v", "g1", "guild", 1) == (False, True)
    clock.now = 5.1
    assert mutes.get("v", "g1", "guild", 1) is None


def test_rendered_pages_expire_and_keep_the_most_recent() -> None:
    clock = Clock()
    pages = RenderedPages(ttl=5.0, size=2, clock=clock)
    pages.put(("a",), b"A")
    pages.put(("b",), b"B")
    assert pages.get(("a",)) == b"A"
    pages.put(("c",), b"C")  # evicts the least recently stored
    assert pages.get(("a",)) is None
    assert pages.get(("b",)) == b"B"
    clock.now = 5.1
    assert pages.get(("c",)) is None


def test_expired_mutes_and_pages_do_not_pile_up_below_the_size_bound() -> None:
    clock = Clock()
    mutes = MuteCache(ttl=5.0, clock=clock)
    pages = RenderedPages(ttl=5.0, clock=clock)
    for n in range(1_000):  # a new viewer and page every second, none asked for again
        clock.now = float(n)
        mutes.put(f"u{n}", "g", "guild", 1, (False, False))
        pages.put(("page", n), b"<html>")
    assert len(mutes) <= 6
    assert len(pages) <= 6
    assert mutes.get("u999", "g", "guild", 1) == (False, False)
    assert pages.get(("page", 999)) == b"<html>"
