"""Why a command was refused, in words a person can act on.

Every rule the domain enforces fails with one of these. Each error has a stable ``code``
for machines, a message for people, and attributes that say what to change. Entry points
translate them (HTTP 4xx with a JSON body, an ephemeral Discord reply, a CLI message).
"""

from collections.abc import Sequence
from datetime import datetime


class DomainError(Exception):
    """A command broke a rule; nothing was stored."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCommand(DomainError):
    """One or more fields of a command are invalid; ``problems`` lists each (field, reason)."""

    code = "invalid_command"

    def __init__(self, field: str, reason: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        self.problems: tuple[tuple[str, str], ...] = ((field, reason), *more)
        self.field = field
        self.reason = reason
        self.more = self.problems[1:]
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.problems))


class GameNotFound(DomainError):
    code = "game_not_found"

    def __init__(self, game_id: str) -> None:
        self.game_id = game_id
        super().__init__(f"There is no game {game_id}; it may have been mistyped.")


class GameAlreadyExists(DomainError):
    code = "game_already_exists"

    def __init__(self, game_id: str) -> None:
        self.game_id = game_id
        super().__init__(f"A game with id {game_id} already exists; choose another id.")


class GameFull(DomainError):
    """Every seat is taken and the waitlist is at its cap too."""

    code = "game_full"

    def __init__(self, game_id: str, max_players: int, waitlist_cap: int) -> None:
        self.game_id = game_id
        self.max_players = max_players
        self.waitlist_cap = waitlist_cap
        waiting = "there is no waitlist" if waitlist_cap == 0 else "the waitlist is full"
        super().__init__(
            f"All {max_players} seats are taken and {waiting} ({waitlist_cap} waiting); "
            "try again when someone leaves."
        )


class AlreadyJoined(DomainError):
    code = "already_joined"

    def __init__(self, game_id: str, user_id: str, waitlist_position: int | None) -> None:
        self.game_id = game_id
        self.user_id = user_id
        self.waitlist_position = waitlist_position
        where = (
            "have a seat"
            if waitlist_position is None
            else f"are #{waitlist_position} on the waitlist"
        )
        super().__init__(f"You are already in this game: you {where}.")


class NotJoined(DomainError):
    code = "not_joined"

    def __init__(self, game_id: str, user_id: str) -> None:
        self.game_id = game_id
        self.user_id = user_id
        super().__init__("You are not in this game or its waitlist, so there is nothing to leave.")


class NotHost(DomainError):
    """Only the game's host, a server manager or Muster itself may do this."""

    code = "not_host"

    def __init__(self, game_id: str, user_id: str, host_id: str, action: str) -> None:
        self.game_id = game_id
        self.user_id = user_id
        self.host_id = host_id
        self.action = action
        super().__init__(
            f"Only the host (<@{host_id}>) or someone with Manage Server can {action}."
        )


class NotAllowed(DomainError):
    """The actor lacks a Discord permission or role that this action needs."""

    code = "not_allowed"

    def __init__(self, action: str, needs: str) -> None:
        self.action = action
        self.needs = needs
        super().__init__(f"To {action} you need {needs}.")


class GameNotOpen(DomainError):
    """Joining and leaving are only possible while a game is scheduled."""

    code = "game_not_open"

    def __init__(self, game_id: str, status: str) -> None:
        self.game_id = game_id
        self.status = status
        super().__init__(
            f"This game is {status.replace('_', ' ')}, so players can no longer join or leave."
        )


class InvalidStatusChange(DomainError):
    """Status only moves forward: scheduled → in progress → completed, or → cancelled."""

    code = "invalid_status_change"

    def __init__(self, game_id: str, status: str, wanted: str) -> None:
        self.game_id = game_id
        self.status = status
        self.wanted = wanted
        super().__init__(
            f"A game that is {status.replace('_', ' ')} cannot be {wanted.replace('_', ' ')}."
        )


class PlaceholderNotFound(DomainError):
    code = "placeholder_not_found"

    def __init__(self, game_id: str, placeholder_id: int) -> None:
        self.game_id = game_id
        self.placeholder_id = placeholder_id
        super().__init__(
            f"Placeholder {placeholder_id} is not on this game's list; it may already be "
            "claimed or removed."
        )


class ReminderAlreadyRecorded(DomainError):
    """Each reminder (start time, offset, user) is recorded exactly once."""

    code = "reminder_already_recorded"

    def __init__(
        self, game_id: str, offset_minutes: int, user_id: str, scheduled_at: datetime, status: str
    ) -> None:
        self.game_id = game_id
        self.offset_minutes = offset_minutes
        self.user_id = user_id
        self.scheduled_at = scheduled_at
        self.status = status
        super().__init__(
            f"The {offset_minutes}-minute reminder for <@{user_id}> was already recorded "
            f"as {status}; do not send it again."
        )


class ConcurrencyConflict(DomainError):
    """Other writers kept changing the same aggregate; the command may simply be retried."""

    code = "concurrency_conflict"

    def __init__(self, aggregate_id: str, attempts: int) -> None:
        self.aggregate_id = aggregate_id
        self.attempts = attempts
        super().__init__(
            f"{aggregate_id} changed under us {attempts} times in a row; "
            "nothing was stored, please try again."
        )
