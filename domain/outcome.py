"""What a handled command did, in words a person can be told and fields a program uses.

An Outcome is derived only from the events the command appended (plus where they were
stored), so a repeated command can be answered with the very same Outcome later.
"""

from collections.abc import Sequence
from typing import Literal

import msgspec

from domain.events import (
    AnnouncementRecorded,
    AttendanceRecorded,
    ChannelConfigured,
    DirectMessageRecorded,
    Event,
    GameCancelled,
    GameCompleted,
    GameCreated,
    GameRescheduled,
    GameStarted,
    GameUpdated,
    GuildConfigured,
    GuildRemindersMuted,
    GuildRemindersUnmuted,
    PlaceholderAdded,
    PlaceholderClaimed,
    PlaceholderRemoved,
    PlayerJoined,
    PlayerLeft,
    PlayerMovedToWaitlist,
    PlayerPromoted,
    PlayerWaitlisted,
    ReminderIntentRecorded,
    ReminderRecorded,
    RemindersMuted,
    RemindersUnmuted,
    type_name,
)

Result = Literal[
    "game_created",
    "game_updated",
    "game_rescheduled",
    "game_cancelled",
    "game_started",
    "game_completed",
    "joined",
    "waitlisted",
    "left",
    "left_waitlist",
    "placeholder_added",
    "placeholder_removed",
    "announcement_recorded",
    "reminder_recorded",
    "direct_message_recorded",
    "reminder_intent_recorded",
    "reminders_muted",
    "reminders_unmuted",
    "guild_configured",
    "channel_configured",
    "seats_reconciled",
    "attendance_recorded",
    "unchanged",
]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What happened. ``promoted`` lists users who moved up from the waitlist and
    ``moved_to_waitlist`` users who lost their seat to a lower cap, in order (tell both by
    DM; each :class:`~domain.events.PlayerMovedToWaitlist` event has the position);
    ``notification_ids`` are the log positions appended (empty when nothing new
    was stored), so callers can wait for projections to reach them; ``version`` is the
    aggregate's version after the command; ``replayed`` marks a repeated command."""

    result: Result
    message: str
    aggregate_id: str
    command_id: str
    version: int
    game_id: str | None = None
    user_id: str | None = None
    joined_count: int | None = None
    max_players: int | None = None
    waitlist_position: int | None = None
    placeholder_id: int | None = None
    promoted: tuple[str, ...] = ()
    moved_to_waitlist: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    notification_ids: tuple[int, ...] = ()
    replayed: bool = False


def describe(
    aggregate_id: str,
    command_id: str,
    events: Sequence[Event],
    version: int,
    notification_ids: Sequence[int] = (),
    *,
    replayed: bool = False,
) -> Outcome:
    """The Outcome of a command that appended ``events`` (none: nothing changed)."""
    promoted = tuple(e.user_id for e in events if isinstance(e, PlayerPromoted))
    moved = tuple(e.user_id for e in events if isinstance(e, PlayerMovedToWaitlist))
    main = [e for e in events if not isinstance(e, PlayerPromoted | PlayerMovedToWaitlist)]
    base = Outcome(
        result="unchanged",
        message="Nothing needed to change.",
        aggregate_id=aggregate_id,
        command_id=command_id,
        version=version,
        game_id=aggregate_id.removeprefix("game.") if aggregate_id.startswith("game.") else None,
        promoted=promoted,
        moved_to_waitlist=moved,
        event_types=tuple(type_name(type(e)) for e in events),
        notification_ids=tuple(notification_ids),
        replayed=replayed,
    )
    if main:
        outcome = _main(base, main)
    elif events:  # seats alone changed (ReconcileSeats)
        outcome = msgspec.structs.replace(
            base, result="seats_reconciled", message="Seats follow the cap in force."
        )
    else:
        outcome = base
    for users, what in ((promoted, "moved up from"), (moved, "moved to")):
        if users:
            count = "1 player" if len(users) == 1 else f"{len(users)} players"
            outcome = msgspec.structs.replace(
                outcome, message=f"{outcome.message} {count} {what} the waitlist."
            )
    return outcome


def _main(base: Outcome, events: list[Event]) -> Outcome:  # noqa: PLR0911, PLR0912 one case per event
    first = events[0]
    seat = next((e for e in events if isinstance(e, PlayerJoined | PlayerWaitlisted)), None)
    match first:
        case GameCreated(scheduled_at=when):
            seated = sum(isinstance(e, PlayerJoined) for e in events)
            waiting = sum(isinstance(e, PlayerWaitlisted) for e in events)
            listed = sum(isinstance(e, PlaceholderAdded) for e in events)
            return msgspec.structs.replace(
                base,
                result="game_created",
                message=f"Game created for {when:%Y-%m-%d %H:%M} UTC with {seated} joined, "
                f"{waiting} waiting and {listed} placeholders.",
            )
        case PlayerJoined() | PlayerWaitlisted():
            return _seated(base, first, "")
        case PlaceholderClaimed(label=label, placeholder_id=pid) if seat is not None:
            claimed = msgspec.structs.replace(base, placeholder_id=pid)
            return _seated(claimed, seat, f"You took {label}'s place: ")
        case PlayerLeft(user_id=user, from_waitlist=from_waitlist, actor_id=actor):
            where = "the waitlist" if from_waitlist else "the game"
            return msgspec.structs.replace(
                base,
                result="left_waitlist" if from_waitlist else "left",
                user_id=user,
                message=f"You left {where}."
                if actor == user
                else f"Removed <@{user}> from {where}.",
            )
        case PlaceholderAdded(placeholder_id=pid, label=label):
            return msgspec.structs.replace(
                base, result="placeholder_added", placeholder_id=pid, message=f"Listed {label}."
            )
        case PlaceholderRemoved(placeholder_id=pid, label=label):
            return msgspec.structs.replace(
                base, result="placeholder_removed", placeholder_id=pid, message=f"Removed {label}."
            )
        case GameUpdated(changed=changed):
            return msgspec.structs.replace(
                base,
                result="game_updated",
                message=f"Game updated: {', '.join(c.replace('_', ' ') for c in changed)}.",
            )
        case GameRescheduled(scheduled_at=when):
            return msgspec.structs.replace(
                base,
                result="game_rescheduled",
                message=f"Game moved to {when:%Y-%m-%d %H:%M} UTC.",
            )
        case GameCancelled():
            return msgspec.structs.replace(base, result="game_cancelled", message="Game cancelled.")
        case GameStarted():
            return msgspec.structs.replace(base, result="game_started", message="Game started.")
        case GameCompleted():
            return msgspec.structs.replace(base, result="game_completed", message="Game completed.")
        case AnnouncementRecorded():
            return msgspec.structs.replace(
                base, result="announcement_recorded", message="Announcement recorded."
            )
        case ReminderRecorded(status=status, offset_minutes=offset, user_id=user):
            return msgspec.structs.replace(
                base,
                result="reminder_recorded",
                user_id=user,
                message=f"{offset}-minute reminder recorded as {status}.",
            )
        case DirectMessageRecorded(status=status, kind=kind, user_id=user):
            return msgspec.structs.replace(
                base,
                result="direct_message_recorded",
                user_id=user,
                message=f"{kind} DM recorded as {status}.",
            )
        case ReminderIntentRecorded(offset_minutes=offset, user_id=user):
            return msgspec.structs.replace(
                base,
                result="reminder_intent_recorded",
                user_id=user,
                message=f"{offset}-minute reminder about to be sent.",
            )
        case RemindersMuted() | GuildRemindersMuted():
            where = "this game" if isinstance(first, RemindersMuted) else "any game in this server"
            return msgspec.structs.replace(
                base,
                result="reminders_muted",
                user_id=first.user_id,
                message=f"You will get no more reminders about {where}.",
            )
        case RemindersUnmuted() | GuildRemindersUnmuted():
            where = "this game" if isinstance(first, RemindersUnmuted) else "games in this server"
            return msgspec.structs.replace(
                base,
                result="reminders_unmuted",
                user_id=first.user_id,
                message=f"You will get reminders about {where} again.",
            )
        case AttendanceRecorded(present=present, no_shows=no_shows):
            return msgspec.structs.replace(
                base,
                result="attendance_recorded",
                message=f"Attendance recorded: {len(present)} came, {len(no_shows)} did not.",
            )
        case GuildConfigured(changed=changed) | ChannelConfigured(changed=changed):
            where = "Server" if isinstance(first, GuildConfigured) else "Channel"
            return msgspec.structs.replace(
                base,
                result="guild_configured" if where == "Server" else "channel_configured",
                message=f"{where} settings updated: "
                f"{', '.join(c.replace('_', ' ') for c in changed)}.",
            )
    raise TypeError(f"no description for {type(first).__name__}")


def _seated(base: Outcome, seat: PlayerJoined | PlayerWaitlisted, prefix: str) -> Outcome:
    if isinstance(seat, PlayerJoined):
        return msgspec.structs.replace(
            base,
            result="joined",
            user_id=seat.user_id,
            joined_count=seat.joined_count,
            max_players=seat.max_players,
            message=f"{prefix}You joined the game ({seat.joined_count}/{seat.max_players}).",
        )
    return msgspec.structs.replace(
        base,
        result="waitlisted",
        user_id=seat.user_id,
        waitlist_position=seat.position,
        message=f"{prefix}The game is full, so you are #{seat.position} on the waitlist.",
    )
