"""The log for consumers outside Muster: filters, the JSON-lines envelope, an ordered reader.

One stored event becomes one :class:`Envelope` (documented in ``docs/events.md``)::

    {"seq": 42, "subject": "events.game.<uuid>", "type": "game.player_joined", "version": 1,
     "time": "2026-12-01T19:02:11.5Z", "stored_at": "2026-12-01T19:02:11.503Z",
     "aggregate_id": "game.<uuid>", "aggregate_version": 3, "command_id": "…",
     "actor_id": "…", "msg_id": "…:0", "body": {…the event exactly as stored…}}

:class:`StreamReader` reads the stream in order with an ephemeral pull consumer without acks
(the shape of :mod:`projections.feed`), filtered on the server by subject where it can be (games)
and here otherwise (types, guilds, channels). It checks the consumer sequence of each delivery:
a gap means a message went missing, and the consumer is recreated right after the last one read,
so nothing is skipped or repeated — an ordered consumer, with back-pressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from domain.catalogue import catalogue
from domain.codec import UPCASTERS
from domain.decisions import canonical_game_id
from domain.errors import InvalidCommand
from gateways.jetstream.layout import (
    H_EVENT_TYPE,
    H_EVENT_VERSION,
    H_MSG_ID,
    H_TOPIC,
    H_VERSION,
    Layout,
)
from projections.pull import PullConsumer

PULL = 2_000  # messages asked for per pull request (the next goes out at half of it)
HIGH_WATER = 10_000  # no new pull while this many delivered messages wait
PULL_EXPIRES = 1.0  # seconds a pull waits on an idle log (tail)
_SNOWFLAKE = re.compile(r"^[0-9]{1,20}$")
_VERSIONED = re.compile(r"^(.+)\.v(\d+)$")


class BadFilter(ValueError):
    """A filter a person gave cannot be used; the message says what to give instead."""


class Envelope(msgspec.Struct, kw_only=True):
    """One event as exported: where it is in the log, what it is, and its body as stored."""

    seq: int
    subject: str
    type: str
    version: int
    time: str
    stored_at: str
    aggregate_id: str
    aggregate_version: int
    command_id: str
    actor_id: str
    msg_id: str | None
    body: msgspec.Raw


class _Stamp(msgspec.Struct):
    """The fields of a body the envelope repeats (and the ones guild/channel filters read)."""

    command_id: str = ""
    actor_id: str = ""
    occurred_at: str = ""
    guild_id: str | None = None
    channel_id: str | None = None


_STAMP = msgspec.json.Decoder(_Stamp)


def known_types() -> dict[str, set[int]]:
    """Event type → versions that may be in the log (current ones and upcast older ones)."""
    known: dict[str, set[int]] = {}
    for name in [info.type for info in catalogue()] + list(UPCASTERS):
        match = _VERSIONED.match(name)
        if match:
            known.setdefault(match.group(1), set()).add(int(match.group(2)))
    return known


@dataclass
class EventFilter:
    """Which events to read: each kind given narrows, several values of one kind widen."""

    types: set[str] = field(default_factory=set)  # "game.player_joined" or "…joined.v1"
    games: set[str] = field(default_factory=set)  # game uuids
    guilds: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    start_seq: int | None = None
    start_time: datetime | None = None

    @classmethod
    def parse(
        cls,
        *,
        types: list[str] | None = None,
        games: list[str] | None = None,
        guilds: list[str] | None = None,
        channels: list[str] | None = None,
        start: str | None = None,
    ) -> EventFilter:
        """Check filters given as text; raises :class:`BadFilter` naming what is wrong."""
        chosen = cls()
        known = known_types()
        for name in types or []:
            match = _VERSIONED.match(name)
            base, version = (match.group(1), int(match.group(2))) if match else (name, None)
            if base not in known or (version is not None and version not in known[base]):
                listed = ", ".join(sorted(known))
                raise BadFilter(
                    f"unknown event type {name!r}. Give a type from the catalogue, with or "
                    f"without its version (e.g. game.player_joined or game.player_joined.v1): "
                    f"{listed}."
                )
            chosen.types.add(name)
        for game in games or []:
            try:
                chosen.games.add(canonical_game_id(game.removeprefix("game.")))
            except InvalidCommand as error:
                raise BadFilter(f"--game {game!r}: {error}") from error
        for kind, values, into in (
            ("guild", guilds, chosen.guilds), ("channel", channels, chosen.channels)
        ):  # fmt: skip
            for value in values or []:
                if not _SNOWFLAKE.match(value):
                    raise BadFilter(
                        f"--{kind} {value!r} is not a Discord id; give the {kind}'s id as a "
                        "decimal number (Discord: right-click it, Copy ID)."
                    )
                into.add(value)
        if start:
            chosen.start_seq, chosen.start_time = parse_start(start)
        return chosen

    def subjects(self, layout: Layout) -> list[str]:
        """Server-side subject filters: the games' subjects, or the whole log."""
        if self.games:
            return sorted(layout.subject_for(f"game.{game}") for game in self.games)
        return [layout.all_subjects]

    def wants_type(self, event_type: str, version: int) -> bool:
        return (
            not self.types or event_type in self.types or f"{event_type}.v{version}" in (self.types)
        )


def parse_start(text: str) -> tuple[int | None, datetime | None]:
    """``--from``: a stream sequence (whole number ≥ 1) or an ISO 8601 time (UTC if no zone)."""
    if text.isascii() and text.isdigit():  # "¹".isdigit(), but int("¹") fails
        if int(text) < 1:
            raise BadFilter("--from 0: stream sequences start at 1.")
        return int(text), None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadFilter(
            f"--from {text!r} is neither a stream sequence (a whole number such as 1200) nor an "
            "ISO 8601 time (such as 2026-11-30T18:00:00Z or 2026-11-30)."
        ) from None
    return None, when if when.tzinfo else when.replace(tzinfo=UTC)


class StreamReader(PullConsumer):
    """Reads the log in order from a start, as :class:`Envelope` batches."""

    def __init__(
        self, nc: NATS, layout: Layout, chosen: EventFilter, *, follow: bool = False
    ) -> None:
        super().__init__(nc, layout, pull=PULL, expires=PULL_EXPIRES)
        self.filter = chosen
        self.follow = follow
        self.end = 0  # without follow: the stream's last sequence when reading began
        self.pending = 0  # messages the first consumer had to deliver when it was created
        self.last_seq = 0  # last stream sequence delivered
        self._consumer_seq = 0
        self._caught_up = False  # the last delivery said nothing more was pending
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._places: dict[str, tuple[str, str] | None] = {}  # game → (guild, channel)

    def _deliver_policy(self) -> dict[str, Any]:
        if self.last_seq:
            seq = self.last_seq + 1
            return {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": seq}
        if self.filter.start_seq:
            seq = self.filter.start_seq
            return {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": seq}
        if self.filter.start_time:
            when = self.filter.start_time.astimezone(UTC).isoformat().replace("+00:00", "Z")
            return {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": when}
        return {"deliver_policy": DeliverPolicy.ALL}

    async def _create_consumer(self) -> int:
        """A consumer (and inbox) starting after the last message read; returns its pending."""
        subjects = self.filter.subjects(self.layout)
        by_subject: dict[str, Any] = (
            {"filter_subject": subjects[0]} if len(subjects) == 1
            else {"filter_subjects": subjects}
        )  # fmt: skip
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE, inactive_threshold=300.0, mem_storage=True,
            num_replicas=1, **self._deliver_policy(), **by_subject,
        )  # fmt: skip
        info = await self._open(config)
        self._consumer_seq = 0
        return int(info.num_pending or 0)

    def _on_message(self, msg: Msg) -> None:
        if self._status(msg):
            return
        self._outstanding = max(self._outstanding - 1, 0)
        meta = msg.metadata
        if meta.sequence.consumer != self._consumer_seq + 1 or (
            meta.sequence.stream <= self.last_seq
        ):
            self._recreate = True  # a message went missing: start again after the last one
            self._wake.set()
            return
        self._consumer_seq = meta.sequence.consumer
        self.last_seq = meta.sequence.stream
        self._caught_up = meta.num_pending == 0
        self._queue.put_nowait(msg)
        if self._outstanding <= PULL // 2 or self._caught_up:
            self._wake.set()

    async def _pull_forever(self) -> None:
        while not self._stopped:
            if self._recreate:
                await self._create_consumer()
            if self._outstanding <= PULL // 2 and self._queue.qsize() < HIGH_WATER:
                await self._ask()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), PULL_EXPIRES + 1)

    async def batches(self, max_batch: int = 5_000) -> AsyncIterator[list[Envelope]]:
        """Envelopes in stream order; ends at the stream's end as it was (unless following)."""
        self.end = await self._stream_last_seq()
        if not self.follow and self.end == 0:
            return
        self.pending = await self._create_consumer()
        if not self.follow and self.pending == 0:
            await self._close()
            return
        puller = asyncio.create_task(self._pull_forever())
        try:
            while True:
                messages = await self._take(max_batch)
                if not messages:
                    return
                batch = await self._envelopes(messages)
                if batch:
                    yield batch
        finally:
            self._stopped = True  # a cancel racing a wake-up can be swallowed (3.11 wait_for)
            self._wake.set()
            puller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await puller
            await self._close()

    def _done(self) -> bool:
        """Without follow: everything up to the end (or all still pending) was delivered."""
        return self._queue.empty() and (self.last_seq >= self.end or self._caught_up)

    async def _take(self, max_batch: int) -> list[Msg]:
        messages: list[Msg] = []
        while not messages:
            if not self.follow and self._done():
                return []
            try:
                messages.append(await asyncio.wait_for(self._queue.get(), 0.25))
            except TimeoutError:
                continue
            while len(messages) < max_batch:
                try:
                    messages.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
        if self._queue.qsize() < HIGH_WATER:
            self._wake.set()
        return messages

    async def _envelopes(self, messages: list[Msg]) -> list[Envelope]:
        out = []
        chosen = self.filter
        for msg in messages:
            seq = msg.metadata.sequence.stream
            if not self.follow and seq > self.end:
                break
            envelope = _envelope(self.layout, msg, seq)
            if not chosen.wants_type(envelope.type, envelope.version):
                continue
            if (chosen.guilds or chosen.channels) and not await self._in_place(envelope):
                continue
            out.append(envelope)
        return out

    async def _in_place(self, envelope: Envelope) -> bool:
        """Whether an event belongs to the guilds/channels asked for."""
        stamp = _STAMP.decode(bytes(envelope.body))
        if envelope.aggregate_id.startswith("game."):
            if envelope.aggregate_id not in self._places:
                self._places[envelope.aggregate_id] = await self._place_of(envelope, stamp)
            place = self._places[envelope.aggregate_id]
            if place is None:
                return False
            guild, channel = place
        else:
            guild, channel = stamp.guild_id or "", stamp.channel_id or ""
        chosen = self.filter
        return (not chosen.guilds or guild in chosen.guilds) and (
            not chosen.channels or channel in chosen.channels
        )

    async def _place_of(self, envelope: Envelope, stamp: _Stamp) -> tuple[str, str] | None:
        """A game's guild and channel, from its first event (read once per game)."""
        if envelope.aggregate_version == 1:
            first = stamp
        else:
            body = json.dumps({"seq": 1, "next_by_subj": envelope.subject})
            reply = await self.nc.request(
                f"$JS.API.DIRECT.GET.{self.layout.stream}", body.encode(), timeout=5
            )
            if (reply.headers or {}).get("Status"):
                return None
            first = _STAMP.decode(reply.data)
        if first.guild_id is None or first.channel_id is None:
            return None
        return first.guild_id, first.channel_id

    async def _stream_last_seq(self) -> int:
        info = await self.nc.jetstream().stream_info(self.layout.stream)
        return int(info.state.last_seq or 0) if info.state.messages else 0


def _envelope(layout: Layout, msg: Msg, seq: int) -> Envelope:
    headers = msg.headers or {}
    topic = headers.get(H_TOPIC, "")
    event_type = headers.get(H_EVENT_TYPE)
    if event_type is None:
        match = _VERSIONED.match(topic)
        event_type, version = (match.group(1), int(match.group(2))) if match else (topic, 0)
    else:
        version = int(headers.get(H_EVENT_VERSION, 0))
    stamp = _STAMP.decode(msg.data)
    stored = msg.metadata.timestamp
    return Envelope(
        seq=seq,
        subject=msg.subject,
        type=event_type,
        version=version,
        time=stamp.occurred_at,
        stored_at=stored.astimezone(UTC).isoformat().replace("+00:00", "Z") if stored else "",
        aggregate_id=str(layout.originator_id_from(msg.subject)),
        aggregate_version=int(headers.get(H_VERSION, 0)),
        command_id=stamp.command_id,
        actor_id=stamp.actor_id,
        msg_id=headers.get(H_MSG_ID),
        body=msgspec.Raw(msg.data),
    )
