"""A game's life: create, update, reschedule, cancel, start, complete, and what Muster
records about it (its Discord announcement, each reminder).

Status only moves forward: scheduled → in progress → completed, or scheduled / in
progress → cancelled. Only the host, a server manager or Muster itself manages a game.
"""

from datetime import UTC

import msgspec
from msgspec import UNSET

from domain.commands import (
    SYSTEM_USER_ID,
    CancelGame,
    Command,
    CompleteGame,
    CreateGame,
    MuteReminders,
    RecordAnnouncement,
    RecordDirectMessage,
    RecordReminder,
    RecordReminderIntent,
    RescheduleGame,
    StartGame,
    UnmuteReminders,
    UpdateGame,
)
from domain.errors import InvalidCommand, InvalidStatusChange, NotAllowed, ReminderAlreadyRecorded
from domain.events import (
    AnnouncementRecorded,
    DirectMessageRecorded,
    GameCancelled,
    GameCompleted,
    GameCreated,
    GameDetails,
    GameEvent,
    GameRescheduled,
    GameStarted,
    GameUpdated,
    PlaceholderAdded,
    PlayerJoined,
    ReminderIntentRecorded,
    ReminderRecorded,
    RemindersMuted,
    RemindersUnmuted,
    StartedBy,
)
from domain.game import Context, GameState, require_manager, stamp
from domain.membership import place, rebalance
from domain.rules import (
    MAX_DETAIL,
    MAX_INITIAL_PLAYERS,
    MAX_LABEL,
    MAX_PLACEHOLDERS,
    MAX_REASON,
    MAX_REMINDER_MINUTES,
    MIN_REMINDER_MINUTES,
    Problems,
    blank_to_none,
    check_details,
    may_host,
    normal_offsets,
)

DETAIL_NAMES = tuple(GameDetails.__struct_fields__)


def create(game_id: str, command: CreateGame, ctx: Context) -> list[GameEvent]:
    """Schedule a game, seat the initial players in order and list the placeholders."""
    details = _normal(
        GameDetails(
            title=command.title.strip(),
            description=command.description,
            category=command.category,
            duration_minutes=command.duration_minutes,
            max_players=command.max_players,
            reminder_minutes=command.reminder_minutes,
            rules=command.rules,
            waitlist_cap=command.waitlist_cap,
        )
    )
    _check_create(command, details, ctx)
    eff = ctx.effective(details)
    if not may_host(command.role_ids, command.permissions, eff.host_role_ids):
        roles = ", ".join(f"<@&{r}>" for r in eff.host_role_ids)
        raise NotAllowed(
            "host games in this channel",
            f"one of the roles {roles} or Manage Server"
            if roles
            else "the Manage Server permission (no host roles are configured)",
        )
    s = stamp(command, ctx.now)
    events: list[GameEvent] = [
        GameCreated(
            **s,
            guild_id=command.guild_id,
            channel_id=command.channel_id,
            host_id=command.user_id,
            scheduled_at=command.scheduled_at.astimezone(UTC),
            details=details,
        )
    ]
    seated = waiting = 0
    for user in command.players:
        placed = place(game_id, user, joined_count=seated, waiting=waiting, eff=eff, s=s)
        events.append(placed)
        if isinstance(placed, PlayerJoined):
            seated += 1
        else:
            waiting += 1
    for number, label in enumerate(command.placeholders, start=1):
        events.append(PlaceholderAdded(**s, placeholder_id=number, label=label.strip()))
    return events


def update(state: GameState, command: UpdateGame, ctx: Context) -> list[GameEvent]:
    """Change details. On a scheduled game a higher cap promotes waiting players at once,
    and a lower one moves the latest seated players over it to the head of the waitlist."""
    require_manager(state, command, "edit this game")
    _require_status(state, ("scheduled", "in_progress"), "updated")
    given = {n: getattr(command, n) for n in DETAIL_NAMES if getattr(command, n) is not UNSET}
    details = _normal(msgspec.structs.replace(state.details, **given))
    problems = Problems()
    check_details(problems, details)
    problems.raise_if_any()
    changed = tuple(n for n in DETAIL_NAMES if getattr(details, n) != getattr(state.details, n))
    if not changed:
        return []
    s = stamp(command, ctx.now)
    events: list[GameEvent] = [GameUpdated(**s, details=details, changed=changed)]
    if state.status == "scheduled":
        cap = ctx.effective(details).max_players
        events += rebalance(state.joined, state.waitlist, cap, s)
    return events


def reschedule(state: GameState, command: RescheduleGame, ctx: Context) -> list[GameEvent]:
    require_manager(state, command, "reschedule this game")
    _require_status(state, ("scheduled",), "rescheduled")
    problems = Problems()
    problems.future("scheduled_at", command.scheduled_at, ctx.now)
    problems.raise_if_any()
    if command.scheduled_at == state.scheduled_at:
        return []
    return [
        GameRescheduled(
            **stamp(command, ctx.now),
            scheduled_at=command.scheduled_at.astimezone(UTC),
            previous_scheduled_at=state.scheduled_at,
        )
    ]


def cancel(state: GameState, command: CancelGame, ctx: Context) -> list[GameEvent]:
    require_manager(state, command, "cancel this game")
    _require_status(state, ("scheduled", "in_progress"), "cancelled")
    problems = Problems()
    problems.text("reason", command.reason, MAX_REASON)
    problems.raise_if_any()
    return [
        GameCancelled(
            **stamp(command, ctx.now), reason=command.reason.strip(), previous_status=state.status
        )
    ]


def start(state: GameState, command: StartGame, ctx: Context) -> list[GameEvent]:
    require_manager(state, command, "start this game")
    _require_status(state, ("scheduled",), "started")
    by: StartedBy = "schedule" if command.user_id == SYSTEM_USER_ID else "host"
    return [GameStarted(**stamp(command, ctx.now), started_by=by)]


def complete(state: GameState, command: CompleteGame, ctx: Context) -> list[GameEvent]:
    require_manager(state, command, "complete this game")
    _require_status(state, ("in_progress",), "completed")
    return [GameCompleted(**stamp(command, ctx.now))]


def record_announcement(
    state: GameState, command: RecordAnnouncement, ctx: Context
) -> list[GameEvent]:
    _require_system(command, "record announcements")
    problems = Problems()
    problems.snowflake("channel_id", command.channel_id)
    problems.snowflake("message_id", command.message_id)
    problems.raise_if_any()
    current = state.announcement
    if current and (current.channel_id, current.message_id) == (
        command.channel_id,
        command.message_id,
    ):
        return []
    return [
        AnnouncementRecorded(
            **stamp(command, ctx.now),
            channel_id=command.channel_id,
            message_id=command.message_id,
        )
    ]


def _unrecorded_reminder(
    state: GameState, command: RecordReminder | RecordReminderIntent, detail: str = ""
) -> tuple[int, str]:
    """Check a reminder command (Muster only, valid fields, the current start time, not
    recorded yet); its key (offset, recipient)."""
    _require_system(command, "record reminders")
    problems = Problems()
    problems.snowflake("recipient_id", command.recipient_id)
    problems.number(
        "offset_minutes", command.offset_minutes, MIN_REMINDER_MINUTES, MAX_REMINDER_MINUTES
    )
    problems.text("detail", detail, MAX_DETAIL)
    problems.utc("scheduled_at", command.scheduled_at)
    problems.raise_if_any()
    if command.scheduled_at != state.scheduled_at:
        raise InvalidCommand(
            "scheduled_at",
            f"the game was rescheduled to {state.scheduled_at:%Y-%m-%d %H:%M} UTC; "
            "this reminder was for the old time",
        )
    key = (command.offset_minutes, command.recipient_id)
    if key in state.reminders:
        raise ReminderAlreadyRecorded(state.game_id, *key, state.scheduled_at, state.reminders[key])
    return key


def record_reminder(state: GameState, command: RecordReminder, ctx: Context) -> list[GameEvent]:
    """Exactly one record per start time, offset and user."""
    _unrecorded_reminder(state, command, command.detail)
    return [
        ReminderRecorded(
            **stamp(command, ctx.now),
            user_id=command.recipient_id,
            offset_minutes=command.offset_minutes,
            scheduled_at=state.scheduled_at,
            status=command.status,
            detail=command.detail,
        )
    ]


def record_direct_message(
    state: GameState, command: RecordDirectMessage, ctx: Context
) -> list[GameEvent]:
    """One record per source event and recipient; a repeat changes nothing."""
    _require_system(command, "record direct messages")
    problems = Problems()
    problems.snowflake("recipient_id", command.recipient_id)
    problems.text("kind", command.kind, MAX_LABEL, required=True)
    problems.text("detail", command.detail, MAX_DETAIL)
    if command.message_id is not None:
        problems.snowflake("message_id", command.message_id)
    if command.source_position < 1:
        problems.add("source_position", "must be a log position (1 or more)")
    problems.raise_if_any()
    if (command.source_position, command.recipient_id) in state.direct_messages:
        return []
    return [
        DirectMessageRecorded(
            **stamp(command, ctx.now),
            user_id=command.recipient_id,
            kind=command.kind,
            source_position=command.source_position,
            status=command.status,
            detail=command.detail,
            message_id=command.message_id,
        )
    ]


def record_reminder_intent(
    state: GameState, command: RecordReminderIntent, ctx: Context
) -> list[GameEvent]:
    """Before a reminder DM goes out: once per start time, offset and user; refused once
    the reminder is recorded; nothing new when the intent is already there."""
    key = _unrecorded_reminder(state, command)
    if key in state.intents:
        return []
    _require_status(state, ("scheduled",), "reminded")
    if command.recipient_id not in state.joined:
        raise InvalidCommand("recipient_id", "is not a joined player of this game (any more)")
    if command.recipient_id in state.muted:
        raise InvalidCommand("recipient_id", "muted this game's reminders")
    return [
        ReminderIntentRecorded(
            **stamp(command, ctx.now),
            user_id=command.recipient_id,
            offset_minutes=command.offset_minutes,
            scheduled_at=state.scheduled_at,
        )
    ]


def mute(state: GameState, command: MuteReminders, ctx: Context) -> list[GameEvent]:
    """Anyone may mute this game's reminders for themselves (nothing new if already muted)."""
    if command.user_id in state.muted:
        return []
    return [RemindersMuted(**stamp(command, ctx.now), user_id=command.user_id)]


def unmute(state: GameState, command: UnmuteReminders, ctx: Context) -> list[GameEvent]:
    if command.user_id not in state.muted:
        return []
    return [RemindersUnmuted(**stamp(command, ctx.now), user_id=command.user_id)]


def _check_create(command: CreateGame, details: GameDetails, ctx: Context) -> None:
    problems = Problems()
    problems.snowflake("guild_id", command.guild_id)
    problems.snowflake("channel_id", command.channel_id)
    check_details(problems, details)
    problems.future("scheduled_at", command.scheduled_at, ctx.now)
    if ctx.channel_guild_id not in (None, command.guild_id):
        problems.add("channel_id", f"this channel belongs to guild {ctx.channel_guild_id}")
    if len(command.players) > MAX_INITIAL_PLAYERS:
        problems.add("players", f"at most {MAX_INITIAL_PLAYERS} players at creation")
    if len(set(command.players)) != len(command.players):
        problems.add("players", "each player may be listed only once")
    for user in command.players:
        problems.snowflake("players", user)
        if user == SYSTEM_USER_ID:
            problems.add("players", "Muster itself cannot play")
    if len(command.placeholders) > MAX_PLACEHOLDERS:
        problems.add("placeholders", f"at most {MAX_PLACEHOLDERS} placeholders")
    for label in command.placeholders:
        problems.text("placeholders", label, MAX_LABEL, required=True)
    problems.raise_if_any()


def _normal(details: GameDetails) -> GameDetails:
    """One spelling per meaning: sorted offsets as a tuple, blank overrides as None."""
    return msgspec.structs.replace(
        details,
        reminder_minutes=normal_offsets(details.reminder_minutes),
        rules=blank_to_none(details.rules),
        category=blank_to_none(details.category),
    )


def _require_status(state: GameState, allowed: tuple[str, ...], wanted: str) -> None:
    if state.status not in allowed:
        raise InvalidStatusChange(state.game_id, state.status, wanted)


def _require_system(command: Command, action: str) -> None:
    if command.user_id != SYSTEM_USER_ID:
        raise NotAllowed(action, "to be Muster itself (these are recorded by its own processes)")
