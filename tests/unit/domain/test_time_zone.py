"""The inheritable time zone setting: channel > guild > UTC, IANA names only."""

from __future__ import annotations

import msgspec
import pytest

from domain.codec import EventMapper
from domain.commands import ConfigureChannel, ConfigureGuild
from domain.errors import InvalidCommand
from domain.events import GuildConfigured, Settings
from domain.rules import is_time_zone, resolve
from tests.unit.domain.scenario import CHANNEL, GUILD, MANAGE_CHANNELS, MANAGE_GUILD, S, Scenario

GUILD_AGG, CHANNEL_AGG = f"guild.{GUILD}", f"channel.{CHANNEL}"


def test_time_zone_inherits_channel_then_guild_then_utc() -> None:
    assert resolve(None, None, None).time_zone == "UTC"
    guild = Settings(time_zone="Europe/Berlin")
    assert resolve(None, None, guild).time_zone == "Europe/Berlin"
    channel = Settings(time_zone="America/New_York")
    assert resolve(None, channel, guild).time_zone == "America/New_York"
    assert resolve(None, Settings(), guild).time_zone == "Europe/Berlin"


def test_configure_guild_time_zone(scenario: Scenario) -> None:
    scenario.when(
        ConfigureGuild(
            command_id="g",
            user_id="9",
            permissions=MANAGE_GUILD,
            guild_id=GUILD,
            time_zone="Asia/Tokyo",
        ),
        GUILD_AGG,
    )
    assert scenario.then(GUILD_AGG) == [
        GuildConfigured(
            **S, guild_id=GUILD, settings=Settings(time_zone="Asia/Tokyo"), changed=("time_zone",)
        )
    ]


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "Europe/"])
def test_unknown_time_zone_is_refused(scenario: Scenario, name: str) -> None:
    command = ConfigureChannel(
        command_id="c", user_id="9", permissions=MANAGE_CHANNELS, guild_id=GUILD,
        channel_id=CHANNEL, time_zone=name,
    )  # fmt: skip
    if name == "":  # blank means "inherit"
        scenario.when(command, CHANNEL_AGG)
        assert scenario.then(CHANNEL_AGG) == []
        return
    with pytest.raises(InvalidCommand) as error:
        scenario.when(command, CHANNEL_AGG)
    assert error.value.field == "time_zone"
    assert "IANA time zone" in error.value.reason


def test_old_events_without_time_zone_stay_readable() -> None:
    old = msgspec.json.encode(
        {"type": "guild.configured.v1", **S, "guild_id": GUILD,
         "settings": {"max_players": 4}, "changed": ["max_players"]}
    )  # fmt: skip
    event = EventMapper().decode("guild.configured.v1", old)
    assert isinstance(event, GuildConfigured)
    assert event.settings.time_zone is None


def test_is_time_zone() -> None:
    assert is_time_zone("UTC")
    assert is_time_zone("Europe/Berlin")
    assert not is_time_zone("Nowhere/Land")
