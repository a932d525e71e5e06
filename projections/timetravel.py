"""Time travel: a game as it was at a stream sequence or at a time, folded from its own events.

The game's events are read from its subject in the log and folded with the domain's own
:func:`domain.game.evolve` (as the read models do), stopping at the point asked for, so what is
shown cannot disagree with the rules. "At a time" means the events that had happened by then
(their ``occurred_at``, the domain's clock) — the same order as the log, since a game's events
are appended in the order they happen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from domain.codec import EventMapper
from domain.events import GameEvent
from domain.game import GameState, evolve
from gateways.jetstream.layout import Layout
from gateways.jetstream.wire import Record, Wire


@dataclass(frozen=True)
class Step:
    """One event of a game's history: where it is in the log and what it says (upcast)."""

    seq: int
    version: int
    topic: str
    event: GameEvent


class BadPoint(ValueError):
    """``--at`` is neither a stream sequence nor a time."""


def parse_point(text: str) -> int | datetime:
    """A stream sequence (whole number ≥ 1) or an ISO 8601 time (UTC when no zone is given)."""
    if text.isascii() and text.isdigit() and int(text) >= 1:  # "¹".isdigit(), but int("¹") fails
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadPoint(
            f"--at {text!r} is neither a stream sequence (a whole number from 1, as the audit's "
            "seq column shows) nor an ISO 8601 time (such as 2026-11-30T18:00:00Z)."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def steps_until(steps: Iterable[Step], at: int | datetime | None) -> list[Step]:
    """The prefix of a history up to and including ``at`` (a sequence or a time; None: all)."""
    chosen = []
    for step in steps:
        if isinstance(at, int) and step.seq > at:
            break
        if isinstance(at, datetime) and step.event.occurred_at > at:
            break
        chosen.append(step)
    return chosen


def fold(steps: Iterable[Step], aggregate_id: str) -> GameState | None:
    """The game state after these events (None before its creation), as the domain has it."""
    state: GameState | None = None
    game_id = aggregate_id.removeprefix("game.")
    for step in steps:
        state = evolve(state, step.event, game_id)
    return state


def describe(state: GameState) -> list[str]:
    """A game's state in a few lines (for ``muster audit --at``)."""
    placeholders = ", ".join(state.placeholders.values()) or "-"
    return [
        f"title:        {state.details.title}",
        f"status:       {state.status}",
        f"starts:       {state.scheduled_at.isoformat()}",
        f"joined:       {', '.join(state.joined) or '-'}",
        f"waitlist:     {', '.join(state.waitlist) or '-'}",
        f"placeholders: {placeholders}",
    ]


def game_at(steps: list[Step], aggregate_id: str, at: int | datetime | None) -> GameState | None:
    """The game as it was at ``at``: its events up to then, folded."""
    return fold(steps_until(steps, at), aggregate_id)


async def game_history(nc: NATS, layout: Layout, aggregate_id: str, timeout: float) -> list[Step]:
    """Every event of one game (``game.<uuid>``), in order, decoded and upcast."""
    return steps_of(await Wire(nc, layout, timeout).read(layout.subject_for(aggregate_id), 1))


def steps_of(records: Iterable[Record]) -> list[Step]:
    """Stored records of one game as :class:`Step` s (decoded and upcast)."""
    mapper = EventMapper()
    steps = []
    for record in records:
        event = mapper.decode(record.event.topic, record.event.state)
        if not isinstance(event, GameEvent):
            raise TypeError(f"{record.event.topic} at {record.seq} is not a game event")
        steps.append(Step(record.seq, record.event.originator_version, record.event.topic, event))
    return steps
