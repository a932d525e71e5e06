"""A cap change never overbooks: lower caps move the latest seated to the waitlist's head,
higher caps promote from it — for the game's own cap and for inherited ones (ReconcileSeats)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.app import MusterApp
from domain.commands import (
    SYSTEM_USER_ID,
    ConfigureChannel,
    ConfigureGuild,
    CreateGame,
    JoinGame,
    LeaveGame,
    ReconcileSeats,
    StartGame,
    UpdateGame,
)
from domain.errors import GameFull, InvalidCommand, NotAllowed
from domain.events import (
    GameUpdated,
    PlayerJoined,
    PlayerMovedToWaitlist,
    PlayerPromoted,
    PlayerWaitlisted,
)
from domain.game import GameState
from tests.unit.domain.scenario import (
    CHANNEL,
    GAME,
    GUILD,
    HOST,
    LATER,
    MANAGE_CHANNELS,
    MANAGE_GUILD,
    S,
    Scenario,
    created,
)

CHANNEL_AGG, GUILD_AGG = f"channel.{CHANNEL}", f"guild.{GUILD}"


def seated(*users: str, cap: int) -> list[PlayerJoined]:
    return [
        PlayerJoined(**S, user_id=u, joined_count=i, max_players=cap)
        for i, u in enumerate(users, 1)
    ]


def waiting(*users: str) -> list[PlayerWaitlisted]:
    return [PlayerWaitlisted(**S, user_id=u, position=i) for i, u in enumerate(users, 1)]


def seats(state: GameState) -> tuple[list[str], list[str]]:
    return state.joined, state.waitlist


def update_cap(s: Scenario, cap: int | None) -> UpdateGame:
    return UpdateGame(command_id=s.cid(), user_id=HOST, game_id=GAME, max_players=cap)


def configure(s: Scenario, level: str, **fields: Any) -> ConfigureChannel | ConfigureGuild:
    common = {"command_id": s.cid(), "user_id": HOST, "guild_id": GUILD, **fields}
    if level == "channel":
        return ConfigureChannel(**common, channel_id=CHANNEL, permissions=MANAGE_CHANNELS)
    return ConfigureGuild(**common, permissions=MANAGE_GUILD)


def reconcile(s: Scenario, channel_version: int = 0, guild_version: int = 0) -> ReconcileSeats:
    return ReconcileSeats(
        command_id=s.cid(), user_id=SYSTEM_USER_ID, game_id=GAME,
        channel_version=channel_version, guild_version=guild_version,
    )  # fmt: skip


def test_host_lowering_the_cap_moves_the_latest_seated_to_the_head_of_the_waitlist(
    scenario: Scenario,
) -> None:
    scenario.given(created(max_players=2), *seated("101", "102", cap=2), *waiting("103", "104"))
    outcome = scenario.when(update_cap(scenario, 1))
    events = scenario.then()
    assert isinstance(events[0], GameUpdated)
    assert events[1:] == [
        PlayerMovedToWaitlist(**S, user_id="102", position=1, max_players=1, reason="cap_lowered")
    ]
    assert seats(scenario.app.game(GAME)) == (["101"], ["102", "103", "104"])
    assert (outcome.result, outcome.moved_to_waitlist, outcome.promoted) == (
        "game_updated",
        ("102",),
        (),
    )
    assert outcome.message == "Game updated: max players. 1 player moved to the waitlist."


def test_raising_the_cap_again_promotes_the_moved_player_first(scenario: Scenario) -> None:
    scenario.given(created(max_players=2), *seated("101", "102", cap=2), *waiting("103", "104"))
    scenario.when(update_cap(scenario, 1))
    outcome = scenario.when(update_cap(scenario, 2))
    assert scenario.then()[1:] == [
        PlayerPromoted(**S, user_id="102", joined_count=2, max_players=2)
    ]
    assert outcome.promoted == ("102",)
    assert seats(scenario.app.game(GAME)) == (["101", "102"], ["103", "104"])


def test_players_over_the_cap_keep_their_seat_order_ahead_of_those_waiting(
    scenario: Scenario,
) -> None:
    scenario.given(created(max_players=4), *seated("7", "8", "9", "10", cap=4), *waiting("11"))
    outcome = scenario.when(update_cap(scenario, 2))
    assert scenario.then()[1:] == [
        PlayerMovedToWaitlist(**S, user_id="9", position=1, max_players=2),
        PlayerMovedToWaitlist(**S, user_id="10", position=2, max_players=2),
    ]
    assert outcome.moved_to_waitlist == ("9", "10")
    assert outcome.message.endswith("2 players moved to the waitlist.")
    assert seats(scenario.app.game(GAME)) == (["7", "8"], ["9", "10", "11"])


def test_moved_players_are_never_dropped_even_past_the_waitlist_cap(scenario: Scenario) -> None:
    scenario.given(created(max_players=2, waitlist_cap=1), *seated("7", "8", cap=2), *waiting("9"))
    scenario.when(update_cap(scenario, 1))
    assert seats(scenario.app.game(GAME)) == (["7"], ["8", "9"])
    with pytest.raises(GameFull):
        scenario.when(JoinGame(command_id=scenario.cid(), user_id="10", game_id=GAME))
    scenario.when(LeaveGame(command_id=scenario.cid(), user_id="9", game_id=GAME))
    with pytest.raises(GameFull):  # the waitlist is at its cap of 1 again
        scenario.when(JoinGame(command_id=scenario.cid(), user_id="10", game_id=GAME))


def test_a_game_in_progress_keeps_its_seats_when_the_cap_changes(scenario: Scenario) -> None:
    scenario.given(created(max_players=2), *seated("7", "8", cap=2))
    scenario.when(StartGame(command_id="s", user_id=HOST, game_id=GAME))
    outcome = scenario.when(update_cap(scenario, 1))
    assert outcome.moved_to_waitlist == ()
    assert seats(scenario.app.game(GAME)) == (["7", "8"], [])
    assert scenario.when(reconcile(scenario)).result == "unchanged"


def create_without_cap(scenario: Scenario) -> None:
    scenario.when(CreateGame(
        command_id="create", user_id=HOST, permissions=MANAGE_GUILD, guild_id=GUILD,
        channel_id=CHANNEL, title="Game", scheduled_at=LATER, game_id=GAME,
    ))  # fmt: skip


def test_raising_an_inherited_cap_promotes_waiting_players(scenario: Scenario) -> None:
    """The falsifying example of the state machine: create a game with no cap of its own,
    join 101, channel cap 1, join 102 (waitlisted), channel cap back to unset (10)."""
    create_without_cap(scenario)
    scenario.when(JoinGame(command_id=scenario.cid(), user_id="101", game_id=GAME))
    scenario.when(configure(scenario, "channel", max_players=1), CHANNEL_AGG)
    assert scenario.when(JoinGame(command_id="j102", user_id="102", game_id=GAME)).result == (
        "waitlisted"
    )
    scenario.when(configure(scenario, "channel", max_players=None), CHANNEL_AGG)
    outcome = scenario.when(reconcile(scenario, channel_version=2))
    assert scenario.then() == [PlayerPromoted(**S, user_id="102", joined_count=2, max_players=10)]
    assert (outcome.result, outcome.promoted) == ("seats_reconciled", ("102",))
    assert outcome.message == "Seats follow the cap in force. 1 player moved up from the waitlist."


def test_lowering_an_inherited_cap_moves_the_latest_seated(scenario: Scenario) -> None:
    create_without_cap(scenario)
    for user in ("101", "102", "103"):
        scenario.when(JoinGame(command_id=scenario.cid(), user_id=user, game_id=GAME))
    scenario.when(configure(scenario, "guild", max_players=1), GUILD_AGG)
    outcome = scenario.when(reconcile(scenario, guild_version=1))
    assert scenario.then() == [
        PlayerMovedToWaitlist(**S, user_id="102", position=1, max_players=1),
        PlayerMovedToWaitlist(**S, user_id="103", position=2, max_players=1),
    ]
    assert outcome.moved_to_waitlist == ("102", "103")
    assert scenario.when(reconcile(scenario, guild_version=1)).result == "unchanged"


def test_a_repeated_reconcile_returns_its_first_outcome(scenario: Scenario) -> None:
    scenario.given(created(), *seated("7", "8", cap=10))
    scenario.when(configure(scenario, "channel", max_players=1), CHANNEL_AGG)
    command = reconcile(scenario, channel_version=1)
    first = scenario.when(command)
    again = scenario.when(command)
    assert again.replayed
    assert again.moved_to_waitlist == first.moved_to_waitlist == ("8",)
    assert scenario.then() == []


def test_only_muster_reconciles_seats(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(NotAllowed):
        scenario.when(ReconcileSeats(command_id="r", user_id=HOST, game_id=GAME))


def test_reconcile_reads_settings_at_least_as_new_as_its_cause() -> None:
    """A long-lived settings cache must not hide the configuration that caused the command."""
    deciding = Scenario()
    deciding.app.SETTINGS_MAX_AGE = 3600.0
    deciding.given(created(), *seated("7", "8", cap=10))
    configuring = MusterApp(clock=lambda: deciding.now)  # another process, same log
    configuring.events.recorder = deciding.app.events.recorder
    assert deciding.app.effective_settings(GAME).max_players == 10  # cached now
    configuring.handle(configure(deciding, "channel", max_players=1))
    assert deciding.app.effective_settings(GAME).max_players == 10, "still cached"
    outcome = deciding.when(reconcile(deciding, channel_version=1))
    assert outcome.moved_to_waitlist == ("8",)


def test_reconcile_refuses_a_settings_version_the_log_does_not_have(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(InvalidCommand, match="no version 3"):
        scenario.when(reconcile(scenario, channel_version=3))
