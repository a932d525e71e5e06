"""A game's state, and how each of its events changes it.

The state is rebuilt by folding the game's events in order (:func:`evolve`). Decisions
about games live in :mod:`domain.lifecycle` (create, update, reschedule, cancel, start,
complete, announcements, reminders) and :mod:`domain.membership` (join, leave, waitlist,
placeholders).
"""

from datetime import datetime
from typing import TypedDict

import msgspec

from domain.commands import SYSTEM_USER_ID, AuthorizedCommand, Command
from domain.errors import GameNotOpen, NotHost
from domain.events import (
    AnnouncementRecorded,
    AttendanceRecorded,
    DirectMessageRecorded,
    DirectMessageStatus,
    GameCancelled,
    GameCompleted,
    GameCreated,
    GameDetails,
    GameEvent,
    GameRescheduled,
    GameStarted,
    GameUpdated,
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
    ReminderStatus,
    RemindersUnmuted,
    Settings,
    Status,
)
from domain.rules import Effective, is_guild_manager, resolve

STATUS_ORDER: dict[Status, int] = {
    "scheduled": 0,
    "in_progress": 1,
    "completed": 2,
    "cancelled": 2,
}
"""Status only ever moves to a higher rank."""


class Announcement(msgspec.Struct, frozen=True, kw_only=True):
    channel_id: str
    message_id: str


class GameState(msgspec.Struct, kw_only=True):
    """Everything the rules need to know about one game.

    ``joined`` keeps seat order and ``waitlist`` queue order: arrival order, except that
    players a lower cap moved back wait at its head (``players`` holds both, for quick
    lookups); ``placeholders`` maps id → label in the order they were added;
    ``reminders`` maps (offset, user) → status for the current start time;
    ``direct_messages`` maps (source position, user) → what became of the DM.
    ``reminders`` maps (offset, user) → status for the current start time; ``intents``
    holds the (offset, user) reminders Muster set out to send for it; ``muted`` the users
    who want no reminders about this game.
    """

    game_id: str
    guild_id: str
    channel_id: str
    host_id: str
    scheduled_at: datetime
    details: GameDetails
    status: Status = "scheduled"
    joined: list[str] = []
    waitlist: list[str] = []
    players: set[str] = set()
    placeholders: dict[int, str] = {}
    next_placeholder_id: int = 1
    announcement: Announcement | None = None
    reminders: dict[tuple[int, str], ReminderStatus] = {}
    direct_messages: dict[tuple[int, str], DirectMessageStatus] = {}
    intents: set[tuple[int, str]] = set()
    muted: set[str] = set()

    def waitlist_position(self, user_id: str) -> int | None:
        """1-based place in the waitlist, or None when not waiting."""
        try:
            return self.waitlist.index(user_id) + 1
        except ValueError:
            return None

    def has(self, user_id: str) -> bool:
        return user_id in self.players

    def require_open(self) -> None:
        """Joining and leaving need a scheduled game."""
        if self.status != "scheduled":
            raise GameNotOpen(self.game_id, self.status)


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What a game decision may know besides the game: the time, and the settings of the
    game's channel and guild (None when never configured)."""

    now: datetime
    channel: Settings | None = None
    guild: Settings | None = None
    channel_guild_id: str | None = None

    def effective(self, details: GameDetails) -> Effective:
        return resolve(details, self.channel, self.guild)


class Stamp(TypedDict):
    """The fields every event takes from the command that caused it."""

    command_id: str
    actor_id: str
    occurred_at: datetime


def stamp(command: Command, now: datetime) -> Stamp:
    return Stamp(command_id=command.command_id, actor_id=command.user_id, occurred_at=now)


def require_manager(state: GameState, command: AuthorizedCommand, action: str) -> None:
    """The host, a server manager or Muster itself may manage a game."""
    if command.user_id not in (state.host_id, SYSTEM_USER_ID) and not is_guild_manager(
        command.permissions
    ):
        raise NotHost(state.game_id, command.user_id, state.host_id, action)


def evolve(state: GameState | None, event: GameEvent, game_id: str) -> GameState:  # noqa: PLR0912, PLR0915 one case per event
    """Apply one event; the state is changed in place (and returned)."""
    if state is None:
        if not isinstance(event, GameCreated):
            raise TypeError(f"a game's first event must be GameCreated, not {event!r}")
        return GameState(
            game_id=game_id,
            guild_id=event.guild_id,
            channel_id=event.channel_id,
            host_id=event.host_id,
            scheduled_at=event.scheduled_at,
            details=event.details,
        )
    match event:
        case PlayerJoined(user_id=user):
            state.joined.append(user)
            state.players.add(user)
        case PlayerWaitlisted(user_id=user):
            state.waitlist.append(user)
            state.players.add(user)
        case PlayerLeft(user_id=user, from_waitlist=True):
            state.waitlist.remove(user)
            state.players.discard(user)
        case PlayerLeft(user_id=user):
            state.joined.remove(user)
            state.players.discard(user)
        case PlayerPromoted(user_id=user):
            state.waitlist.remove(user)
            state.joined.append(user)
        case PlayerMovedToWaitlist(user_id=user, position=position):
            state.joined.remove(user)
            state.waitlist.insert(position - 1, user)
        case PlaceholderAdded(placeholder_id=pid, label=label):
            state.placeholders[pid] = label
            state.next_placeholder_id = max(state.next_placeholder_id, pid + 1)
        case PlaceholderRemoved(placeholder_id=pid) | PlaceholderClaimed(placeholder_id=pid):
            del state.placeholders[pid]
        case GameUpdated(details=details):
            state.details = details
        case GameRescheduled(scheduled_at=when):
            state.scheduled_at = when
            state.reminders = {}
            state.intents = set()
        case GameStarted():
            state.status = "in_progress"
        case GameCompleted():
            state.status = "completed"
        case GameCancelled():
            state.status = "cancelled"
        case AnnouncementRecorded(channel_id=channel, message_id=message):
            state.announcement = Announcement(channel_id=channel, message_id=message)
        case ReminderRecorded(offset_minutes=offset, user_id=user, status=status):
            state.reminders[(offset, user)] = status
        case DirectMessageRecorded(source_position=source, user_id=user, status=status):
            state.direct_messages[(source, user)] = status
        case ReminderIntentRecorded(offset_minutes=offset, user_id=user):
            state.intents.add((offset, user))
        case RemindersMuted(user_id=user):
            state.muted.add(user)
        case RemindersUnmuted(user_id=user):
            state.muted.discard(user)
        case AttendanceRecorded():
            pass  # who came changes nothing the rules need (analytics keep it)
        case GameCreated():
            raise TypeError(f"game {game_id} was created twice")
        case _:
            raise TypeError(f"no rule applies {type(event).__name__} to a game")
    return state
