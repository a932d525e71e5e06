"""eventsourcing recorders that keep the event log in a JetStream stream.

Contract (eventsourcing's ``AggregateRecorder`` / ``ApplicationRecorder``, proven by its own test
cases in ``tests/integration/test_jetstream_contract.py``):

* ``insert_events`` stores all given events or none. An event whose version is not above its
  aggregate's last stored version, or an append that loses a race with another writer, raises
  ``IntegrityError``. A ``command_id`` keyword (``app.save(agg, command_id=...)``) becomes the
  messages' ``Nats-Msg-Id``: a repeat inside the stream's duplicate window stores nothing and
  raises :class:`~gateways.jetstream.wire.DuplicateCommand` (an ``IntegrityError``).
* Notification ids are stream sequences (contiguous, since the stream denies deletes).
* Every call is bounded by the bridge's timeout; failures are ``OperationalError``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from threading import Lock
from typing import Any
from uuid import UUID

import nats
from cachetools import TTLCache
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    Notification,
    OperationalError,
    ProgrammingError,
    StoredEvent,
    Subscription,
)

from gateways.jetstream.bridge import NatsBridge, server_urls
from gateways.jetstream.layout import MAX_BATCH, IncompatibleStream, Layout, incompatibilities
from gateways.jetstream.wire import (
    ConcurrencyConflict,
    LeaderUnavailable,
    NoQuorum,
    Record,
    Tip,
    Wire,
    no_quorum_text,
)

CONFLICT_RETRIES = 3  # re-reads of a stale cached tip before reporting a real conflict
TIP_CACHE_SIZE = 100_000
TIP_CACHE_IDLE = 600.0
"""Seconds a subject's tip stays cached unused (10 minutes): memory follows the active games."""


class TipCache:
    """Last known (version, sequence) per subject, so an append needs no read first.

    At most ``size`` subjects, none unused for ``idle`` seconds. A dropped tip costs one read of
    the subject's last message before the next append (as after a restart); a cached tip is
    only a guess anyway: the append states the sequence it expects and the stream checks it.
    """

    def __init__(
        self,
        size: int = TIP_CACHE_SIZE,
        idle: float = TIP_CACHE_IDLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tips: TTLCache[str, Tip] = TTLCache(size, idle, timer=clock)
        self._lock = Lock()

    def get(self, subject: str) -> Tip | None:
        with self._lock:
            tip: Tip | None = self._tips.get(subject)
            if tip is not None:
                self._tips[subject] = tip  # used: its idle time starts again
            return tip

    def put(self, subject: str, tip: Tip) -> None:
        with self._lock:
            current = self._tips.get(subject)
            newer = current is None or current.seq < tip.seq
            counted = current is not None and current.seq == tip.seq and current.count is None
            self._tips[subject] = tip if newer or counted else current

    def drop(self, subject: str) -> None:
        with self._lock:
            self._tips.pop(subject, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tips)


MIN_SERVER = (2, 12)  # first nats-server with atomic batch publish (ADR-50)


def check_server_version(bridge: NatsBridge) -> None:
    """Refuse servers that cannot append several events atomically."""
    version = bridge.nc.connected_server_version
    if (version.major, version.minor) < MIN_SERVER:
        raise OperationalError(
            f"NATS at {bridge.url} is version {version.major}.{version.minor}.{version.patch}; "
            f"Muster needs {MIN_SERVER[0]}.{MIN_SERVER[1]} or newer for atomic multi-event "
            "appends. Upgrade that server, or unset MUSTER_NATS_URL to use the embedded one."
        )


async def ensure_stream(
    bridge: NatsBridge, layout: Layout, create: bool = True, wait: float = 20.0
) -> int:
    """Create the stream, or check that an existing one keeps the log's guarantees; return
    how many replicas it has.

    A cluster that is still electing its JetStream leader answers "unavailable" for a while:
    that is waited out for up to ``wait`` seconds. An existing stream with fewer replicas than
    the layout asks for is scaled up (a documented JetStream operation); never down.
    """
    check_server_version(bridge)
    js = bridge.nc.jetstream(timeout=bridge.timeout)
    info = await until_available(
        lambda: _stream_info_or_create(js, bridge, layout, create), wait, layout
    )
    if info is None:
        return layout.replicas
    if (info.config.num_replicas or 1) < layout.replicas:
        info.config.num_replicas = layout.replicas
        await until_available(lambda: js.update_stream(info.config), wait, layout)
    problems = incompatibilities(layout, info.config)
    if problems:
        raise IncompatibleStream(
            f"stream {layout.stream} on {bridge.url} cannot hold Muster's log: "
            + "; ".join(problems)
            + ". Fix it with `nats stream edit` where the server allows, or point "
            "MUSTER_EVENTS_STREAM at a new stream name."
        )
    return int(info.config.num_replicas or 1)


async def _stream_info_or_create(js: Any, bridge: NatsBridge, layout: Layout, create: bool) -> Any:
    try:
        return await js.stream_info(layout.stream)
    except nats.js.errors.NotFoundError:
        if not create:
            raise OperationalError(
                f"stream {layout.stream} does not exist on {bridge.url}; "
                "`muster up` creates it on first start"
            ) from None
        await js.add_stream(layout.stream_config())
        return None


async def until_available(make: Any, wait: float, layout: Layout) -> Any:
    """``await make()``, again while JetStream says it is unavailable, for up to ``wait`` s.

    "No responders" is not waited out: the server has no JetStream at all (the bridge says so).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    pause = 0.05
    while True:
        try:
            return await make()
        except (
            nats.js.errors.ServiceUnavailableError,  # no JetStream leader yet
            nats.errors.TimeoutError,  # a cluster still forming leaves API requests unanswered
        ) as error:
            if loop.time() + pause > deadline:
                raise NoQuorum(no_quorum_text(layout, wait)) from error
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)


async def append_through_failover(
    wire: Wire,
    events: Sequence[StoredEvent],
    expected: dict[str, int],
    command_id: str | None,
    wait: float,
) -> list[int]:
    """Append, retrying the same messages while the stream elects a new leader.

    A retry reuses the ``Nats-Msg-Id``s, so an append stored before its acknowledgement was lost
    is not stored again: the retry is refused (duplicate, or expected sequence moved) and the
    events found in the log at their versions are returned as if acknowledged. Without a
    ``command_id`` an unanswered append is not retried (it could be stored twice). After
    ``wait`` seconds without a leader: :class:`NoQuorum`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    pause = 0.05
    ambiguous = False
    while True:
        try:
            return await wire.append(events, expected, command_id)
        except LeaderUnavailable as error:
            if error.stored_maybe and command_id is None:
                raise
            ambiguous = ambiguous or error.stored_maybe
            if loop.time() + pause > deadline:
                raise NoQuorum(no_quorum_text(wire.layout, wait)) from error
        except IntegrityError:
            if not ambiguous:
                raise
            stored = await _stored_already(wire, events, expected)
            if stored is None:
                raise
            return stored
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)


async def _stored_already(
    wire: Wire, events: Sequence[StoredEvent], expected: dict[str, int]
) -> list[int] | None:
    """The sequences of ``events`` if the log holds exactly them (an earlier attempt's)."""
    found: dict[tuple[str, int], Record] = {}
    for subject, after in expected.items():
        for stored in await wire.read(subject, after + 1):
            found[(subject, stored.event.originator_version)] = stored
    seqs = []
    for event in events:
        key = (wire.layout.subject_for(event.originator_id), event.originator_version)
        record = found.get(key)
        if record is None or record.event.state != event.state or record.event.topic != event.topic:
            return None
        seqs.append(record.seq)
    return seqs


class JetStreamAggregateRecorder(AggregateRecorder):
    """Stores and selects aggregate events on one subject per aggregate."""

    def __init__(
        self,
        bridge: NatsBridge,
        layout: Layout,
        create: bool = True,
        failover_wait: float = 20.0,
    ) -> None:
        self.bridge = bridge
        self.layout = layout
        self.failover_wait = failover_wait
        several = len(server_urls(bridge.url)) > 1  # a cluster: fail over when a node drops
        self.wire = Wire(
            bridge.nc, layout, bridge.timeout, lost=(lambda: bridge.lost) if several else None
        )
        self.wire.failover_wait = failover_wait
        self.tips = TipCache()
        replicas = bridge.run(
            lambda: ensure_stream(bridge, layout, create, failover_wait),
            timeout=failover_wait + bridge.timeout,
        )
        # however the setting reads, reads are checked against the leader on a replicated stream
        self.wire.replicated = replicas > 1

    # -- writes ------------------------------------------------------------------------------

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self._insert(stored_events, kwargs.get("command_id"))

    def _insert(self, events: Sequence[StoredEvent], command_id: str | None) -> list[int]:
        if not events:
            return []
        if len(events) > MAX_BATCH:
            raise ProgrammingError(
                f"{len(events)} events in one append; JetStream atomic batches hold {MAX_BATCH}"
            )
        versions = self._versions_by_subject(events)
        return self.bridge.run(
            lambda: self._append(events, versions, command_id),
            timeout=self.failover_wait + 2 * self.bridge.timeout,
        )

    def _versions_by_subject(self, events: Sequence[StoredEvent]) -> dict[str, list[int]]:
        versions: dict[str, list[int]] = {}
        for event in events:
            subject = self.layout.subject_for(event.originator_id)
            listed = versions.setdefault(subject, [])
            if listed and event.originator_version <= listed[-1]:
                raise IntegrityError(
                    f"versions of {event.originator_id} must increase within one append"
                )
            listed.append(event.originator_version)
        return versions

    async def _append(
        self, events: Sequence[StoredEvent], versions: dict[str, list[int]], command_id: str | None
    ) -> list[int]:
        stale: set[str] = set()
        for _attempt in range(CONFLICT_RETRIES + 1):
            tips = await self._tips_of(versions, refresh=stale)
            for subject, tip in tips.items():
                if tip is not None and versions[subject][0] <= tip.version:
                    raise IntegrityError(
                        f"version {versions[subject][0]} of {subject} is already stored"
                    )
            expected = {subject: tip.seq if tip else 0 for subject, tip in tips.items()}
            try:
                seqs = await append_through_failover(
                    self.wire, events, expected, command_id, self.failover_wait
                )
            except ConcurrencyConflict:
                stale = set(versions)  # re-read the real tips; a newer writer may have won
                continue
            self._remember(events, seqs, tips)
            return seqs
        raise ConcurrencyConflict(f"another writer keeps appending to {sorted(versions)}")

    async def _tips_of(
        self, versions: dict[str, list[int]], refresh: set[str]
    ) -> dict[str, Tip | None]:
        tips: dict[str, Tip | None] = {}
        missing = []
        for subject in versions:
            cached = None if subject in refresh else self.tips.get(subject)
            if cached is None:
                missing.append(subject)
            tips[subject] = cached
        if missing:
            fetched = await asyncio.gather(*(self.wire.tip(subject) for subject in missing))
            for subject, tip in zip(missing, fetched, strict=True):
                tips[subject] = tip
                if tip is None:
                    self.tips.drop(subject)
                else:
                    self.tips.put(subject, tip)
        return tips

    def _remember(
        self,
        events: Sequence[StoredEvent],
        seqs: Sequence[int],
        tips: dict[str, Tip | None],
    ) -> None:
        """The new tips; a subject's count follows from its tip's before the append (the
        stream checked that nothing came between)."""
        counts = {s: 0 if tip is None else tip.count for s, tip in tips.items()}
        for event, seq in zip(events, seqs, strict=True):
            subject = self.layout.subject_for(event.originator_id)
            count = counts.get(subject)
            counts[subject] = None if count is None else count + 1
            self.tips.put(subject, Tip(event.originator_version, seq, counts[subject]))

    # -- reads -------------------------------------------------------------------------------

    @property
    def _read_wait(self) -> float:
        """How long a read may take: a replicated stream's waits out a leader election."""
        extra = self.failover_wait if self.wire.replicated else 0.0
        return self.bridge.timeout + extra

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        subject = self.layout.subject_for(originator_id)
        if desc and limit == 1 and gt is None and lte is None:
            return self.bridge.run(lambda: self._last(subject), timeout=self._read_wait)
        records = self.bridge.run(lambda: self._read_subject(subject, gt), timeout=self._read_wait)
        events = [
            r.event
            for r in records
            if (gt is None or r.event.originator_version > gt)
            and (lte is None or r.event.originator_version <= lte)
        ]
        if desc:
            events.reverse()
        return events[:limit] if limit is not None else events

    async def _last(self, subject: str) -> list[StoredEvent]:
        tip = await self.wire.tip(subject)
        if tip is None:
            return []
        records = await self.wire.read(subject, tip.seq, limit=1)
        return [r.event for r in records]

    async def _read_subject(self, subject: str, gt: int | None) -> list[Record]:
        """Every event on ``subject``, or only those after the cached tip when the caller has
        all up to ``gt`` and the tip's count is known: then first :meth:`Wire.count`, and no
        read at all when the subject holds no more messages than at the tip (a settings
        aggregate asked every second whether it changed, a game after a refusal). A tip
        without a count (read alone, after a conflict) has the subject read whole once."""
        start, before = 1, 0
        cached = self.tips.get(subject)
        if (
            gt is not None and cached is not None and cached.version <= gt
            and cached.count is not None
        ):  # fmt: skip
            if await self.wire.count(subject) == cached.count:
                return []
            start, before = cached.seq + 1, cached.count
        records = await self.wire.read(subject, start)
        if records:
            last = records[-1]
            self.tips.put(
                subject, Tip(last.event.originator_version, last.seq, before + len(records))
            )
        return records


class JetStreamApplicationRecorder(JetStreamAggregateRecorder, ApplicationRecorder):
    """Adds the application sequence: notification ids are the stream's sequences."""

    def insert_events(  # type: ignore[override]
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self._insert(stored_events, kwargs.get("command_id"))

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        first = 1 if start is None else (start if inclusive_of_start else start + 1)
        wanted = set(topics)
        found: list[Notification] = []

        async def collect() -> None:
            seq = first
            while len(found) < limit:
                records = await self.wire.read(self.layout.all_subjects, seq, limit=limit)
                for record in records:
                    if stop is not None and record.seq > stop:
                        return
                    if not wanted or record.event.topic in wanted:
                        found.append(notification_of(record))
                        if len(found) == limit:
                            return
                if len(records) < limit:
                    return
                seq = records[-1].seq + 1

        self.bridge.run(collect)
        return found

    def max_notification_id(self) -> int | None:
        return self.bridge.run(self.wire.last_seq)

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        from gateways.jetstream.subscription import JetStreamSubscription

        return JetStreamSubscription(self, gt=gt, topics=topics)


def notification_of(record: Record) -> Notification:
    """A stored record as eventsourcing's ``Notification`` (id = stream sequence)."""
    event = record.event
    return Notification(
        id=record.seq,
        originator_id=event.originator_id,
        originator_version=event.originator_version,
        topic=event.topic,
        state=event.state,
    )
