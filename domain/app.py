"""Muster's command side: load one aggregate, decide, append — as an eventsourcing Application.

``MusterApp().handle(command)`` returns an :class:`~domain.outcome.Outcome` or raises a
:class:`~domain.errors.DomainError`. It is synchronous and thread-safe. Persistence is
eventsourcing's: POPO by default, ``PERSISTENCE_MODULE=gateways.jetstream`` for the log.

How it stays correct and cheap:

* **One writer per aggregate in this process.** Commands on the same aggregate take turns
  (a lock per aggregate id), so threads in one process never race each other.
* **Cached aggregates, verified by the append.** Aggregates stay in eventsourcing's
  aggregate cache and are advanced in place after each successful append, so a command
  costs one decision and one append however long the history. Another process may have
  appended meanwhile: the append then fails (the log checks the version), the aggregate
  catches up from the log and the command is decided again — at most ``MAX_ATTEMPTS``
  times, then :class:`~domain.errors.ConcurrencyConflict`. An answer that appends nothing
  (a refusal, "nothing changed") is only given after catching up with the log. The cache
  holds at most 10,000 aggregates and drops one unused for ``CACHE_IDLE`` seconds (10
  minutes; :mod:`domain.aggregate_cache`): it is read from the log again when next used.
* **Idempotent.** Each aggregate remembers its recent commands (their ids and versions; a
  repeat reads its events back from the log), so a repeated
  ``command_id`` returns the first Outcome (``replayed=True``) and stores nothing — also
  long after the log's own duplicate window. ``command_id`` goes to the recorder too
  (``Nats-Msg-Id`` on JetStream).
* **Settings read-through.** A game decision reads its channel's and guild's settings from
  a small cache refreshed from the log at most every ``SETTINGS_MAX_AGE`` seconds (at
  once after this process changes them, and at once when a command names a newer
  version than the cached one: :class:`~domain.commands.ReconcileSeats` carries the
  version of the configuration that caused it, so its decision never sees older settings).
"""

import copy
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from eventsourcing.application import AggregateNotFoundError, Application, LRUCache, Repository
from eventsourcing.persistence import IntegrityError, Mapper
from eventsourcing.utils import EnvType

from domain.aggregate_cache import AGGREGATE_CACHE_IDLE, IdleAggregateCache
from domain.aggregates import Aggregate, Game, Recorded, replay, stage
from domain.codec import EventMapper
from domain.commands import AnyCommand, ConfigureChannel, ConfigureGuild, ReconcileSeats
from domain.decisions import canonical_game_id, decide, settings_ids, target
from domain.errors import ConcurrencyConflict, DomainError, GameNotFound, InvalidCommand
from domain.events import Event
from domain.game import Context, GameState
from domain.outcome import Outcome, describe
from domain.rules import Effective
from domain.settings import ChannelState, GuildState


def utc_now() -> datetime:
    return datetime.now(UTC)


class MusterApp(Application[str]):
    """Handles Muster's commands on games, guild settings and channel settings."""

    name = "Muster"
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }
    MAX_ATTEMPTS = 10
    SETTINGS_MAX_AGE = 1.0
    CACHE_IDLE = AGGREGATE_CACHE_IDLE

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        cache_timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache_timer = cache_timer  # read by construct_repository, during super().__init__
        super().__init__(env)
        self.clock = clock
        self._locks = KeyedLocks()
        self._settings: dict[str, tuple[float, Aggregate[Any] | None]] = {}

    def construct_mapper(self) -> Mapper[str]:
        return self.factory.mapper(mapper_class=EventMapper)

    def construct_repository(self) -> Repository[str]:
        """eventsourcing's repository, its count-bounded cache replaced by one that also drops
        aggregates idle for ``CACHE_IDLE`` seconds (see :mod:`domain.aggregate_cache`)."""
        repository = super().construct_repository()
        if isinstance(repository.cache, LRUCache):
            repository.cache = IdleAggregateCache(
                repository.cache.maxsize, self.CACHE_IDLE, self._cache_timer
            )
        return repository

    # -- commands -----------------------------------------------------------------------

    def handle(self, command: AnyCommand) -> Outcome:
        """Decide and append; return what happened, or raise a DomainError."""
        aggregate_id = target(command)
        with self._locks.hold(aggregate_id):
            outcome = self._handle(aggregate_id, command)
        if isinstance(command, ConfigureGuild | ConfigureChannel):
            self._settings.pop(aggregate_id, None)
        return outcome

    def _handle(self, aggregate_id: str, command: AnyCommand) -> Outcome:
        aggregate, fresh = self._load(aggregate_id)
        conflicts = 0
        while True:
            done = aggregate.recent.get(command.command_id) if aggregate else None
            if done is not None:
                found = self.events.get(aggregate_id, gt=done.first - 1, lte=done.version)
                events = [cast("Recorded", r).event for r in found]
                return describe(
                    aggregate_id, command.command_id, events, done.version, replayed=True
                )
            version = aggregate.version if aggregate else 0
            try:
                events = decide(aggregate, command, self._context(command, aggregate))
            except DomainError:
                if fresh:
                    raise
                aggregate, fresh = self._catch_up(aggregate_id, aggregate), True
                continue
            if not events:
                if not fresh:
                    aggregate, fresh = self._catch_up(aggregate_id, aggregate), True
                    continue
                return describe(aggregate_id, command.command_id, [], version)
            staged = stage(aggregate_id, version, events)
            try:
                positions = self._append(staged, command.command_id)
            except IntegrityError:
                conflicts += 1
                if conflicts >= self.MAX_ATTEMPTS:
                    raise ConcurrencyConflict(aggregate_id, conflicts) from None
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**conflicts)))
                aggregate, fresh = self._catch_up(aggregate_id, aggregate), True
                if (aggregate.version if aggregate else 0) == version and conflicts > 1:
                    raise _reused(command) from None  # refused twice, yet nobody wrote
                continue
            self._advance(aggregate_id, aggregate, staged)
            return describe(
                aggregate_id,
                command.command_id,
                events,
                version + len(events),
                positions,
            )

    def _append(self, staged: list[Recorded], command_id: str) -> Sequence[int]:
        """Append as ``Application.save`` does (``command_id`` reaches the recorder); the
        positions in the log (notification ids; none from a recorder without them).

        Minus save()'s runtime protocol checks of each object, which cost almost half of a
        command's CPU on Python 3.11 (the events here are known to be Recorded), and minus the
        ``Recording`` and ``Notification`` objects ``EventStore.put`` builds around each stored
        event for ``_notify``, which this application does not use: only the ids are read."""
        store = self.events
        stored = [store.mapper.to_stored_event(event) for event in staged]
        return store.recorder.insert_events(stored, command_id=command_id) or ()

    def _context(self, command: AnyCommand, aggregate: Aggregate[Any] | None) -> Context:
        now = self.clock()
        if now.utcoffset() is None:
            raise ValueError("MusterApp's clock must return timezone-aware datetimes (UTC)")
        now = now.astimezone(UTC)
        ids = settings_ids(command, aggregate.state if isinstance(aggregate, Game) else None)
        if ids is None:
            return Context(now=now)
        at_least = (0, 0)
        if isinstance(command, ReconcileSeats):
            at_least = (command.channel_version, command.guild_version)
        channel = cast("ChannelState | None", self._settings_state(ids[0], at_least[0]))
        guild = cast("GuildState | None", self._settings_state(ids[1], at_least[1]))
        return Context(
            now=now,
            channel=channel.settings if channel else None,
            guild=guild.settings if guild else None,
            channel_guild_id=channel.guild_id if channel else None,
        )

    # -- loading ------------------------------------------------------------------------

    def _load(self, aggregate_id: str) -> tuple[Aggregate[Any] | None, bool]:
        """The aggregate (cached, or rebuilt from the log) and whether it was just read."""
        cache = self.repository.cache
        cached = cache is not None and aggregate_id in cache.cache
        try:
            aggregate: Aggregate[Any] = self.repository.get(
                aggregate_id, projector_func=replay, deepcopy_from_cache=False
            )
        except AggregateNotFoundError:
            return None, True
        return aggregate, not cached or self.repository.fastforward

    def _catch_up(
        self, aggregate_id: str, aggregate: Aggregate[Any] | None
    ) -> Aggregate[Any] | None:
        """Apply what the log holds beyond the aggregate's version."""
        newer = self.events.get(aggregate_id, gt=aggregate.version if aggregate else None)
        caught = replay(aggregate, cast("Iterator[Recorded]", newer))
        if aggregate is None and caught is not None and self.repository.cache is not None:
            self.repository.cache.put(aggregate_id, caught)
        return caught

    def _advance(
        self, aggregate_id: str, aggregate: Aggregate[Any] | None, staged: Iterable[Recorded]
    ) -> None:
        """Apply just-appended events to the cached aggregate (or cache a new one)."""
        advanced = replay(aggregate, staged)
        if aggregate is None and advanced is not None and self.repository.cache is not None:
            self.repository.cache.put(aggregate_id, advanced)

    def _settings_state(self, aggregate_id: str, at_least: int = 0) -> Any:
        """A guild's or channel's settings state (None when never configured), read from the
        log when the cached copy is older than ``SETTINGS_MAX_AGE`` or than version
        ``at_least``."""
        read_at, aggregate = self._settings.get(aggregate_id, _UNREAD)
        if self._fresh(read_at, aggregate, time.monotonic(), at_least):
            return aggregate.state if aggregate else None  # states are immutable: no lock
        with self._locks.hold(aggregate_id):
            read_at, aggregate = self._settings.get(aggregate_id, _UNREAD)
            now = time.monotonic()
            if not self._fresh(read_at, aggregate, now, at_least):
                aggregate = self._catch_up(aggregate_id, aggregate)
                self._settings[aggregate_id] = (now, aggregate)
            if (aggregate.version if aggregate else 0) < at_least:
                raise InvalidCommand(
                    "settings version",
                    f"{aggregate_id} has no version {at_least} in the log (it is at "
                    f"{aggregate.version if aggregate else 0})",
                )
            return aggregate.state if aggregate else None

    def _fresh(
        self, read_at: float | None, aggregate: Aggregate[Any] | None, now: float, at_least: int
    ) -> bool:
        """Whether a cached settings aggregate read at ``read_at`` may be used ``now``. (A
        method: a function defined in :meth:`_settings_state` evaluated its annotations, two
        ``X | None`` unions, on every call.)"""
        version = aggregate.version if aggregate else 0
        return (
            read_at is not None and now - read_at < self.SETTINGS_MAX_AGE
        ) and version >= at_least

    # -- queries (for tests, tools and the bench; entry points read projections) ---------

    def aggregate(self, aggregate_id: str) -> Aggregate[Any] | None:
        """A copy of an aggregate, caught up with the log."""
        with self._locks.hold(aggregate_id):
            aggregate, fresh = self._load(aggregate_id)
            if not fresh:
                aggregate = self._catch_up(aggregate_id, aggregate)
            return copy.deepcopy(aggregate)

    def game(self, game_id: str) -> GameState:
        """A copy of a game's current state."""
        game_id = canonical_game_id(game_id)
        aggregate = self.aggregate(f"game.{game_id}")
        if not isinstance(aggregate, Game):
            raise GameNotFound(game_id)
        return aggregate.state

    def effective_settings(self, game_id: str) -> Effective:
        """A game's settings after inheritance from its channel and guild."""
        game = self.game(game_id)
        channel = cast("ChannelState | None", self._settings_state(f"channel.{game.channel_id}"))
        guild = cast("GuildState | None", self._settings_state(f"guild.{game.guild_id}"))
        ctx = Context(
            now=self.clock(),
            channel=channel.settings if channel else None,
            guild=guild.settings if guild else None,
        )
        return ctx.effective(game.details)

    def history(self, aggregate_id: str) -> list[Event]:
        """Every event of one aggregate, as stored (read back through the mapper)."""
        return [cast("Recorded", r).event for r in self.events.get(aggregate_id)]


_UNREAD: tuple[float | None, Aggregate[Any] | None] = (None, None)


def _reused(command: AnyCommand) -> InvalidCommand:
    return InvalidCommand(
        "command_id",
        f"{command.command_id!r} was already used by another command (the log refused it "
        "as a repeat); send this command with a new id",
    )


class KeyedLocks:
    """One lock per key, made on first use and dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (threading.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
