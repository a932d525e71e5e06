"""The domain side of reminders: intents before sending, mutes per game and per guild,
and the inherited game duration."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.commands import (
    SYSTEM_USER_ID,
    ConfigureChannel,
    ConfigureGuild,
    MuteGuildReminders,
    MuteReminders,
    RecordReminder,
    RecordReminderIntent,
    RescheduleGame,
    UnmuteGuildReminders,
    UnmuteReminders,
)
from domain.errors import (
    InvalidCommand,
    InvalidStatusChange,
    NotAllowed,
    ReminderAlreadyRecorded,
)
from domain.events import (
    GameStarted,
    GuildConfigured,
    GuildRemindersMuted,
    GuildRemindersUnmuted,
    PlayerJoined,
    ReminderIntentRecorded,
    RemindersMuted,
    RemindersUnmuted,
    Settings,
)
from domain.rules import DEFAULT_DURATION_MINUTES
from tests.unit.domain.scenario import (
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

GUILD_AGG = f"guild.{GUILD}"


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


def intent(cid: str, user: str = "7", offset: int = 60, **fields: object) -> RecordReminderIntent:
    values: dict[str, object] = {
        "command_id": cid, "user_id": SYSTEM_USER_ID, "game_id": GAME, "recipient_id": user,
        "offset_minutes": offset, "scheduled_at": LATER,
    }  # fmt: skip
    values.update(fields)
    return RecordReminderIntent(**values)  # type: ignore[arg-type]


SEATED = PlayerJoined(**S, user_id="7", joined_count=1, max_players=10)


def test_an_intent_is_recorded_once_and_refused_after_the_result(scenario: Scenario) -> None:
    scenario.given(created(), SEATED)
    outcome = scenario.when(intent("i1"))
    assert outcome.result == "reminder_intent_recorded"
    assert scenario.then() == [
        ReminderIntentRecorded(**S, user_id="7", offset_minutes=60, scheduled_at=LATER)
    ]
    again = scenario.when(intent("i2"))
    assert again.result == "unchanged"
    assert scenario.then() == []
    assert scenario.when(intent("i1")).replayed
    scenario.when(
        RecordReminder(
            command_id="r1",
            user_id=SYSTEM_USER_ID,
            game_id=GAME,
            recipient_id="7",
            offset_minutes=60,
            scheduled_at=LATER,
            status="sent",
        )
    )
    with pytest.raises(ReminderAlreadyRecorded):
        scenario.when(intent("i3"))
    assert scenario.app.game(GAME).intents == {(60, "7")}


def test_intents_are_muster_only_and_for_the_current_start(scenario: Scenario) -> None:
    scenario.given(created(), SEATED)
    with pytest.raises(NotAllowed):
        scenario.when(intent("i1", user_id=HOST))
    with pytest.raises(InvalidCommand, match="rescheduled"):
        scenario.when(intent("i2", scheduled_at=LATER - timedelta(hours=1)))
    scenario.when(intent("i3"))
    scenario.when(
        RescheduleGame(
            command_id="move", user_id=HOST, game_id=GAME, scheduled_at=LATER + timedelta(days=1)
        )
    )
    assert scenario.app.game(GAME).intents == set()


def test_intents_need_a_joined_unmuted_player_of_a_scheduled_game(scenario: Scenario) -> None:
    scenario.given(created(), SEATED, RemindersMuted(**S, user_id="7"))
    with pytest.raises(InvalidCommand, match="not a joined player"):
        scenario.when(intent("i1", user="8"))
    with pytest.raises(InvalidCommand, match="muted"):
        scenario.when(intent("i2"))
    scenario.given(RemindersUnmuted(**S, user_id="7"), GameStarted(**S, started_by="host"))
    with pytest.raises(InvalidStatusChange):
        scenario.when(intent("i3"))


def test_a_player_mutes_and_unmutes_one_game(scenario: Scenario) -> None:
    scenario.given(created())
    outcome = scenario.when(MuteReminders(command_id="m1", user_id="7", game_id=GAME))
    assert outcome.result == "reminders_muted"
    assert "no more reminders about this game" in outcome.message
    assert scenario.then() == [RemindersMuted(**S, user_id="7")]
    assert scenario.when(MuteReminders(command_id="m2", user_id="7", game_id=GAME)).result == (
        "unchanged"
    )
    assert scenario.app.game(GAME).muted == {"7"}
    scenario.when(UnmuteReminders(command_id="u1", user_id="7", game_id=GAME))
    assert scenario.then() == [RemindersUnmuted(**S, user_id="7")]
    assert scenario.app.game(GAME).muted == set()
    assert scenario.when(UnmuteReminders(command_id="u2", user_id="7", game_id=GAME)).result == (
        "unchanged"
    )


def test_a_member_mutes_a_whole_guild_without_touching_its_settings(
    scenario: Scenario,
) -> None:
    scenario.when(
        ConfigureGuild(
            command_id="c1", user_id=HOST, permissions=MANAGE_GUILD, guild_id=GUILD, max_players=4
        ),
        GUILD_AGG,
    )
    outcome = scenario.when(
        MuteGuildReminders(command_id="g1", user_id="7", guild_id=GUILD), GUILD_AGG
    )
    assert outcome.result == "reminders_muted"
    assert scenario.then(GUILD_AGG) == [GuildRemindersMuted(**S, guild_id=GUILD, user_id="7")]
    scenario.when(
        ConfigureGuild(
            command_id="c2", user_id=HOST, permissions=MANAGE_GUILD, guild_id=GUILD, max_players=6
        ),
        GUILD_AGG,
    )
    aggregate = scenario.app.aggregate(GUILD_AGG)
    assert aggregate is not None
    assert aggregate.state.muted == frozenset({"7"})
    assert aggregate.state.settings.max_players == 6
    scenario.when(UnmuteGuildReminders(command_id="g2", user_id="7", guild_id=GUILD), GUILD_AGG)
    assert scenario.then(GUILD_AGG) == [GuildRemindersUnmuted(**S, guild_id=GUILD, user_id="7")]


def test_a_guild_mute_works_before_any_configuration(scenario: Scenario) -> None:
    scenario.when(MuteGuildReminders(command_id="g1", user_id="7", guild_id=GUILD), GUILD_AGG)
    aggregate = scenario.app.aggregate(GUILD_AGG)
    assert aggregate is not None
    assert aggregate.state.muted == frozenset({"7"})
    assert aggregate.state.settings == Settings()
    with pytest.raises(InvalidCommand):
        scenario.when(MuteGuildReminders(command_id="g2", user_id="7", guild_id="x"), "guild.x")


def test_duration_inherits_game_channel_guild_default(scenario: Scenario) -> None:
    scenario.given(created())
    assert scenario.app.effective_settings(GAME).duration_minutes == DEFAULT_DURATION_MINUTES
    scenario.given(
        GuildConfigured(
            **S, guild_id=GUILD, settings=Settings(duration_minutes=90), changed=("x",)
        ),
        aggregate_id=GUILD_AGG,
    )
    assert scenario.app.effective_settings(GAME).duration_minutes == 90
    scenario.when(
        ConfigureChannel(
            command_id="c",
            user_id=HOST,
            permissions=MANAGE_CHANNELS,
            guild_id=GUILD,
            channel_id="2000",
            duration_minutes=45,
        ),
        "channel.2000",
    )
    assert scenario.app.effective_settings(GAME).duration_minutes == 45
    with pytest.raises(InvalidCommand, match="duration_minutes"):
        scenario.when(
            ConfigureGuild(
                command_id="bad",
                user_id=HOST,
                permissions=MANAGE_GUILD,
                guild_id=GUILD,
                duration_minutes=0,
            ),
            GUILD_AGG,
        )
