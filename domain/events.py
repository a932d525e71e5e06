"""Every fact Muster records: the events of games, guild settings and channel settings.

Each event is a frozen msgspec Struct whose tag is its stored, versioned type name
(``game.player_joined.v1``). The tag is the event's topic in the log and its ``type``
field in the JSON body, so renaming a class never breaks the stored log. Add fields only
with defaults; a breaking change is a new ``.v2`` class plus an upcaster in
:mod:`domain.codec`.

Discord ids (snowflakes) are decimal strings, as in Discord's own JSON: they exceed the
53-bit integers that JavaScript consumers can read exactly.
"""

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Snowflake = Annotated[
    str,
    msgspec.Meta(pattern=r"^[0-9]{1,20}$", description="Discord id as a decimal string"),
]
UtcDatetime = Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601, UTC")]
Status = Literal["scheduled", "in_progress", "completed", "cancelled"]
ReminderStatus = Literal["sent", "skipped", "failed"]
DirectMessageStatus = Literal["sent", "refused", "failed", "skipped"]
"""``refused``: the member does not accept DMs from the bot (Discord error 50007);
``skipped``: not sent because it was no longer news (its event was too old when first seen)."""
WaitlistCap = int | Literal["unlimited"]
"""How many players may wait for a seat: a number (0 = no waitlist) or ``"unlimited"``."""
MoveReason = Literal["cap_lowered"]
"""Why a seated player went back to the waitlist."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Settings a guild or channel configures; ``None`` means inherit (or built-in default)."""

    max_players: int | None = None
    reminder_minutes: tuple[int, ...] | None = None
    rules: str | None = None
    waitlist_cap: WaitlistCap | None = None
    host_role_ids: tuple[Snowflake, ...] | None = None
    category: str | None = None
    time_zone: str | None = None
    """IANA name (e.g. ``Europe/Berlin``) in which typed times are read; inherits channel >
    guild > ``UTC``."""
    duration_minutes: int | None = None


class GameDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What a host wrote about a game; ``None`` settings inherit from channel and guild."""

    title: str
    description: str = ""
    category: str | None = None
    duration_minutes: int | None = None
    max_players: int | None = None
    reminder_minutes: tuple[int, ...] | None = None
    rules: str | None = None
    waitlist_cap: WaitlistCap | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every event carries: the command that caused it, who issued it, and when."""

    command_id: str
    actor_id: Snowflake
    occurred_at: UtcDatetime


class GameEvent(Event, frozen=True, kw_only=True):
    """An event of one game (stored on ``events.game.<uuid>``)."""


class GameCreated(GameEvent, frozen=True, kw_only=True, tag="game.created.v1"):
    """A host scheduled a game in a channel."""

    guild_id: Snowflake
    channel_id: Snowflake
    host_id: Snowflake
    scheduled_at: UtcDatetime
    details: GameDetails


class GameUpdated(GameEvent, frozen=True, kw_only=True, tag="game.updated.v1"):
    """The host changed a game's details; ``details`` is the complete new version."""

    details: GameDetails
    changed: tuple[str, ...]


class GameRescheduled(GameEvent, frozen=True, kw_only=True, tag="game.rescheduled.v1"):
    """The game moved to a new start time; reminders start over for the new time."""

    scheduled_at: UtcDatetime
    previous_scheduled_at: UtcDatetime


class GameCancelled(GameEvent, frozen=True, kw_only=True, tag="game.cancelled.v1"):
    """The game will not happen (or was stopped while in progress)."""

    reason: str = ""
    previous_status: Status


StartedBy = Literal["schedule", "host"]
"""Who started a game: Muster at its start time, or a person by hand."""


class GameStarted(GameEvent, frozen=True, kw_only=True, tag="game.started.v2"):
    """The game is in progress; nobody can join or leave any more. ``started_by`` says whether
    Muster started it at its time (``schedule``) or a person did (``host``).

    v2 added ``started_by``; a v1 event is upcast by its actor (Muster's id ``0``: schedule).
    """

    started_by: StartedBy


class GameCompleted(GameEvent, frozen=True, kw_only=True, tag="game.completed.v1"):
    """The game is over."""


class PlayerJoined(GameEvent, frozen=True, kw_only=True, tag="game.player_joined.v1"):
    """A player took a seat; ``joined_count`` of ``max_players`` (the cap then in force)."""

    user_id: Snowflake
    joined_count: int
    max_players: int


class PlayerWaitlisted(GameEvent, frozen=True, kw_only=True, tag="game.player_waitlisted.v1"):
    """The game was full, so the player queued at ``position`` (1 = next in line)."""

    user_id: Snowflake
    position: int


class PlayerLeft(GameEvent, frozen=True, kw_only=True, tag="game.player_left.v1"):
    """A player left the game, or the waitlist when ``from_waitlist`` is true."""

    user_id: Snowflake
    from_waitlist: bool


class PlayerPromoted(GameEvent, frozen=True, kw_only=True, tag="game.player_promoted.v1"):
    """The head of the waitlist got a seat; they should be told by DM."""

    user_id: Snowflake
    joined_count: int
    max_players: int


class PlayerMovedToWaitlist(
    GameEvent, frozen=True, kw_only=True, tag="game.player_moved_to_waitlist.v1"
):
    """A seated player lost their seat because the cap fell below the joined players; they
    wait at ``position`` (1 = next in line), ahead of those already waiting, and should be
    told by DM. ``max_players`` is the new cap; ``reason`` says what changed."""

    user_id: Snowflake
    position: int
    max_players: int
    reason: MoveReason = "cap_lowered"


class PlaceholderAdded(GameEvent, frozen=True, kw_only=True, tag="game.placeholder_added.v1"):
    """The host listed someone by name only; placeholders do not take seats."""

    placeholder_id: int
    label: str


class PlaceholderRemoved(GameEvent, frozen=True, kw_only=True, tag="game.placeholder_removed.v1"):
    """The host took a placeholder off the list."""

    placeholder_id: int
    label: str


class PlaceholderClaimed(GameEvent, frozen=True, kw_only=True, tag="game.placeholder_claimed.v1"):
    """A Discord user said they are this placeholder; it is replaced by their own entry."""

    placeholder_id: int
    label: str
    user_id: Snowflake


class AnnouncementRecorded(
    GameEvent, frozen=True, kw_only=True, tag="game.announcement_recorded.v1"
):
    """The Discord message that announces the game."""

    channel_id: Snowflake
    message_id: Snowflake


class DirectMessageRecorded(
    GameEvent, frozen=True, kw_only=True, tag="game.direct_message_recorded.v1"
):
    """What became of one direct message Muster owed a member because of an event: once per
    event (``source_position``, its log position) and recipient."""

    user_id: Snowflake
    kind: str
    source_position: int
    status: DirectMessageStatus
    detail: str = ""
    message_id: Snowflake | None = None


class ReminderRecorded(GameEvent, frozen=True, kw_only=True, tag="game.reminder_recorded.v1"):
    """What became of one reminder: once per game start time, offset and user."""

    user_id: Snowflake
    offset_minutes: int
    scheduled_at: UtcDatetime
    status: ReminderStatus
    detail: str = ""


class ReminderIntentRecorded(
    GameEvent, frozen=True, kw_only=True, tag="game.reminder_intent_recorded.v1"
):
    """Muster is about to send one reminder (recorded before the DM goes out, so a process
    that restarts knows a DM may already have been sent and checks before sending again)."""

    user_id: Snowflake
    offset_minutes: int
    scheduled_at: UtcDatetime


class RemindersMuted(GameEvent, frozen=True, kw_only=True, tag="game.reminders_muted.v1"):
    """A player asked for no more reminders about this game."""

    user_id: Snowflake


class RemindersUnmuted(GameEvent, frozen=True, kw_only=True, tag="game.reminders_unmuted.v1"):
    """A player wants this game's reminders again."""

    user_id: Snowflake


class AttendanceRecorded(GameEvent, frozen=True, kw_only=True, tag="game.attendance_recorded.v1"):
    """After the game, its host said who came: the seated players are ``present`` or
    ``no_shows``. Recorded again, the latest record replaces the earlier one."""

    present: tuple[Snowflake, ...]
    no_shows: tuple[Snowflake, ...]


class GuildConfigured(Event, frozen=True, kw_only=True, tag="guild.configured.v1"):
    """A server manager changed the guild's defaults; ``settings`` is complete."""

    guild_id: Snowflake
    settings: Settings
    changed: tuple[str, ...]


class ChannelConfigured(Event, frozen=True, kw_only=True, tag="channel.configured.v1"):
    """A channel manager changed the channel's settings; ``settings`` is complete."""

    guild_id: Snowflake
    channel_id: Snowflake
    settings: Settings
    changed: tuple[str, ...]


class GuildRemindersMuted(Event, frozen=True, kw_only=True, tag="guild.reminders_muted.v1"):
    """A member asked for no reminders about any game in this guild."""

    guild_id: Snowflake
    user_id: Snowflake


class GuildRemindersUnmuted(Event, frozen=True, kw_only=True, tag="guild.reminders_unmuted.v1"):
    """A member wants reminders about this guild's games again."""

    guild_id: Snowflake
    user_id: Snowflake


GuildEvent = GuildConfigured | GuildRemindersMuted | GuildRemindersUnmuted
"""Everything stored on a guild's subject: its settings and its members' reminder mutes."""

GAME_EVENTS: tuple[type[GameEvent], ...] = (
    GameCreated,
    GameUpdated,
    GameRescheduled,
    GameCancelled,
    GameStarted,
    GameCompleted,
    PlayerJoined,
    PlayerWaitlisted,
    PlayerLeft,
    PlayerPromoted,
    PlaceholderAdded,
    PlaceholderRemoved,
    PlaceholderClaimed,
    AnnouncementRecorded,
    ReminderRecorded,
    PlayerMovedToWaitlist,
    DirectMessageRecorded,
    ReminderIntentRecorded,
    RemindersMuted,
    RemindersUnmuted,
    AttendanceRecorded,
)
ALL_EVENTS: tuple[type[Event], ...] = (
    *GAME_EVENTS,
    GuildConfigured,
    ChannelConfigured,
    GuildRemindersMuted,
    GuildRemindersUnmuted,
)
"""Every event type that may be in the log, current versions only."""


def type_name(event_type: type[Event]) -> str:
    """The stored, versioned name of an event type, e.g. ``game.created.v1``."""
    tag = event_type.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{event_type.__name__} has no versioned tag")
    return tag
