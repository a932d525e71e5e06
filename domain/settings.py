"""Guild and channel settings: their state, events and rules.

A guild's settings are the defaults for all its channels; a channel's settings override
them for games announced there. Games read both when deciding, so a change here applies
to every game that did not override the setting itself.
"""

from datetime import datetime

import msgspec
from msgspec import UNSET

from domain.commands import (
    ConfigureChannel,
    ConfigureGuild,
    MuteGuildReminders,
    UnmuteGuildReminders,
)
from domain.errors import InvalidCommand, NotAllowed
from domain.events import (
    ChannelConfigured,
    GuildConfigured,
    GuildEvent,
    GuildRemindersMuted,
    GuildRemindersUnmuted,
    Settings,
)
from domain.game import stamp
from domain.rules import (
    Problems,
    blank_to_none,
    can_manage_channels,
    check_settings,
    is_guild_manager,
    normal_offsets,
)

SETTING_NAMES = tuple(Settings.__struct_fields__)


class GuildState(msgspec.Struct, frozen=True, kw_only=True):
    """A guild's settings, and the members who muted reminders for all its games."""

    guild_id: str
    settings: Settings
    muted: frozenset[str] = frozenset()


class ChannelState(msgspec.Struct, frozen=True, kw_only=True):
    guild_id: str
    channel_id: str
    settings: Settings


def evolve_guild(state: GuildState | None, event: GuildEvent) -> GuildState:
    """A configuration carries the complete settings (they are replaced); mutes add or
    remove one member."""
    base = state or GuildState(guild_id=event.guild_id, settings=Settings())
    match event:
        case GuildConfigured(settings=settings):
            return msgspec.structs.replace(base, settings=settings)
        case GuildRemindersMuted(user_id=user):
            return msgspec.structs.replace(base, muted=base.muted | {user})
        case GuildRemindersUnmuted(user_id=user):
            return msgspec.structs.replace(base, muted=base.muted - {user})
    raise TypeError(f"no rule applies {type(event).__name__} to a guild")


def mute_guild(
    state: GuildState | None, command: MuteGuildReminders | UnmuteGuildReminders, now: datetime
) -> list[GuildRemindersMuted | GuildRemindersUnmuted]:
    """Anyone may mute (or unmute) reminders for themselves in a guild; nothing new when
    it is already so."""
    problems = Problems()
    problems.snowflake("guild_id", command.guild_id)
    problems.raise_if_any()
    muted = state is not None and command.user_id in state.muted
    s = stamp(command, now)
    if isinstance(command, MuteGuildReminders):
        if muted:
            return []
        return [GuildRemindersMuted(**s, guild_id=command.guild_id, user_id=command.user_id)]
    if not muted:
        return []
    return [GuildRemindersUnmuted(**s, guild_id=command.guild_id, user_id=command.user_id)]


def evolve_channel(_state: ChannelState | None, event: ChannelConfigured) -> ChannelState:
    return ChannelState(
        guild_id=event.guild_id, channel_id=event.channel_id, settings=event.settings
    )


def configure_guild(
    state: GuildState | None, command: ConfigureGuild, now: datetime
) -> list[GuildConfigured]:
    """Change guild defaults; needs Manage Server (or Administrator)."""
    if not is_guild_manager(command.permissions):
        raise NotAllowed("change this server's Muster settings", "the Manage Server permission")
    problems = Problems()
    problems.snowflake("guild_id", command.guild_id)
    problems.raise_if_any()
    old = state.settings if state else Settings()
    new, changed = _changed_settings(old, command)
    if not changed:
        return []
    return [
        GuildConfigured(
            command_id=command.command_id,
            actor_id=command.user_id,
            occurred_at=now,
            guild_id=command.guild_id,
            settings=new,
            changed=changed,
        )
    ]


def configure_channel(
    state: ChannelState | None, command: ConfigureChannel, now: datetime
) -> list[ChannelConfigured]:
    """Change one channel's settings; needs Manage Channels (or Administrator)."""
    if not can_manage_channels(command.permissions):
        raise NotAllowed("change this channel's Muster settings", "the Manage Channels permission")
    problems = Problems()
    problems.snowflake("guild_id", command.guild_id)
    problems.snowflake("channel_id", command.channel_id)
    problems.raise_if_any()
    if state is not None and state.guild_id != command.guild_id:
        raise InvalidCommand(
            "guild_id", f"channel {command.channel_id} belongs to guild {state.guild_id}"
        )
    old = state.settings if state else Settings()
    new, changed = _changed_settings(old, command)
    if not changed:
        return []
    return [
        ChannelConfigured(
            command_id=command.command_id,
            actor_id=command.user_id,
            occurred_at=now,
            guild_id=command.guild_id,
            channel_id=command.channel_id,
            settings=new,
            changed=changed,
        )
    ]


def _changed_settings(
    old: Settings, command: ConfigureGuild | ConfigureChannel
) -> tuple[Settings, tuple[str, ...]]:
    """Apply the fields the command sets; validate; say which ones really changed."""
    given = {
        name: getattr(command, name)
        for name in SETTING_NAMES
        if getattr(command, name) is not UNSET
    }
    if "reminder_minutes" in given:
        given["reminder_minutes"] = normal_offsets(given["reminder_minutes"])
    if "host_role_ids" in given:
        given["host_role_ids"] = tuple(given["host_role_ids"] or ()) or None
    for name in ("rules", "category", "time_zone"):
        if name in given:
            given[name] = blank_to_none(given[name])
    new = msgspec.structs.replace(old, **given)
    problems = Problems()
    check_settings(problems, new)
    problems.raise_if_any()
    changed = tuple(n for n in SETTING_NAMES if getattr(new, n) != getattr(old, n))
    return new, changed
