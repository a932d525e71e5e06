"""What people (and Muster's own scheduler) ask the domain to do.

Every command carries a ``command_id`` (Discord interaction id, API ``Idempotency-Key`` or
a deterministic scheduler id) and the acting ``user_id``. Commands that need authority
also carry what the entry point observed of the actor in that guild: ``role_ids`` and the
``permissions`` bit set. Fields left as ``UNSET`` in an update mean "keep as is"; ``None``
means "clear the override and inherit".

Muster's own processes (scheduler, Discord projection) act as :data:`SYSTEM_USER_ID`.
"""

from datetime import datetime

import msgspec
from msgspec import UNSET, UnsetType

from domain.events import DirectMessageStatus, ReminderStatus, Snowflake, WaitlistCap

SYSTEM_USER_ID = "0"
"""The actor id Muster's own processes use; no Discord user has id 0."""


class Command(msgspec.Struct, frozen=True, kw_only=True):
    command_id: str
    user_id: Snowflake


class AuthorizedCommand(Command, frozen=True, kw_only=True):
    """A command whose actor's Discord roles and permission bits matter."""

    role_ids: tuple[Snowflake, ...] = ()
    permissions: int = 0


class ConfigureGuild(AuthorizedCommand, frozen=True, kw_only=True):
    """Set guild-wide defaults (needs Manage Server)."""

    guild_id: Snowflake
    max_players: int | UnsetType | None = UNSET
    reminder_minutes: tuple[int, ...] | UnsetType | None = UNSET
    rules: str | UnsetType | None = UNSET
    waitlist_cap: WaitlistCap | UnsetType | None = UNSET
    host_role_ids: tuple[Snowflake, ...] | UnsetType | None = UNSET
    category: str | UnsetType | None = UNSET
    time_zone: str | UnsetType | None = UNSET
    duration_minutes: int | UnsetType | None = UNSET


class ConfigureChannel(AuthorizedCommand, frozen=True, kw_only=True):
    """Override guild defaults for one channel (needs Manage Channels)."""

    guild_id: Snowflake
    channel_id: Snowflake
    max_players: int | UnsetType | None = UNSET
    reminder_minutes: tuple[int, ...] | UnsetType | None = UNSET
    rules: str | UnsetType | None = UNSET
    waitlist_cap: WaitlistCap | UnsetType | None = UNSET
    host_role_ids: tuple[Snowflake, ...] | UnsetType | None = UNSET
    category: str | UnsetType | None = UNSET
    time_zone: str | UnsetType | None = UNSET
    duration_minutes: int | UnsetType | None = UNSET


class CreateGame(AuthorizedCommand, frozen=True, kw_only=True):
    """Schedule a game. ``players`` are user ids already resolved from @mentions;
    ``placeholders`` are names typed by the host. Without ``game_id`` the id is derived
    from ``command_id``, so a retried creation finds the game it already made."""

    guild_id: Snowflake
    channel_id: Snowflake
    title: str
    scheduled_at: datetime
    description: str = ""
    category: str | None = None
    duration_minutes: int | None = None
    max_players: int | None = None
    reminder_minutes: tuple[int, ...] | None = None
    rules: str | None = None
    waitlist_cap: WaitlistCap | None = None
    players: tuple[Snowflake, ...] = ()
    placeholders: tuple[str, ...] = ()
    game_id: str | None = None


class UpdateGame(AuthorizedCommand, frozen=True, kw_only=True):
    """Change a game's details (host or server manager)."""

    game_id: str
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    category: str | UnsetType | None = UNSET
    duration_minutes: int | UnsetType | None = UNSET
    max_players: int | UnsetType | None = UNSET
    reminder_minutes: tuple[int, ...] | UnsetType | None = UNSET
    rules: str | UnsetType | None = UNSET
    waitlist_cap: WaitlistCap | UnsetType | None = UNSET


class RescheduleGame(AuthorizedCommand, frozen=True, kw_only=True):
    game_id: str
    scheduled_at: datetime


class CancelGame(AuthorizedCommand, frozen=True, kw_only=True):
    game_id: str
    reason: str = ""


class StartGame(AuthorizedCommand, frozen=True, kw_only=True):
    game_id: str


class CompleteGame(AuthorizedCommand, frozen=True, kw_only=True):
    game_id: str


class AddPlaceholder(AuthorizedCommand, frozen=True, kw_only=True):
    game_id: str
    label: str


class RemovePlaceholder(AuthorizedCommand, frozen=True, kw_only=True):
    game_id: str
    placeholder_id: int


class JoinGame(Command, frozen=True, kw_only=True):
    """Take a seat, or a place on the waitlist when the game is full."""

    game_id: str


class LeaveGame(Command, frozen=True, kw_only=True):
    """Give up a seat (the head of the waitlist moves up) or a place on the waitlist."""

    game_id: str


class RemovePlayer(AuthorizedCommand, frozen=True, kw_only=True):
    """The host (or a server manager) takes a player off the game or its waitlist; the
    freed seat goes to the head of the waitlist, and the player is told by DM."""

    game_id: str
    player_id: Snowflake


class ClaimPlaceholder(Command, frozen=True, kw_only=True):
    """Replace a placeholder by yourself; you then join like any player."""

    game_id: str
    placeholder_id: int


class RecordAnnouncement(Command, frozen=True, kw_only=True):
    """Remember the Discord message that announces the game (Muster only)."""

    game_id: str
    channel_id: Snowflake
    message_id: Snowflake


class RecordReminder(Command, frozen=True, kw_only=True):
    """Record what became of one reminder (Muster's scheduler only). ``scheduled_at`` is
    the start time the reminder was for, so a reminder computed before a reschedule is
    refused."""

    game_id: str
    recipient_id: Snowflake
    offset_minutes: int
    scheduled_at: datetime
    status: ReminderStatus
    detail: str = ""


class ReconcileSeats(Command, frozen=True, kw_only=True):
    """Bring a scheduled game's seats in line with its cap in force (Muster only).

    Sent by the reaction to ``channel.configured`` / ``guild.configured`` events to each game
    that inherits the changed cap: waiting players are promoted into free seats, or the latest
    seated players over the cap move to the head of the waitlist. The decision reads the
    channel's and guild's settings at least at ``channel_version`` / ``guild_version`` (the
    configuration that caused it), never an older cached copy.
    """

    game_id: str
    channel_version: int = 0
    guild_version: int = 0


class RecordDirectMessage(Command, frozen=True, kw_only=True):
    """Record what became of a DM Muster owed a member because of the event at
    ``source_position`` (Muster's Discord projection only); recorded once per event and
    recipient."""

    game_id: str
    recipient_id: Snowflake
    kind: str
    source_position: int
    status: DirectMessageStatus
    detail: str = ""
    message_id: Snowflake | None = None


class RecordAttendance(AuthorizedCommand, frozen=True, kw_only=True):
    """The host (or a manager) says, after the game, which seated players did not come; every
    other seated player is recorded as present."""

    game_id: str
    no_shows: tuple[Snowflake, ...] = ()


class RecordReminderIntent(Command, frozen=True, kw_only=True):
    """Say that one reminder is about to be sent (Muster's scheduler only), before the DM."""

    game_id: str
    recipient_id: Snowflake
    offset_minutes: int
    scheduled_at: datetime


class MuteReminders(Command, frozen=True, kw_only=True):
    """The acting user wants no more reminders about this game."""

    game_id: str


class UnmuteReminders(Command, frozen=True, kw_only=True):
    game_id: str


class MuteGuildReminders(Command, frozen=True, kw_only=True):
    """The acting user wants no reminders about any game in this guild."""

    guild_id: Snowflake


class UnmuteGuildReminders(Command, frozen=True, kw_only=True):
    guild_id: Snowflake


GuildCommand = ConfigureGuild | MuteGuildReminders | UnmuteGuildReminders
ChannelCommand = ConfigureChannel
GameCommand = (
    CreateGame
    | UpdateGame
    | RescheduleGame
    | CancelGame
    | StartGame
    | CompleteGame
    | AddPlaceholder
    | RemovePlaceholder
    | JoinGame
    | LeaveGame
    | RemovePlayer
    | ClaimPlaceholder
    | RecordAnnouncement
    | RecordReminder
    | ReconcileSeats
    | RecordDirectMessage
    | RecordReminderIntent
    | MuteReminders
    | UnmuteReminders
    | RecordAttendance
)
AnyCommand = GuildCommand | ChannelCommand | GameCommand
