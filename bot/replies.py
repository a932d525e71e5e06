"""What the bot says: an Outcome or a domain error in plain words, one ephemeral line.

Domain errors carry their own wording (``domain/errors.py``); here they are only shortened for
the two buttons everyone clicks (Join, Leave), where a person wants "You already left", not a
paragraph. Everything else is the domain's message as it is.
"""

from __future__ import annotations

from typing import Literal

from domain.errors import (
    AlreadyJoined,
    DomainError,
    GameNotOpen,
    InvalidCommand,
    NotJoined,
)
from domain.outcome import Outcome

Action = Literal["join", "leave", "other"]

BUSY = (
    "Muster is busy and could not confirm what happened in time. "
    "Please try again in a moment; trying again is safe (nothing is done twice)."
)
SOMETHING_WENT_WRONG = (
    "Something went wrong on our side, so I could not confirm what happened. "
    "Please try again in a moment; trying again is safe."
)
SLOW_DOWN = "Easy there: you clicked a lot in a short time. Wait a few seconds, then try again."
SHUTTING_DOWN = "Muster is restarting right now; please try again in a few seconds."

_NOT_OPEN = {
    "in_progress": "the game has started",
    "completed": "the game is over",
    "cancelled": "the game was cancelled",
}


def echo(text: str, limit: int = 40) -> str:
    """What a person typed, quoted back in a refusal (a long paste is shortened: the answer
    must stay within Discord's 2,000 characters)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def for_outcome(outcome: Outcome) -> str:
    """A person's answer to what their command did."""
    match outcome.result:
        case "joined":
            return f"You're in — {outcome.joined_count}/{outcome.max_players}."
        case "waitlisted":
            return f"The game is full: you are #{outcome.waitlist_position} on the waitlist."
        case "left":
            return "You left the game." + _promoted(outcome)
        case "left_waitlist":
            return "You left the waitlist."
        case _:
            return outcome.message


def _promoted(outcome: Outcome) -> str:
    if not outcome.promoted:
        return ""
    return f" <@{outcome.promoted[0]}> moved up from the waitlist and takes your seat."


def for_error(error: DomainError, action: Action = "other") -> str:
    """A person's answer to a refused command."""
    if isinstance(error, AlreadyJoined) and action == "join":
        if error.waitlist_position is None:
            return "You're already in this game."
        return f"You're already on the waitlist, #{error.waitlist_position}."
    if isinstance(error, NotJoined) and action == "leave":
        return "You already left: you are not in this game or its waitlist."
    if isinstance(error, GameNotOpen) and action in ("join", "leave"):
        why = _NOT_OPEN.get(error.status, f"the game is {error.status.replace('_', ' ')}")
        return f"You can't {action}: {why}."
    if isinstance(error, InvalidCommand):
        lines = [f"• **{field.replace('_', ' ')}**: {reason}" for field, reason in error.problems]
        return "That did not work:\n" + "\n".join(lines)
    return error.message
