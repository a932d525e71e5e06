"""Async JetStream operations the recorders are made of: read an aggregate, read the log, append.

Everything here runs on the :class:`~gateways.jetstream.bridge.NatsBridge` loop. Appends use the
stream's own guarantees rather than client-side locks:

* optimistic concurrency per aggregate: the first message of each aggregate in an append carries
  ``Nats-Expected-Last-Subject-Sequence`` (the stream sequence of that aggregate's last event);
* atomicity: several events are one JetStream atomic batch (``Nats-Batch-*`` headers, ADR-50);
* idempotency: a command id becomes each message's ``Nats-Msg-Id`` (``<command_id>:<n>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from gateways.jetstream.headers import Client as RawClient
from gateways.jetstream.headers import has_status, parse_headers
from gateways.jetstream.layout import (
    H_BATCH_COMMIT,
    H_BATCH_ID,
    H_BATCH_SEQ,
    H_EXPECTED_LAST_SUBJECT_SEQ,
    H_MSG_ID,
    H_TOPIC,
    H_VERSION,
    Layout,
    event_headers,
)

WRONG_LAST_SEQUENCE = {10071, 10164}
DUPLICATE_MSG_ID_IN_BATCH = 10201
READ_BATCH = 1000  # messages asked for per direct-get batch
T = TypeVar("T")


class ConcurrencyConflict(IntegrityError):
    """Another writer appended to the aggregate first; reload and decide again."""


class DuplicateCommand(IntegrityError):
    """These messages' ``Nats-Msg-Id`` was stored already: the command was recorded before."""


class LeaderUnavailable(OperationalError):
    """The stream had no leader to take an append (an election after a server failure, or no
    quorum). ``stored_maybe``: the append may have been stored before the answer was lost."""

    def __init__(self, text: str, *, stored_maybe: bool) -> None:
        super().__init__(text)
        self.stored_maybe = stored_maybe


class NoQuorum(OperationalError):
    """The stream (or JetStream itself) had no leader for the whole failover wait."""


def no_quorum_text(layout: Layout, wait: float) -> str:
    """What to tell a caller whose append found no stream leader for the whole wait."""
    if layout.replicas == 1:
        return (
            f"the event log (stream {layout.stream}) took no append for {wait:g}s "
            "(MUSTER_NATS_FAILOVER_WAIT): its NATS server answers without JetStream, or is "
            "restarting. Check that it runs with JetStream enabled (`-js`); `muster doctor` "
            "checks every dependency. Nothing was stored twice; send the command again."
        )
    return (
        f"the event log (stream {layout.stream}, {layout.replicas} copies) had no leader for "
        f"{wait:g}s (MUSTER_NATS_FAILOVER_WAIT): fewer than a majority of its NATS servers are "
        "up, so no append can be acknowledged. Nothing was stored twice; start the stopped NATS "
        "servers (`muster doctor` shows which answer) and send the command again."
    )


@dataclass(frozen=True)
class Tip:
    """An aggregate's last stored event: its version and its stream sequence, and how many
    messages its subject held up to that sequence when that is known (``count``), so that
    "anything newer?" is one :meth:`Wire.count` instead of a read (see there)."""

    version: int
    seq: int
    count: int | None = None


@dataclass(frozen=True)
class Record:
    """A stored event with its stream sequence (the notification id)."""

    event: StoredEvent
    seq: int


class Wire:
    """JetStream reads and writes for one stream layout over one connection."""

    def __init__(
        self,
        nc: NATS,
        layout: Layout,
        timeout: float,
        lost: Callable[[], asyncio.Event | None] | None = None,
    ) -> None:
        self.nc = nc
        self._lost = lost  # the connection-lost signal: an append in flight stops waiting
        self.layout = layout
        self.timeout = timeout
        self._direct = f"$JS.API.DIRECT.GET.{layout.stream}"
        self._batches_in_flight = asyncio.Semaphore(40)  # the server allows 50 per stream
        # On a replicated stream a direct get may be answered by a follower that is behind
        # (read-after-write is not guaranteed there); then aggregate tips come from the stream
        # leader, and a read that ends short of the leader's tip is completed from the leader.
        self.replicated = layout.replicas > 1
        self._js = nc.jetstream(timeout=timeout)
        self._acks: Acks = RawAcks(nc) if isinstance(nc, RawClient) else Acks(nc)
        self.failover_wait = 20.0  # how long a leader read waits out an election

    async def _from_leader(self, make: Callable[[], Awaitable[T]]) -> T:
        """A JetStream API call answered by the stream leader, waited out while one is elected
        (for up to ``failover_wait``), then :class:`NoQuorum`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.failover_wait
        pause = 0.05
        while True:
            try:
                return await make()
            except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError) as error:
                if loop.time() + pause > deadline:
                    raise NoQuorum(no_quorum_text(self.layout, self.failover_wait)) from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    # -- reads -------------------------------------------------------------------------------

    async def tip(self, subject: str) -> Tip | None:
        """The last event on a subject, or ``None`` for a new aggregate (from the leader when
        the stream is replicated, so it is never older than an acknowledged append)."""
        if self.replicated:
            return await self.leader_tip(subject)
        body = json.dumps({"last_by_subj": subject}).encode()
        msg = await self.nc.request(self._direct, body, timeout=self.timeout)
        status = (msg.headers or {}).get("Status")
        if status == "404":
            return None
        if status:
            raise OperationalError(f"direct get on {self.layout.stream} failed: {msg.headers}")
        headers = msg.headers or {}
        return Tip(version=int(headers[H_VERSION]), seq=int(headers["Nats-Sequence"]))

    async def leader_tip(self, subject: str) -> Tip | None:
        """The last event on a subject as the stream leader has it (the JetStream API)."""
        try:
            msg = await self._from_leader(
                lambda: self._js.get_msg(self.layout.stream, subject=subject)
            )
        except nats.js.errors.NotFoundError:
            return None
        return Tip(version=int((msg.headers or {})[H_VERSION]), seq=int(msg.seq or 0))

    async def read(self, subject: str, from_seq: int, limit: int | None = None) -> list[Record]:
        """Events stored on ``subject`` (may be a wildcard) from stream sequence ``from_seq`` on.

        Batched direct gets (ADR-31): one request per ``READ_BATCH`` messages, the replies taken
        by a callback (much cheaper per message than awaiting each one). On a replicated stream
        a single aggregate's read is checked against the leader's tip and completed from the
        leader when the replica that answered was behind.
        """
        floor = None
        if self.replicated and not _wildcard(subject):
            tip = await self.leader_tip(subject)
            if tip is None or tip.seq < from_seq:
                return []
            floor = tip.seq
        records = await self._read_direct(subject, from_seq, limit)
        if floor is not None and (limit is None or len(records) < limit):
            last = records[-1].seq if records else from_seq - 1
            while last < floor and (limit is None or len(records) < limit):
                msg = await self._from_leader(
                    functools.partial(
                        self._js.get_msg, self.layout.stream, seq=last + 1, subject=subject,
                        next=True,
                    )
                )  # fmt: skip
                record = self._record_of_raw(msg)
                records.append(record)
                last = record.seq
        return records

    def _record_of_raw(self, msg: Any) -> Record:
        headers = msg.headers or {}
        event = StoredEvent(
            originator_id=self.layout.originator_id_from(msg.subject or ""),
            originator_version=int(headers[H_VERSION]),
            topic=headers[H_TOPIC],
            state=msg.data or b"",
        )
        return Record(event=event, seq=int(msg.seq or 0))

    async def _read_direct(
        self, subject: str, from_seq: int, limit: int | None = None
    ) -> list[Record]:
        batch = _DirectBatch(self)
        sub = await self.nc.subscribe(self.nc.new_inbox(), cb=batch.on_message)
        try:
            seq = max(from_seq, 1)
            while limit is None or len(batch.records) < limit:
                want = READ_BATCH if limit is None else min(READ_BATCH, limit - len(batch.records))
                request = {"seq": seq, "next_by_subj": subject, "batch": want}
                batch.done.clear()
                await self.nc.publish(self._direct, json.dumps(request).encode(), reply=sub.subject)
                await asyncio.wait_for(batch.done.wait(), self.timeout)
                if batch.error:
                    raise OperationalError(
                        f"direct get on {self.layout.stream} failed: {batch.error}"
                    )
                if batch.pending == 0 or batch.last < seq:
                    break
                seq = batch.last + 1
        finally:
            with contextlib.suppress(nats.errors.ConnectionClosedError):  # closing underneath us
                await sub.unsubscribe()
        return batch.records

    def record_from(self, msg: Msg) -> Record:
        """Decode a stored message (direct get or consumer delivery) into a :class:`Record`."""
        headers = msg.headers or {}
        subject = headers.get("Nats-Subject") or msg.subject
        seq = (
            int(headers["Nats-Sequence"])
            if "Nats-Sequence" in headers
            else msg.metadata.sequence.stream
        )
        event = StoredEvent(
            originator_id=self.layout.originator_id_from(subject),
            originator_version=int(headers[H_VERSION]),
            topic=headers[H_TOPIC],
            state=msg.data,
        )
        return Record(event=event, seq=seq)

    async def last_seq(self) -> int | None:
        """The stream's last sequence, or ``None`` while it holds no message."""
        info = await self.nc.request(
            f"$JS.API.STREAM.INFO.{self.layout.stream}", b"", timeout=self.timeout
        )
        state = json.loads(info.data).get("state", {})
        return int(state["last_seq"]) if state.get("messages") else None

    async def count(self, subject: str) -> int:
        """How many messages ``subject`` holds, from the stream's per-subject index.

        This is the cheap way to ask whether an aggregate has anything newer than a known tip:
        NATS answers it from the index it keeps in memory (``STREAM.INFO`` with
        ``subjects_filter``), where a direct get after the tip loads the whole file block that
        holds the tip (8 MB in a long log) to find that nothing follows it. On a replicated
        stream only the leader's answer is taken (while there is none, every replica answers
        with its own, maybe older, counts): it is waited for as :meth:`leader_tip` waits.
        """
        body = json.dumps({"subjects_filter": subject}).encode()
        api = f"$JS.API.STREAM.INFO.{self.layout.stream}"

        async def ask() -> int:
            reply = await self.nc.request(api, body, timeout=self.timeout)
            info = json.loads(reply.data)
            error = info.get("error")
            if (error and error.get("code") == 503) or (
                not error and self.replicated and not (info.get("cluster") or {}).get("leader")
            ):
                raise nats.js.errors.ServiceUnavailableError(503, "no stream leader to count")
            if error:
                raise OperationalError(f"stream info on {self.layout.stream} failed: {error}")
            return int((info.get("state", {}).get("subjects") or {}).get(subject, 0))

        return await (self._from_leader(ask) if self.replicated else ask())

    # -- writes ------------------------------------------------------------------------------

    async def append(
        self,
        events: Sequence[StoredEvent],
        expected: dict[str, int],
        command_id: str | None,
    ) -> list[int]:
        """Append events atomically; ``expected`` maps each subject to its tip's sequence."""
        messages = []
        seen: set[str] = set()
        for index, event in enumerate(events):
            subject = self.layout.subject_for(event.originator_id)
            headers = event_headers(event.topic, event.originator_version)
            if subject not in seen:
                seen.add(subject)
                headers[H_EXPECTED_LAST_SUBJECT_SEQ] = str(expected.get(subject, 0))
            if command_id is not None:
                headers[H_MSG_ID] = f"{command_id}:{index}"
            messages.append((subject, event.state, headers))
        try:
            if len(messages) == 1:
                subject, data, headers = messages[0]
                ack = self._ack(await self._request(subject, data, headers))
                if ack.get("duplicate"):
                    raise DuplicateCommand(f"command {command_id!r} was recorded before")
                return [int(ack["seq"])]
            async with self._batches_in_flight:
                return await self._append_batch(messages)
        except nats.errors.NoRespondersError:  # nobody took it: nothing was stored
            raise LeaderUnavailable(
                f"stream {self.layout.stream} has no leader", stored_maybe=False
            ) from None
        except (TimeoutError, nats.errors.TimeoutError):  # the answer was lost: stored or not
            raise LeaderUnavailable(
                f"stream {self.layout.stream} did not acknowledge within {self.timeout:g}s",
                stored_maybe=True,
            ) from None

    async def _append_batch(self, messages: list[tuple[str, bytes, dict[str, str]]]) -> list[int]:
        batch_id = uuid.uuid4().hex
        last = len(messages)
        for number, (subject, data, headers) in enumerate(messages, start=1):
            headers[H_BATCH_ID] = batch_id
            headers[H_BATCH_SEQ] = str(number)
            if number < last:
                await self.nc.publish(subject, data, headers=headers)
        headers[H_BATCH_COMMIT] = "1"
        subject, data, headers = messages[-1]
        ack = self._ack(await self._request(subject, data, headers))
        end = int(ack["seq"])
        return list(range(end - last + 1, end + 1))

    async def _request(self, subject: str, data: bytes, headers: dict[str, str]) -> bytes:
        """The body of the stream's answer to an append. Its wait ends early (as a timeout) when
        the connection drops: the answer can never come then, and the append is retried on the
        next server at once."""
        request = self._acks.request(subject, data, headers, self.timeout)
        lost = self._lost() if self._lost is not None else None
        if lost is None:
            return await request
        if lost.is_set():
            request.close()
            raise TimeoutError
        answer = asyncio.ensure_future(request)
        dropped = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait((answer, dropped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            dropped.cancel()
        if not answer.done():
            answer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answer
            raise TimeoutError
        return answer.result()

    def _ack(self, data: bytes) -> dict[str, Any]:
        ack: dict[str, Any] = json.loads(data)
        error = ack.get("error")
        if not error:
            return ack
        code = error.get("err_code")
        text = error.get("description", "")
        if code in WRONG_LAST_SEQUENCE:
            raise ConcurrencyConflict(text)
        if code == DUPLICATE_MSG_ID_IN_BATCH:
            raise DuplicateCommand(text)
        if error.get("code") == 503:  # JetStream unavailable for now (no leader, no quorum)
            raise LeaderUnavailable(f"{text} (code {code})", stored_maybe=False)
        raise OperationalError(f"JetStream refused the append: {text} (code {code})")


class Acks:
    """Requests whose answer is a body: the stream's acknowledgements of appends (nats-py's
    ``request``, for any client)."""

    def __init__(self, nc: NATS) -> None:
        self.nc = nc

    async def request(
        self, subject: str, data: bytes, headers: dict[str, str], timeout: float
    ) -> bytes:
        """The answer's body; ``NoRespondersError`` when nobody took the message, a
        ``TimeoutError`` after ``timeout`` s."""
        reply = await self.nc.request(subject, data, headers=headers, timeout=timeout)
        return reply.data


class RawAcks(Acks):
    """The same requests with their answers taken as the frame is read.

    nats-py's ``request`` wraps every answer in a ``Msg`` with a parsed header dict, queues it
    for its inbox subscription's task, which settles the request's future, whose ``wait_for``
    wakes the request: three turns of the bridge's event loop and their objects for each
    append, on the thread that competes with the bot's loop for the interpreter lock. Here one
    raw subscription (:meth:`~gateways.jetstream.headers.Client.subscribe_raw`) on
    ``<inbox>.*`` settles each append's future from the frame itself, and a timer handle stands
    in for ``wait_for``.
    """

    def __init__(self, nc: RawClient) -> None:
        super().__init__(nc)
        self.raw = nc
        self._prefix = ""
        self._ready: asyncio.Future[None] | None = None
        self._waiting: dict[bytes, asyncio.Future[bytes]] = {}
        self._count = 0

    async def _subscribed(self) -> str:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            try:
                inbox = self.raw.new_inbox()
                await self.raw.subscribe_raw(f"{inbox}.*", self._answer)
            except BaseException as error:
                self._ready.set_exception(error)
                self._ready.exception()  # retrieved: only the waiters raise it
                self._ready = None
                raise
            self._prefix = f"{inbox}."
            self._ready.set_result(None)
        else:
            await asyncio.shield(self._ready)
        return self._prefix

    def _answer(self, subject: bytes, _reply: bytes, data: bytes, block: bytes | None) -> None:
        future = self._waiting.pop(subject, None)
        if future is None or future.done():
            return  # given up on already
        if has_status(block) and parse_headers(block).get("Status") == NO_RESPONDERS:
            future.set_exception(nats.errors.NoRespondersError())
        else:
            future.set_result(data)

    async def request(
        self, subject: str, data: bytes, headers: dict[str, str], timeout: float
    ) -> bytes:
        prefix = self._prefix or await self._subscribed()
        self._count += 1
        inbox = f"{prefix}{self._count}"
        key = inbox.encode()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        self._waiting[key] = answer
        timer = loop.call_later(timeout, _time_out, answer)
        try:
            await self.raw.publish(subject, data, reply=inbox, headers=headers)
            return await answer
        finally:
            timer.cancel()
            self._waiting.pop(key, None)


NO_RESPONDERS = "503"


def _time_out(answer: asyncio.Future[bytes]) -> None:
    if not answer.done():
        answer.set_exception(nats.errors.TimeoutError())


def _wildcard(subject: str) -> bool:
    return "*" in subject or subject.endswith(">")


class _DirectBatch:
    """Collects the replies of batched direct gets until each end-of-batch marker."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.records: list[Record] = []
        self.done = asyncio.Event()
        self.pending = 0
        self.last = 0
        self.error = ""

    async def on_message(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if not status:
            self.records.append(self.wire.record_from(msg))
            return
        if status == "204":  # end of batch
            self.pending = int(headers.get("Nats-Num-Pending", 0))
            self.last = int(headers.get("Nats-Last-Sequence", 0))
        elif status == "404":  # nothing at or after the sequence asked for
            self.pending, self.last = 0, 0
        else:
            self.error = str(headers)
        self.done.set()
