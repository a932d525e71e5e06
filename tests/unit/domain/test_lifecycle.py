"""Creating, editing, rescheduling, cancelling, starting and completing games; what Muster
records about them (announcements, reminders)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from domain.commands import (
    SYSTEM_USER_ID,
    CancelGame,
    CompleteGame,
    CreateGame,
    RecordAnnouncement,
    RecordReminder,
    RescheduleGame,
    StartGame,
    UpdateGame,
)
from domain.decisions import GAME_ID_NAMESPACE
from domain.errors import (
    GameAlreadyExists,
    InvalidCommand,
    InvalidStatusChange,
    NotAllowed,
    NotHost,
    ReminderAlreadyRecorded,
)
from domain.events import (
    AnnouncementRecorded,
    ChannelConfigured,
    GameCancelled,
    GameCompleted,
    GameCreated,
    GameDetails,
    GameRescheduled,
    GameStarted,
    GameUpdated,
    GuildConfigured,
    PlaceholderAdded,
    PlayerJoined,
    PlayerWaitlisted,
    ReminderRecorded,
)
from tests.unit.domain.scenario import (
    ADMINISTRATOR,
    CHANNEL,
    GAME,
    GAME_AGG,
    GUILD,
    HOST,
    LATER,
    MANAGE_GUILD,
    NOW,
    S,
    Scenario,
    created,
    settings,
)


def create(**fields: Any) -> CreateGame:
    values: dict[str, Any] = {
        "command_id": "create-1",
        "user_id": HOST,
        "permissions": MANAGE_GUILD,
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "title": "Game night",
        "scheduled_at": LATER,
        "game_id": GAME,
    }
    values.update(fields)
    return CreateGame(**values)


def test_create_seats_players_in_order_and_lists_placeholders(scenario: Scenario) -> None:
    outcome = scenario.when(
        create(
            max_players=2, players=("7", "8", "9"), placeholders=("Bob",), reminder_minutes=[15, 60]
        )
    )
    details = GameDetails(title="Game night", max_players=2, reminder_minutes=(60, 15))
    assert scenario.then() == [
        GameCreated(
            **S,
            guild_id=GUILD,
            channel_id=CHANNEL,
            host_id=HOST,
            scheduled_at=LATER,
            details=details,
        ),
        PlayerJoined(**S, user_id="7", joined_count=1, max_players=2),
        PlayerJoined(**S, user_id="8", joined_count=2, max_players=2),
        PlayerWaitlisted(**S, user_id="9", position=1),
        PlaceholderAdded(**S, placeholder_id=1, label="Bob"),
    ]
    assert (outcome.result, outcome.game_id, outcome.version) == ("game_created", GAME, 5)
    assert "2 joined, 1 waiting and 1 placeholders" in outcome.message


def test_events_carry_the_command_the_actor_and_the_time(scenario: Scenario) -> None:
    scenario.when(create(players=("7",)))
    events = scenario.app.history(GAME_AGG)
    assert {(e.command_id, e.actor_id, e.occurred_at) for e in events} == {("create-1", HOST, NOW)}


def test_game_id_is_derived_from_the_command_id_when_not_given(scenario: Scenario) -> None:
    outcome = scenario.app.handle(create(game_id=None, command_id="interaction-99"))
    assert outcome.game_id == str(uuid.uuid5(GAME_ID_NAMESPACE, "interaction-99"))
    again = scenario.app.handle(create(game_id=None, command_id="interaction-99"))
    assert again.replayed
    assert again.game_id == outcome.game_id


def test_an_explicit_game_id_cannot_be_reused(scenario: Scenario) -> None:
    scenario.when(create())
    with pytest.raises(GameAlreadyExists):
        scenario.when(create(command_id="create-2"))


def test_create_reports_every_invalid_field_at_once(scenario: Scenario) -> None:
    with pytest.raises(InvalidCommand) as invalid:
        scenario.when(
            create(
                title=" ",
                description="d" * 2001,
                scheduled_at=NOW - timedelta(minutes=1),
                max_players=101,
                reminder_minutes=(1, 2, 3, 4, 5, 6),
                waitlist_cap=-1,
                duration_minutes=0,
                players=("7", "7", "x"),
            )
        )
    fields = [field for field, _reason in invalid.value.problems]
    assert fields == [
        "title",
        "description",
        "duration_minutes",
        "max_players",
        "reminder_minutes",
        "waitlist_cap",
        "scheduled_at",
        "players",
        "players",
    ]
    assert invalid.value.field == "title"
    assert scenario.then() == []


@pytest.mark.parametrize(
    ("reminders", "reason"),
    [
        ((0,), "not between 1 minute and 7 days"),
        ((10081,), "not between 1 minute and 7 days"),
        ((15, 15), "only once"),
    ],
)
def test_reminder_offsets_are_limited(
    scenario: Scenario, reminders: tuple[int, ...], reason: str
) -> None:
    with pytest.raises(InvalidCommand, match=reason):
        scenario.when(create(reminder_minutes=reminders))


def test_the_limits_themselves_are_accepted(scenario: Scenario) -> None:
    scenario.when(
        create(
            title="t" * 100,
            description="d" * 2000,
            max_players=100,
            reminder_minutes=(1, 10, 100, 1000, 10080),
            scheduled_at=NOW + timedelta(seconds=1),
        )
    )
    assert len(scenario.then()) == 1


def test_scheduled_at_needs_a_time_zone(scenario: Scenario) -> None:
    with pytest.raises(InvalidCommand, match="time zone"):
        scenario.when(create(scheduled_at=datetime(2031, 1, 1)))


def test_without_host_roles_only_server_managers_host(scenario: Scenario) -> None:
    with pytest.raises(NotAllowed, match="Manage Server"):
        scenario.when(create(permissions=0))
    scenario.when(create(permissions=ADMINISTRATOR))
    assert len(scenario.then()) == 1


def test_host_roles_inherit_channel_over_guild(scenario: Scenario) -> None:
    scenario.given(
        GuildConfigured(**S, guild_id=GUILD, settings=settings(host_role_ids=("501",)), changed=()),
        aggregate_id=f"guild.{GUILD}",
    )
    scenario.when(create(command_id="a", game_id=None, permissions=0, role_ids=("501",)))
    scenario.given(
        ChannelConfigured(
            **S,
            guild_id=GUILD,
            channel_id=CHANNEL,
            settings=settings(host_role_ids=("502",)),
            changed=(),
        ),
        aggregate_id=f"channel.{CHANNEL}",
    )
    with pytest.raises(NotAllowed, match="<@&502>"):
        scenario.when(create(command_id="b", game_id=None, permissions=0, role_ids=("501",)))
    scenario.when(create(command_id="c", game_id=None, permissions=0, role_ids=("502", "9")))
    scenario.when(create(command_id="d", game_id=None, permissions=MANAGE_GUILD))


def test_a_channel_of_another_guild_is_refused(scenario: Scenario) -> None:
    scenario.given(
        ChannelConfigured(
            **S, guild_id="3000", channel_id=CHANNEL, settings=settings(), changed=()
        ),
        aggregate_id=f"channel.{CHANNEL}",
    )
    with pytest.raises(InvalidCommand) as invalid:
        scenario.when(create())
    assert invalid.value.problems == (("channel_id", "this channel belongs to guild 3000"),)


def update(**fields: Any) -> UpdateGame:
    return UpdateGame(**{"command_id": "u", "user_id": HOST, "game_id": GAME, **fields})


def test_update_changes_details_and_says_what_changed(scenario: Scenario) -> None:
    scenario.given(created(max_players=4, rules="No spoilers"))
    outcome = scenario.when(update(title="Raid night", rules=None, description="Bring snacks"))
    details = GameDetails(title="Raid night", description="Bring snacks", max_players=4)
    assert scenario.then() == [
        GameUpdated(**S, details=details, changed=("title", "description", "rules"))
    ]
    assert outcome.message == "Game updated: title, description, rules."


def test_update_without_changes_stores_nothing(scenario: Scenario) -> None:
    scenario.given(created(max_players=4))
    outcome = scenario.when(update(max_players=4, title="Game night"))
    assert (outcome.result, outcome.event_types, scenario.then()) == ("unchanged", (), [])


def test_only_the_host_or_a_manager_updates_reschedules_or_cancels(scenario: Scenario) -> None:
    scenario.given(created())
    for command in (
        update(user_id="7", title="Mine now"),
        RescheduleGame(
            command_id="r", user_id="7", game_id=GAME, scheduled_at=LATER + timedelta(hours=1)
        ),
        CancelGame(command_id="c", user_id="7", game_id=GAME),
    ):
        with pytest.raises(NotHost) as refused:
            scenario.when(command)
        assert refused.value.host_id == HOST
    scenario.when(update(user_id="7", permissions=MANAGE_GUILD, title="Managed"))
    assert scenario.app.game(GAME).details.title == "Managed"


def test_reschedule_moves_the_game_and_restarts_reminders(scenario: Scenario) -> None:
    scenario.given(
        created(),
        ReminderRecorded(**S, user_id="7", offset_minutes=60, scheduled_at=LATER, status="sent"),
    )
    new_time = LATER + timedelta(days=1)
    outcome = scenario.when(
        RescheduleGame(command_id="r", user_id=HOST, game_id=GAME, scheduled_at=new_time)
    )
    assert scenario.then() == [
        GameRescheduled(**S, scheduled_at=new_time, previous_scheduled_at=LATER)
    ]
    assert outcome.result == "game_rescheduled"
    assert scenario.app.game(GAME).reminders == {}
    with pytest.raises(InvalidCommand, match="future"):
        scenario.when(RescheduleGame(command_id="p", user_id=HOST, game_id=GAME, scheduled_at=NOW))
    same = scenario.when(
        RescheduleGame(command_id="s", user_id=HOST, game_id=GAME, scheduled_at=new_time)
    )
    assert same.result == "unchanged"


def test_status_moves_forward_only(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(InvalidStatusChange):
        scenario.when(CompleteGame(command_id="c0", user_id=HOST, game_id=GAME))
    scenario.when(StartGame(command_id="s", user_id=SYSTEM_USER_ID, game_id=GAME))
    assert scenario.then() == [GameStarted(**S, started_by="schedule")]
    for command in (
        StartGame(command_id="s2", user_id=HOST, game_id=GAME),
        RescheduleGame(
            command_id="r", user_id=HOST, game_id=GAME, scheduled_at=LATER + timedelta(days=1)
        ),
    ):
        with pytest.raises(InvalidStatusChange):
            scenario.when(command)
    scenario.when(CompleteGame(command_id="c", user_id=HOST, game_id=GAME))
    assert scenario.then() == [GameCompleted(**S)]
    for command in (
        CancelGame(command_id="x", user_id=HOST, game_id=GAME),
        update(title="After the fact"),
        StartGame(command_id="s3", user_id=HOST, game_id=GAME),
    ):
        with pytest.raises(InvalidStatusChange):
            scenario.when(command)
    assert scenario.app.game(GAME).status == "completed"


@pytest.mark.parametrize("started", [False, True])
def test_cancel_from_scheduled_or_in_progress(scenario: Scenario, started: bool) -> None:
    scenario.given(created(), *([GameStarted(**S, started_by="host")] if started else []))
    outcome = scenario.when(
        CancelGame(command_id="c", user_id=HOST, game_id=GAME, reason=" Host is ill ")
    )
    previous = "in_progress" if started else "scheduled"
    assert scenario.then() == [GameCancelled(**S, reason="Host is ill", previous_status=previous)]
    assert outcome.result == "game_cancelled"
    with pytest.raises(InvalidStatusChange):
        scenario.when(CancelGame(command_id="c2", user_id=HOST, game_id=GAME))


def test_announcements_are_recorded_by_muster_only(scenario: Scenario) -> None:
    scenario.given(created())
    record = RecordAnnouncement(
        command_id="a", user_id=SYSTEM_USER_ID, game_id=GAME, channel_id=CHANNEL, message_id="77"
    )
    assert scenario.when(record).result == "announcement_recorded"
    assert scenario.then() == [AnnouncementRecorded(**S, channel_id=CHANNEL, message_id="77")]
    again = RecordAnnouncement(
        command_id="b", user_id=SYSTEM_USER_ID, game_id=GAME, channel_id=CHANNEL, message_id="77"
    )
    assert scenario.when(again).result == "unchanged"
    with pytest.raises(NotAllowed):
        scenario.when(
            RecordAnnouncement(
                command_id="c", user_id=HOST, game_id=GAME, channel_id=CHANNEL, message_id="78"
            )
        )


def remind(command_id: str, user: str = "7", offset: int = 60, **fields: Any) -> RecordReminder:
    values: dict[str, Any] = {
        "command_id": command_id,
        "user_id": SYSTEM_USER_ID,
        "game_id": GAME,
        "recipient_id": user,
        "offset_minutes": offset,
        "scheduled_at": LATER,
        "status": "sent",
    }
    values.update(fields)
    return RecordReminder(**values)


def test_each_reminder_is_recorded_exactly_once(scenario: Scenario) -> None:
    scenario.given(created())
    outcome = scenario.when(remind("r1"))
    assert scenario.then() == [
        ReminderRecorded(**S, user_id="7", offset_minutes=60, scheduled_at=LATER, status="sent")
    ]
    assert outcome.result == "reminder_recorded"
    with pytest.raises(ReminderAlreadyRecorded) as twice:
        scenario.when(remind("r2", status="failed"))
    assert twice.value.status == "sent"
    scenario.when(remind("r3", offset=15, status="skipped", detail="game already started"))
    scenario.when(remind("r4", user="8", status="failed", detail="DMs closed"))
    assert scenario.app.game(GAME).reminders == {
        (60, "7"): "sent",
        (15, "7"): "skipped",
        (60, "8"): "failed",
    }


def test_reminders_for_an_old_start_time_or_by_users_are_refused(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(InvalidCommand, match="rescheduled"):
        scenario.when(remind("r1", scheduled_at=LATER - timedelta(hours=1)))
    with pytest.raises(NotAllowed):
        scenario.when(remind("r2", user_id=HOST))
    with pytest.raises(InvalidCommand, match="offset_minutes"):
        scenario.when(remind("r3", offset=0))


def test_times_are_stored_in_utc(scenario: Scenario) -> None:
    paris = timezone(timedelta(hours=2))
    scenario.now = NOW.astimezone(paris)
    scenario.when(create(scheduled_at=LATER.astimezone(paris)))
    [created_event] = scenario.app.history(GAME_AGG)
    assert isinstance(created_event, GameCreated)
    assert created_event.scheduled_at.utcoffset() == timedelta(0)
    assert created_event.occurred_at.utcoffset() == timedelta(0)
    body = scenario.app.events.recorder.select_events(GAME_AGG)[0].state
    assert b'"scheduled_at":"2030-01-03T12:00:00Z"' in body
