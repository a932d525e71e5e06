"""``evolve`` finds each event's rule by its type: every game event has one, and the errors and
the fallback for a subclass are those of the ``match`` it replaced."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from domain.events import (
    GAME_EVENTS,
    GameCreated,
    GameDetails,
    GameEvent,
    PlayerJoined,
    PlayerLeft,
)
from domain.game import _RULES, GameState, evolve

NOW = datetime(2026, 12, 1, tzinfo=UTC)
STAMP = {"command_id": "c", "actor_id": "100", "occurred_at": NOW}
CREATED = GameCreated(**STAMP, guild_id="1", channel_id="2", host_id="100", scheduled_at=NOW,
                      details=GameDetails(title="t"))  # fmt: skip


def created() -> GameState:
    return evolve(None, CREATED, "game.g")


def test_every_game_event_but_the_first_has_a_rule() -> None:
    assert set(_RULES) == set(GAME_EVENTS) - {GameCreated}


def test_a_first_event_other_than_created_is_refused() -> None:
    joined = PlayerJoined(**STAMP, user_id="5", joined_count=1, max_players=4)
    with pytest.raises(TypeError, match="a game's first event must be GameCreated"):
        evolve(None, joined, "game.g")


def test_created_twice_is_refused() -> None:
    with pytest.raises(TypeError, match=re.escape("game game.g was created twice")):
        evolve(created(), CREATED, "game.g")


def test_an_event_without_a_rule_is_refused() -> None:
    class Unknown(GameEvent, frozen=True, kw_only=True, tag="test.unknown.v1"):
        pass

    with pytest.raises(TypeError, match="no rule applies Unknown to a game"):
        evolve(created(), Unknown(**STAMP), "game.g")


def test_a_subclass_of_an_event_type_folds_by_its_base_rule() -> None:
    class Joined(PlayerJoined, frozen=True, kw_only=True, tag="test.joined.v1"):
        pass

    state = evolve(created(), Joined(**STAMP, user_id="5", joined_count=1, max_players=4), "g")
    assert state.joined == ["5"]
    assert state.players == {"5"}


def test_leaving_the_waitlist_and_leaving_a_seat() -> None:
    state = created()
    evolve(state, PlayerJoined(**STAMP, user_id="5", joined_count=1, max_players=1), "g")
    state.waitlist.append("6")
    state.players.add("6")
    evolve(state, PlayerLeft(**STAMP, user_id="6", from_waitlist=True), "g")
    assert (state.joined, state.waitlist, state.players) == (["5"], [], {"5"})
    evolve(state, PlayerLeft(**STAMP, user_id="5", from_waitlist=False), "g")
    assert (state.joined, state.waitlist, state.players) == ([], [], set())
