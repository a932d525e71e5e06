"""The host takes a player off a game: like a leave, done by someone else (and told by DM)."""

from __future__ import annotations

import pytest

from domain.commands import RemovePlayer
from domain.errors import InvalidCommand, NotHost
from domain.events import PlayerJoined, PlayerLeft, PlayerPromoted, PlayerWaitlisted
from tests.unit.domain.scenario import GAME, HOST, S, Scenario, created


def remove(player: str, by: str = HOST, command_id: str = "rm") -> RemovePlayer:
    return RemovePlayer(command_id=command_id, user_id=by, game_id=GAME, player_id=player)


def test_the_host_removes_a_player_and_the_head_of_the_waitlist_moves_up(
    scenario: Scenario,
) -> None:
    scenario.given(
        created(max_players=1),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlayerWaitlisted(**S, user_id="8", position=1),
    )
    outcome = scenario.when(remove("7"))
    events = scenario.app.history(f"game.{GAME}")[-2:]
    assert [e.actor_id for e in events] == [HOST, HOST]
    assert scenario.then() == [
        PlayerLeft(**S, user_id="7", from_waitlist=False),
        PlayerPromoted(**S, user_id="8", joined_count=1, max_players=1),
    ]
    assert outcome.result == "left"
    assert outcome.message == "Removed <@7> from the game. 1 player moved up from the waitlist."
    assert outcome.promoted == ("8",)


def test_only_the_host_or_a_manager_removes_and_only_someone_who_is_in(
    scenario: Scenario,
) -> None:
    scenario.given(created(), PlayerJoined(**S, user_id="7", joined_count=1, max_players=10))
    with pytest.raises(NotHost):
        scenario.when(remove("7", by="9"))
    with pytest.raises(InvalidCommand, match="not in this game"):
        scenario.when(remove("5"))
