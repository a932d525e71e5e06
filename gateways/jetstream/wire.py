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
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

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
_ACTUAL_SEQ = re.compile(r"wrong last sequence: (\d+)")


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


@dataclass(frozen=True)
class Tip:
    """An aggregate's last stored event: its version and its stream sequence."""

    version: int
    seq: int


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
        self.seen = 0  # highest stream sequence known stored: reads ask for at least this much

    def saw(self, seq: int) -> None:
        """Remember that the stream holds ``seq``; later reads answer with at least that much.

        On a replicated stream a direct get may be answered by a follower that lags; with
        ``min_last_seq`` (ADR-52 read-after-write, server 2.12) a lagging follower hands the
        request to the leader instead, so this process never reads older than what it saw.
        """
        self.seen = max(self.seen, seq)

    def _direct_request(self, request: dict[str, Any]) -> bytes:
        if self.seen:
            request["min_last_seq"] = self.seen
        return json.dumps(request).encode()

    # -- reads -------------------------------------------------------------------------------

    async def tip(self, subject: str) -> Tip | None:
        """The last event on a subject, or ``None`` for a new aggregate."""
        body = self._direct_request({"last_by_subj": subject})
        msg = await self.nc.request(self._direct, body, timeout=self.timeout)
        status = (msg.headers or {}).get("Status")
        if status == "404":
            return None
        if status:
            raise OperationalError(f"direct get on {self.layout.stream} failed: {msg.headers}")
        headers = msg.headers or {}
        tip = Tip(version=int(headers[H_VERSION]), seq=int(headers["Nats-Sequence"]))
        self.saw(tip.seq)
        return tip

    async def read(self, subject: str, from_seq: int, limit: int | None = None) -> list[Record]:
        """Events stored on ``subject`` (may be a wildcard) from stream sequence ``from_seq`` on.

        Batched direct gets (ADR-31): one request per ``READ_BATCH`` messages, the replies taken
        by a callback (much cheaper per message than awaiting each one).
        """
        batch = _DirectBatch(self)
        sub = await self.nc.subscribe(self.nc.new_inbox(), cb=batch.on_message)
        try:
            seq = max(from_seq, 1)
            while limit is None or len(batch.records) < limit:
                want = READ_BATCH if limit is None else min(READ_BATCH, limit - len(batch.records))
                request = {"seq": seq, "next_by_subj": subject, "batch": want}
                batch.done.clear()
                await self.nc.publish(
                    self._direct, self._direct_request(request), reply=sub.subject
                )
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
        if batch.records:
            self.saw(batch.records[-1].seq)
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
        if not state.get("messages"):
            return None
        self.saw(int(state["last_seq"]))
        return int(state["last_seq"])

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
                reply = await self._request(subject, data, headers)
                ack = self._ack(reply.data)
                self.saw(int(ack["seq"]))
                if ack.get("duplicate"):
                    raise DuplicateCommand(f"command {command_id!r} was recorded before")
                return [int(ack["seq"])]
            async with self._batches_in_flight:
                seqs = await self._append_batch(messages)
                self.saw(seqs[-1])
                return seqs
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
        reply = await self._request(subject, data, headers)
        ack = self._ack(reply.data)
        end = int(ack["seq"])
        return list(range(end - last + 1, end + 1))

    async def _request(self, subject: str, data: bytes, headers: dict[str, str]) -> Msg:
        """A request whose wait ends early (as a timeout) when the connection drops: its
        answer can never come then, and the append is retried on the next server at once."""
        request = self.nc.request(subject, data, headers=headers, timeout=self.timeout)
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
            if actual := _ACTUAL_SEQ.search(text):
                self.saw(int(actual.group(1)))
            raise ConcurrencyConflict(text)
        if code == DUPLICATE_MSG_ID_IN_BATCH:
            raise DuplicateCommand(text)
        if error.get("code") == 503:  # JetStream unavailable for now (no leader, no quorum)
            raise LeaderUnavailable(f"{text} (code {code})", stored_maybe=False)
        raise OperationalError(f"JetStream refused the append: {text} (code {code})")


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
