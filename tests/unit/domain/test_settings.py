"""Guild and channel settings, and how games inherit them."""

from __future__ import annotations

from typing import Any

import pytest

from domain.commands import ConfigureChannel, ConfigureGuild, JoinGame
from domain.errors import InvalidCommand, NotAllowed
from domain.events import ChannelConfigured, GameDetails, GuildConfigured, Settings
from domain.rules import DEFAULT_MAX_PLAYERS, DEFAULT_REMINDER_MINUTES, resolve
from tests.unit.domain.scenario import (
    ADMINISTRATOR,
    CHANNEL,
    GAME,
    GUILD,
    MANAGE_CHANNELS,
    MANAGE_GUILD,
    S,
    Scenario,
    created,
    settings,
)

GUILD_AGG, CHANNEL_AGG = f"guild.{GUILD}", f"channel.{CHANNEL}"


def configure_guild(**fields: Any) -> ConfigureGuild:
    return ConfigureGuild(
        **{
            "command_id": "g",
            "user_id": "9",
            "permissions": MANAGE_GUILD,
            "guild_id": GUILD,
            **fields,
        }
    )


def configure_channel(**fields: Any) -> ConfigureChannel:
    values = {
        "command_id": "c",
        "user_id": "9",
        "permissions": MANAGE_CHANNELS,
        "guild_id": GUILD,
        "channel_id": CHANNEL,
    }
    return ConfigureChannel(**{**values, **fields})


def test_configure_guild_records_complete_settings(scenario: Scenario) -> None:
    outcome = scenario.when(
        configure_guild(max_players=6, reminder_minutes=(15, 1440), rules="Be kind"), GUILD_AGG
    )
    expected = Settings(max_players=6, reminder_minutes=(1440, 15), rules="Be kind")
    changed = ("max_players", "reminder_minutes", "rules")
    assert scenario.then(GUILD_AGG) == [
        GuildConfigured(**S, guild_id=GUILD, settings=expected, changed=changed)
    ]
    assert outcome.result == "guild_configured"
    assert outcome.message == "Server settings updated: max players, reminder minutes, rules."
    scenario.when(configure_guild(command_id="g2", waitlist_cap="unlimited", rules=None), GUILD_AGG)
    [event] = scenario.then(GUILD_AGG)
    assert isinstance(event, GuildConfigured)
    assert event.settings == Settings(
        max_players=6, reminder_minutes=(1440, 15), waitlist_cap="unlimited"
    )
    assert event.changed == ("rules", "waitlist_cap")


def test_configure_guild_needs_manage_server(scenario: Scenario) -> None:
    with pytest.raises(NotAllowed, match="Manage Server"):
        scenario.when(configure_guild(permissions=MANAGE_CHANNELS), GUILD_AGG)
    scenario.when(configure_guild(permissions=ADMINISTRATOR, max_players=2), GUILD_AGG)
    assert len(scenario.then(GUILD_AGG)) == 1


def test_configure_channel_needs_manage_channels(scenario: Scenario) -> None:
    with pytest.raises(NotAllowed, match="Manage Channels"):
        scenario.when(configure_channel(permissions=MANAGE_GUILD), CHANNEL_AGG)
    outcome = scenario.when(
        configure_channel(max_players=4, category="D&D", host_role_ids=("77",)), CHANNEL_AGG
    )
    assert outcome.result == "channel_configured"
    [event] = scenario.then(CHANNEL_AGG)
    assert event == ChannelConfigured(
        **S,
        guild_id=GUILD,
        channel_id=CHANNEL,
        settings=Settings(max_players=4, category="D&D", host_role_ids=("77",)),
        changed=("max_players", "host_role_ids", "category"),
    )


def test_a_channel_stays_in_its_guild(scenario: Scenario) -> None:
    scenario.when(configure_channel(max_players=4), CHANNEL_AGG)
    with pytest.raises(InvalidCommand, match="belongs to guild"):
        scenario.when(
            configure_channel(command_id="c2", guild_id="3000", max_players=5), CHANNEL_AGG
        )


def test_settings_are_validated(scenario: Scenario) -> None:
    with pytest.raises(InvalidCommand) as invalid:
        scenario.when(
            configure_guild(
                max_players=0, reminder_minutes=(5, 5), waitlist_cap=1001, host_role_ids=("x",)
            ),
            GUILD_AGG,
        )
    assert [f for f, _ in invalid.value.problems] == [
        "max_players",
        "reminder_minutes",
        "waitlist_cap",
        "host_role_ids",
    ]
    with pytest.raises(InvalidCommand, match="guild_id"):
        scenario.app.handle(configure_guild(guild_id="12.3"))


def test_nothing_to_change_stores_nothing(scenario: Scenario) -> None:
    scenario.when(configure_guild(max_players=6), GUILD_AGG)
    outcome = scenario.when(
        configure_guild(command_id="again", max_players=6, host_role_ids=()), GUILD_AGG
    )
    assert outcome.result == "unchanged"
    assert scenario.then(GUILD_AGG) == []


def test_resolve_takes_the_first_level_that_sets_a_value() -> None:
    guild = Settings(
        max_players=8,
        reminder_minutes=(30,),
        rules="guild rules",
        waitlist_cap=5,
        host_role_ids=("1",),
    )
    channel = Settings(
        max_players=6, waitlist_cap="unlimited", host_role_ids=("2",), category="Board games"
    )
    game = GameDetails(title="t", max_players=4, reminder_minutes=())
    effective = resolve(game, channel, guild)
    assert effective.max_players == 4
    assert effective.reminder_minutes == (), "an explicit empty list means no reminders"
    assert effective.rules == "guild rules"
    assert effective.waitlist_cap is None, "unlimited on the channel overrides the guild's 5"
    assert effective.host_role_ids == ("2",)
    assert effective.category == "Board games"
    defaults = resolve(GameDetails(title="t"), None, None)
    assert (defaults.max_players, defaults.reminder_minutes) == (
        DEFAULT_MAX_PLAYERS,
        DEFAULT_REMINDER_MINUTES,
    )
    assert (defaults.rules, defaults.waitlist_cap, defaults.host_role_ids) == ("", None, ())
    assert resolve(GameDetails(title="t"), Settings(), guild).max_players == 8


def test_a_guild_change_applies_to_games_that_did_not_override_it(scenario: Scenario) -> None:
    scenario.given(created())
    other = "5c3f9d2b-6e7a-4f8b-9c0d-1e2f3a4b5c6d"
    scenario.given(created(max_players=2), aggregate_id=f"game.{other}")
    scenario.when(configure_guild(max_players=1, reminder_minutes=(5,)), GUILD_AGG)
    assert scenario.app.effective_settings(GAME).max_players == 1
    assert scenario.app.effective_settings(GAME).reminder_minutes == (5,)
    assert scenario.app.effective_settings(other).max_players == 2
    scenario.when(JoinGame(command_id="j1", user_id="7", game_id=GAME))
    assert (
        scenario.when(JoinGame(command_id="j2", user_id="8", game_id=GAME)).result == "waitlisted"
    )
    scenario.when(configure_channel(max_players=3), "channel." + CHANNEL)
    assert scenario.app.effective_settings(GAME).max_players == 3


def test_settings_changed_elsewhere_are_seen_within_the_refresh_interval() -> None:
    scenario = Scenario()
    scenario.app.SETTINGS_MAX_AGE = 3600.0
    scenario.given(created())
    assert scenario.app.effective_settings(GAME).max_players == DEFAULT_MAX_PLAYERS
    scenario.given(
        GuildConfigured(**S, guild_id=GUILD, settings=settings(max_players=1), changed=()),
        aggregate_id=GUILD_AGG,
    )
    assert scenario.app.effective_settings(GAME).max_players == DEFAULT_MAX_PLAYERS, "cached"
    scenario.app.SETTINGS_MAX_AGE = 0.0
    assert scenario.app.effective_settings(GAME).max_players == 1
