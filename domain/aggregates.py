"""How games, guild settings and channel settings live on eventsourcing.

eventsourcing's Application, Repository and EventStore work with any object that has an
``id`` and a ``version`` (its aggregate protocol) and any event that has an
``originator_id``, ``originator_version`` and a ``mutate`` method (its event protocol).
So the domain's events stay plain msgspec Structs, and :class:`Recorded` carries one of
them together with its place in an aggregate's sequence. An :class:`Aggregate` is a
thin shell around a domain state (:class:`~domain.game.GameState`, ...) that also
remembers the events of recent commands, so a repeated command gets its first Outcome.

Aggregate ids are ``"<kind>.<key>"``: ``game.<uuid>``, ``guild.<snowflake>``,
``channel.<snowflake>``; the persistence module stores each on subject ``events.<id>``.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import msgspec
from eventsourcing.domain import OriginatorIDError, OriginatorVersionError

from domain.events import (
    ChannelConfigured,
    Event,
    GameEvent,
    GuildConfigured,
    GuildRemindersMuted,
    GuildRemindersUnmuted,
)
from domain.game import GameState
from domain.game import evolve as evolve_game
from domain.settings import ChannelState, GuildState, evolve_channel, evolve_guild

S = TypeVar("S")


class Recorded(msgspec.Struct, frozen=True):
    """A domain event at its place in an aggregate's sequence (eventsourcing's event)."""

    originator_id: str
    originator_version: int
    event: Event

    @property
    def timestamp(self) -> datetime:
        return self.event.occurred_at

    def mutate(self, aggregate: "Aggregate[Any] | None") -> "Aggregate[Any]":
        """Apply this event: start the aggregate (first event) or advance it."""
        if aggregate is None:
            return kind_of(self.originator_id).start(self)
        aggregate.apply(self)
        return aggregate


class CommandRecord(msgspec.Struct, gc=False):
    """Where one command's events are in the aggregate's sequence: versions ``first`` to
    ``version`` (the version after them). Only the versions are kept: a repeat, which is
    rare, reads its events back from the log, while keeping every command's events made
    each process's cached games hold their whole history (the soak's steady RSS growth in
    every process that handles commands)."""

    first: int
    version: int


class Aggregate(Generic[S]):
    """An aggregate's id, version and state, plus the last commands' records."""

    kind: ClassVar[str]
    REMEMBERED_COMMANDS: ClassVar[int] = 10_000
    """This many recent commands are remembered per aggregate (their ids and versions);
    an older repeat is decided again, which the rules make harmless (AlreadyJoined, …)."""

    def __init__(self, aggregate_id: str, version: int, state: S) -> None:
        self.id = aggregate_id
        self.version = version
        self.state = state
        self.recent: dict[str, CommandRecord] = {}

    @classmethod
    def start(cls, first: Recorded) -> "Aggregate[S]":
        if first.originator_version != 1:
            raise OriginatorVersionError(first.originator_version, 1)
        aggregate = cls(first.originator_id, 1, cls.evolve(None, first.event, first.originator_id))
        aggregate.remember(first)
        return aggregate

    @staticmethod
    def evolve(state: S | None, event: Event, aggregate_id: str) -> S:
        raise NotImplementedError

    def apply(self, recorded: Recorded) -> None:
        """Advance by one event, which must be the next in this aggregate's sequence."""
        if recorded.originator_id != self.id:
            raise OriginatorIDError(recorded.originator_id, self.id)
        if recorded.originator_version != self.version + 1:
            raise OriginatorVersionError(recorded.originator_version, self.version + 1)
        self.state = self.evolve(self.state, recorded.event, self.id)
        self.version = recorded.originator_version
        self.remember(recorded)

    def remember(self, recorded: Recorded) -> None:
        command_id = recorded.event.command_id
        record = self.recent.get(command_id)
        version = recorded.originator_version
        if record is None:
            self.recent[command_id] = CommandRecord(version, version)
            if len(self.recent) > self.REMEMBERED_COMMANDS:
                del self.recent[next(iter(self.recent))]
        else:
            record.version = version

    def stage(self, events: Sequence[Event]) -> list[Recorded]:
        """Number new events after this aggregate's version (without applying them)."""
        return stage(self.id, self.version, events)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Aggregate)
            and (self.id, self.version, self.state, self.recent)
            == (other.id, other.version, other.state, other.recent)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(id={self.id!r}, version={self.version}, state={self.state!r})"
        )


class Game(Aggregate[GameState]):
    kind = "game"

    @staticmethod
    def evolve(state: GameState | None, event: Event, aggregate_id: str) -> GameState:
        if not isinstance(event, GameEvent):
            raise TypeError(f"{type(event).__name__} is not a game event")
        return evolve_game(state, event, aggregate_id.removeprefix("game."))


class GuildSettings(Aggregate[GuildState]):
    kind = "guild"

    @staticmethod
    def evolve(state: GuildState | None, event: Event, aggregate_id: str) -> GuildState:
        if not isinstance(event, GuildConfigured | GuildRemindersMuted | GuildRemindersUnmuted):
            raise TypeError(f"{type(event).__name__} is not a guild event")
        return evolve_guild(state, event)


class ChannelSettings(Aggregate[ChannelState]):
    kind = "channel"

    @staticmethod
    def evolve(state: ChannelState | None, event: Event, aggregate_id: str) -> ChannelState:
        if not isinstance(event, ChannelConfigured):
            raise TypeError(f"{type(event).__name__} is not a channel event")
        return evolve_channel(state, event)


KINDS: dict[str, type[Aggregate[Any]]] = {k.kind: k for k in (Game, GuildSettings, ChannelSettings)}


def kind_of(aggregate_id: str) -> type[Aggregate[Any]]:
    """The aggregate class for an id such as ``game.<uuid>``."""
    kind, _, _key = aggregate_id.partition(".")
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"{aggregate_id!r} is not a game, guild or channel id") from None


def stage(aggregate_id: str, version: int, events: Sequence[Event]) -> list[Recorded]:
    """Place events after ``version`` in an aggregate's sequence."""
    return [Recorded(aggregate_id, version + i, e) for i, e in enumerate(events, start=1)]


def replay(aggregate: Aggregate[Any] | None, recorded: Iterable[Recorded]) -> Aggregate[Any] | None:
    """eventsourcing projector function: fold recorded events into an aggregate."""
    for r in recorded:
        aggregate = r.mutate(aggregate)
    return aggregate
