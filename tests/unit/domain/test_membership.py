"""Joining, leaving, the FIFO waitlist and placeholders."""

from __future__ import annotations

import pytest

from domain.commands import (
    SYSTEM_USER_ID,
    AddPlaceholder,
    ClaimPlaceholder,
    JoinGame,
    LeaveGame,
    RemovePlaceholder,
    UpdateGame,
)
from domain.errors import (
    AlreadyJoined,
    GameFull,
    GameNotFound,
    GameNotOpen,
    InvalidCommand,
    NotHost,
    NotJoined,
    PlaceholderNotFound,
)
from domain.events import (
    ChannelConfigured,
    GameCancelled,
    GameCompleted,
    GameStarted,
    GameUpdated,
    GuildConfigured,
    PlaceholderAdded,
    PlaceholderClaimed,
    PlaceholderRemoved,
    PlayerJoined,
    PlayerLeft,
    PlayerPromoted,
    PlayerWaitlisted,
)
from tests.unit.domain.scenario import (
    CHANNEL,
    GAME,
    GUILD,
    HOST,
    MANAGE_GUILD,
    S,
    Scenario,
    created,
    settings,
)


def join(s: Scenario, user: str) -> JoinGame:
    return JoinGame(command_id=s.cid(), user_id=user, game_id=GAME)


def leave(s: Scenario, user: str) -> LeaveGame:
    return LeaveGame(command_id=s.cid(), user_id=user, game_id=GAME)


def test_join_takes_a_free_seat(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=3), PlayerJoined(**S, user_id="7", joined_count=1, max_players=3)
    )
    outcome = scenario.when(join(scenario, "8"))
    assert scenario.then() == [PlayerJoined(**S, user_id="8", joined_count=2, max_players=3)]
    assert (outcome.result, outcome.joined_count, outcome.max_players) == ("joined", 2, 3)
    assert outcome.message == "You joined the game (2/3)."


def test_join_a_full_game_queues_at_the_tail_of_the_waitlist(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=1),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlayerWaitlisted(**S, user_id="8", position=1),
    )
    outcome = scenario.when(join(scenario, "9"))
    assert scenario.then() == [PlayerWaitlisted(**S, user_id="9", position=2)]
    assert (outcome.result, outcome.waitlist_position) == ("waitlisted", 2)
    assert "#2 on the waitlist" in outcome.message


def test_join_when_the_waitlist_is_at_its_cap_is_refused(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=1, waitlist_cap=1),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlayerWaitlisted(**S, user_id="8", position=1),
    )
    with pytest.raises(GameFull) as refused:
        scenario.when(join(scenario, "9"))
    assert (refused.value.max_players, refused.value.waitlist_cap) == (1, 1)
    assert scenario.then() == []


def test_waitlist_cap_zero_means_no_waitlist(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=1, waitlist_cap=0),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
    )
    with pytest.raises(GameFull, match="there is no waitlist"):
        scenario.when(join(scenario, "9"))


def test_a_user_is_in_a_game_at_most_once(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=1),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlayerWaitlisted(**S, user_id="8", position=1),
    )
    with pytest.raises(AlreadyJoined) as seated:
        scenario.when(join(scenario, "7"))
    assert seated.value.waitlist_position is None
    with pytest.raises(AlreadyJoined) as waiting:
        scenario.when(join(scenario, "8"))
    assert waiting.value.waitlist_position == 1
    assert "#1 on the waitlist" in waiting.value.message


def test_leaving_a_seat_promotes_the_head_of_the_waitlist(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=2),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=2),
        PlayerJoined(**S, user_id="8", joined_count=2, max_players=2),
        PlayerWaitlisted(**S, user_id="9", position=1),
        PlayerWaitlisted(**S, user_id="10", position=2),
    )
    outcome = scenario.when(leave(scenario, "7"))
    assert scenario.then() == [
        PlayerLeft(**S, user_id="7", from_waitlist=False),
        PlayerPromoted(**S, user_id="9", joined_count=2, max_players=2),
    ]
    assert (outcome.result, outcome.promoted) == ("left", ("9",))
    assert "1 player moved up" in outcome.message
    assert scenario.app.game(GAME).waitlist == ["10"]


def test_leaving_the_waitlist_promotes_nobody(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=1),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlayerWaitlisted(**S, user_id="8", position=1),
        PlayerWaitlisted(**S, user_id="9", position=2),
    )
    outcome = scenario.when(leave(scenario, "8"))
    assert scenario.then() == [PlayerLeft(**S, user_id="8", from_waitlist=True)]
    assert (outcome.result, outcome.promoted) == ("left_waitlist", ())
    assert scenario.app.game(GAME).waitlist_position("9") == 1


def test_leaving_a_game_you_are_not_in_is_refused(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(NotJoined):
        scenario.when(leave(scenario, "7"))


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([GameStarted(**S, started_by="host")], "in_progress"),
        ([GameStarted(**S, started_by="host"), GameCompleted(**S)], "completed"),
        ([GameCancelled(**S, previous_status="scheduled")], "cancelled"),
    ],
)
def test_no_join_or_leave_unless_scheduled(scenario: Scenario, events: list, status: str) -> None:
    scenario.given(
        created(), PlayerJoined(**S, user_id="7", joined_count=1, max_players=10), *events
    )
    with pytest.raises(GameNotOpen) as refused:
        scenario.when(join(scenario, "8"))
    assert refused.value.status == status
    with pytest.raises(GameNotOpen):
        scenario.when(leave(scenario, "7"))


def test_unknown_and_malformed_game_ids(scenario: Scenario) -> None:
    with pytest.raises(GameNotFound):
        scenario.when(join(scenario, "7"))
    with pytest.raises(InvalidCommand) as bad:
        scenario.app.handle(JoinGame(command_id="x", user_id="7", game_id="game.1"))
    assert bad.value.field == "game_id"


def test_muster_itself_cannot_join(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(InvalidCommand, match="cannot play"):
        scenario.when(join(scenario, SYSTEM_USER_ID))


def test_placeholders_are_listed_but_take_no_seat(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=1),
        PlaceholderAdded(**S, placeholder_id=1, label="Bob's friend"),
        PlaceholderAdded(**S, placeholder_id=2, label="Carol"),
    )
    outcome = scenario.when(join(scenario, "7"))
    assert (outcome.result, outcome.joined_count) == ("joined", 1)
    assert scenario.app.game(GAME).placeholders == {1: "Bob's friend", 2: "Carol"}


def test_host_adds_and_removes_placeholders(scenario: Scenario) -> None:
    scenario.given(created(), PlaceholderAdded(**S, placeholder_id=1, label="Bob"))
    added = scenario.when(
        AddPlaceholder(command_id="a", user_id=HOST, game_id=GAME, label=" Dana ")
    )
    assert scenario.then() == [PlaceholderAdded(**S, placeholder_id=2, label="Dana")]
    assert (added.result, added.placeholder_id) == ("placeholder_added", 2)
    scenario.when(RemovePlaceholder(command_id="r", user_id=HOST, game_id=GAME, placeholder_id=1))
    assert scenario.then() == [PlaceholderRemoved(**S, placeholder_id=1, label="Bob")]
    added = scenario.when(AddPlaceholder(command_id="b", user_id=HOST, game_id=GAME, label="Eve"))
    assert added.placeholder_id == 3, "placeholder ids are never reused"


def test_only_host_or_manager_manages_placeholders(scenario: Scenario) -> None:
    scenario.given(created(), PlaceholderAdded(**S, placeholder_id=1, label="Bob"))
    with pytest.raises(NotHost):
        scenario.when(AddPlaceholder(command_id="a", user_id="7", game_id=GAME, label="X"))
    with pytest.raises(NotHost):
        scenario.when(
            RemovePlaceholder(command_id="r", user_id="7", game_id=GAME, placeholder_id=1)
        )
    scenario.when(
        AddPlaceholder(
            command_id="m", user_id="7", permissions=MANAGE_GUILD, game_id=GAME, label="X"
        )
    )
    assert len(scenario.then()) == 1


def test_placeholder_label_is_validated(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(InvalidCommand) as empty:
        scenario.when(AddPlaceholder(command_id="a", user_id=HOST, game_id=GAME, label="  "))
    assert empty.value.problems == (("label", "must not be empty"),)
    with pytest.raises(InvalidCommand, match="at most 100"):
        scenario.when(AddPlaceholder(command_id="b", user_id=HOST, game_id=GAME, label="x" * 101))
    with pytest.raises(PlaceholderNotFound):
        scenario.when(
            RemovePlaceholder(command_id="c", user_id=HOST, game_id=GAME, placeholder_id=9)
        )


def test_claiming_a_placeholder_replaces_it_by_the_user(scenario: Scenario) -> None:
    scenario.given(created(max_players=2), PlaceholderAdded(**S, placeholder_id=1, label="Bob"))
    outcome = scenario.when(
        ClaimPlaceholder(command_id="c", user_id="7", game_id=GAME, placeholder_id=1)
    )
    assert scenario.then() == [
        PlaceholderClaimed(**S, placeholder_id=1, label="Bob", user_id="7"),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=2),
    ]
    assert (outcome.result, outcome.placeholder_id) == ("joined", 1)
    assert outcome.message.startswith("You took Bob's place")
    assert scenario.app.game(GAME).placeholders == {}


def test_claiming_in_a_full_game_queues_and_unknown_or_double_claims_fail(
    scenario: Scenario,
) -> None:
    scenario.given(
        created(max_players=1),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlaceholderAdded(**S, placeholder_id=1, label="Bob"),
        PlaceholderAdded(**S, placeholder_id=2, label="Ann"),
    )
    outcome = scenario.when(
        ClaimPlaceholder(command_id="c", user_id="8", game_id=GAME, placeholder_id=1)
    )
    assert (outcome.result, outcome.waitlist_position) == ("waitlisted", 1)
    with pytest.raises(PlaceholderNotFound):
        scenario.when(ClaimPlaceholder(command_id="d", user_id="9", game_id=GAME, placeholder_id=1))
    with pytest.raises(AlreadyJoined):
        scenario.when(ClaimPlaceholder(command_id="e", user_id="7", game_id=GAME, placeholder_id=2))
    assert scenario.app.game(GAME).placeholders == {2: "Ann"}


def test_a_higher_cap_promotes_the_waitlist_before_a_newcomer(scenario: Scenario) -> None:
    scenario.given(
        created(),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlayerWaitlisted(**S, user_id="8", position=1),
        PlayerWaitlisted(**S, user_id="9", position=2),
    )
    scenario.given(
        ChannelConfigured(
            **S, guild_id=GUILD, channel_id=CHANNEL, settings=settings(max_players=3), changed=()
        ),
        aggregate_id=f"channel.{CHANNEL}",
    )
    outcome = scenario.when(join(scenario, "10"))
    assert scenario.then() == [
        PlayerPromoted(**S, user_id="8", joined_count=2, max_players=3),
        PlayerPromoted(**S, user_id="9", joined_count=3, max_players=3),
        PlayerWaitlisted(**S, user_id="10", position=1),
    ]
    assert outcome.promoted == ("8", "9")


def test_the_game_cap_was_inherited_when_the_first_players_joined(scenario: Scenario) -> None:
    scenario.given(
        GuildConfigured(**S, guild_id=GUILD, settings=settings(max_players=1), changed=()),
        aggregate_id=f"guild.{GUILD}",
    )
    scenario.given(created())
    assert scenario.when(join(scenario, "7")).max_players == 1
    assert scenario.when(join(scenario, "8")).result == "waitlisted"


def test_raising_the_game_cap_promotes_at_once(scenario: Scenario) -> None:
    scenario.given(
        created(max_players=1),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=1),
        PlayerWaitlisted(**S, user_id="8", position=1),
    )
    outcome = scenario.when(UpdateGame(command_id="u", user_id=HOST, game_id=GAME, max_players=2))
    events = scenario.then()
    assert isinstance(events[0], GameUpdated)
    assert events[1:] == [PlayerPromoted(**S, user_id="8", joined_count=2, max_players=2)]
    assert outcome.promoted == ("8",)
