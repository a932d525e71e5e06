"""The log's guarantees beyond eventsourcing's contract: races, repeats, bad streams, timeouts."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import nats
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from nats.js.api import StorageType, StreamConfig

from gateways.jetstream import (
    DuplicateCommand,
    Factory,
    IncompatibleStream,
    JetStreamApplicationRecorder,
)
from gateways.jetstream.layout import event_headers
from gateways.jetstream.recorder import TipCache
from gateways.jetstream.wire import Tip, Wire

pytestmark = pytest.mark.integration
TOPIC = "game.player_joined.v1"


@pytest.fixture
def recorder(event_log_env: dict[str, str]) -> Iterator[JetStreamApplicationRecorder]:
    factory = Factory(event_log_env)
    recorder = factory.application_recorder()
    assert isinstance(recorder, JetStreamApplicationRecorder)
    yield recorder
    factory.close()


def event(aggregate: str, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=aggregate, originator_version=version, topic="game.player_joined.v1",
        state=state,
    )  # fmt: skip


def test_concurrent_appends_at_one_position_exactly_one_wins(
    event_log_env: dict[str, str],
) -> None:
    game = f"game.{uuid.uuid4()}"
    setup = Factory(event_log_env)
    setup.application_recorder().insert_events([event(game, 1)])
    setup.close()
    # Separate factories = separate connections and tip caches, like separate processes.
    factories = [Factory(event_log_env) for _ in range(8)]
    recorders = [f.application_recorder() for f in factories]
    for r in recorders:  # each one has seen version 1 (same expected position)
        assert len(r.select_events(game)) == 1
    start = threading.Barrier(len(recorders))

    def append(index: int) -> str:
        start.wait()
        try:
            recorders[index].insert_events([event(game, 2, f'{{"by":{index}}}'.encode())])
        except IntegrityError:
            return "conflict"
        return "won"

    with ThreadPoolExecutor(len(recorders)) as pool:
        results = list(pool.map(append, range(len(recorders))))
    assert results.count("won") == 1
    assert results.count("conflict") == len(recorders) - 1
    stored = recorders[0].select_events(game)
    assert [e.originator_version for e in stored] == [1, 2]
    for f in factories:
        f.close()


def test_repeated_msg_id_stores_nothing_new(recorder: JetStreamApplicationRecorder) -> None:
    game, other = f"game.{uuid.uuid4()}", f"game.{uuid.uuid4()}"
    ids = recorder.insert_events([event(game, 1)], command_id="interaction-1")
    assert ids == [1]
    with pytest.raises(DuplicateCommand):  # same command again, even on another aggregate
        recorder.insert_events([event(other, 1)], command_id="interaction-1")
    with pytest.raises(DuplicateCommand):  # and as a multi-event (atomic batch) append
        recorder.insert_events([event(other, 1), event(other, 2)], command_id="interaction-1")
    assert recorder.max_notification_id() == 1
    assert recorder.select_events(other) == []


def test_multi_aggregate_append_is_atomic(recorder: JetStreamApplicationRecorder) -> None:
    game, guild = f"game.{uuid.uuid4()}", "guild.1234"
    recorder.insert_events([event(guild, 1)])
    with pytest.raises(IntegrityError):  # guild version 1 exists: nothing of this append lands
        recorder.insert_events([event(game, 1), event(game, 2), event(guild, 1)])
    assert recorder.select_events(game) == []
    assert recorder.insert_events([event(game, 1), event(guild, 2)]) == [2, 3]


def test_an_idle_subjects_tip_is_dropped_and_read_from_the_stream_again(
    recorder: JetStreamApplicationRecorder,
) -> None:
    now = [0.0]
    recorder.tips = TipCache(idle=60.0, clock=lambda: now[0])
    game, other = f"game.{uuid.uuid4()}", f"game.{uuid.uuid4()}"
    recorder.insert_events([event(game, 1)])
    assert recorder.tips.get(recorder.layout.subject_for(game)) is not None
    now[0] = 61.0
    recorder.insert_events([event(other, 1)])
    assert recorder.tips.get(recorder.layout.subject_for(game)) is None
    assert len(recorder.tips) == 1
    with pytest.raises(IntegrityError):  # still refused: the tip is read from the stream
        recorder.insert_events([event(game, 1)])
    assert recorder.insert_events([event(game, 2)]) == [3]
    assert [e.originator_version for e in recorder.select_events(game, gt=1)] == [2]


def test_subjects_and_headers_are_readable_without_python(
    recorder: JetStreamApplicationRecorder, event_log_env: dict[str, str]
) -> None:
    game = f"game.{uuid.uuid4()}"
    recorder.insert_events([event(game, 1, b'{"user_id":"42"}')], command_id="c-7")

    async def raw() -> nats.aio.msg.Msg:
        nc = await nats.connect(event_log_env["MUSTER_NATS_URL"])
        try:
            return await nc.jetstream().get_last_msg(
                event_log_env["MUSTER_EVENTS_STREAM"],
                f"{event_log_env['MUSTER_EVENTS_SUBJECT_PREFIX']}.{game}",
            )
        finally:
            await nc.close()

    msg = asyncio.run(raw())
    assert msg.data == b'{"user_id":"42"}'
    assert msg.headers is not None
    assert msg.headers["Muster-Event-Type"] == "game.player_joined"
    assert msg.headers["Muster-Event-Version"] == "1"
    assert msg.headers["Muster-Originator-Version"] == "1"
    assert msg.headers["Nats-Msg-Id"] == "c-7:0"


def test_incompatible_existing_stream_is_refused(nats_url: str) -> None:
    tag = uuid.uuid4().hex[:10]

    async def create_bad_stream() -> None:
        nc = await nats.connect(nats_url)
        await nc.jetstream().add_stream(
            StreamConfig(name=f"BAD_{tag}", subjects=[f"b{tag}.>"], storage=StorageType.MEMORY,
                         max_age=3600)
        )  # fmt: skip
        await nc.close()

    async def drop() -> None:
        nc = await nats.connect(nats_url)
        await nc.jetstream().delete_stream(f"BAD_{tag}")
        await nc.close()

    asyncio.run(create_bad_stream())
    env = {"MUSTER_NATS_URL": nats_url, "MUSTER_EVENTS_STREAM": f"BAD_{tag}",
           "MUSTER_EVENTS_SUBJECT_PREFIX": f"b{tag}"}  # fmt: skip
    factory = Factory(env)
    try:
        with pytest.raises(IncompatibleStream) as refused:
            factory.application_recorder()
        message = str(refused.value)
        assert "storage is not file" in message
        assert "max_age" in message
        assert "allow_atomic" in message
    finally:
        factory.close()
        asyncio.run(drop())


def test_unreachable_nats_fails_fast_with_url_and_hint() -> None:
    factory = Factory({"MUSTER_NATS_URL": "nats://127.0.0.1:9", "MUSTER_NATS_TIMEOUT": "0.5"})
    started = time.monotonic()
    with pytest.raises(OperationalError, match=r"nats://127\.0\.0\.1:9.*muster doctor"):
        factory.application_recorder()
    assert time.monotonic() - started < 3
    factory.close()


def test_silent_server_times_out(event_log_env: dict[str, str]) -> None:
    """A server that accepts TCP but never answers: calls end within the timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    factory = Factory({"MUSTER_NATS_URL": f"nats://127.0.0.1:{port}", "MUSTER_NATS_TIMEOUT": "0.5"})
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match=str(port)):
            factory.application_recorder()
        assert time.monotonic() - started < 4
    finally:
        factory.close()
        listener.close()


class CountingWire:
    """Counts the reads a recorder's wire makes (the real wire does them)."""

    def __init__(self, recorder: JetStreamApplicationRecorder) -> None:
        self.reads: list[tuple[str, int]] = []
        wire, read = recorder.wire, recorder.wire.read

        async def counted(subject: str, from_seq: int, limit: int | None = None) -> Any:
            self.reads.append((subject, from_seq))
            return await read(subject, from_seq, limit)

        wire.read = counted  # type: ignore[method-assign]


def test_nothing_newer_is_asked_of_the_index_not_read(
    recorder: JetStreamApplicationRecorder, event_log_env: dict[str, str]
) -> None:
    """Asking whether an aggregate changed (the settings, every second) reads nothing when it
    did not: a direct get after the tip made NATS load the tip's whole file block (8 MB in a
    long log; the 100-minute soak's NATS held three). A change by another process or another
    writer is still read."""
    guild = f"guild.{uuid.uuid4()}"
    subject = recorder.layout.subject_for(guild)
    recorder.insert_events([event(guild, 1), event(guild, 2)])
    wire = CountingWire(recorder)
    assert recorder.select_events(guild, gt=2) == []
    assert wire.reads == []
    assert recorder.tips.get(subject) == Tip(2, 2, 2)

    other = Factory(event_log_env)  # another process appends
    try:
        other.application_recorder().insert_events([event(guild, 3)])
    finally:
        other.close()
    assert [e.originator_version for e in recorder.select_events(guild, gt=2)] == [3]
    assert wire.reads == [(subject, 3)]
    assert recorder.select_events(guild, gt=3) == []
    assert len(wire.reads) == 1

    async def foreign() -> None:  # a writer that is not Muster's recorder
        nc = await nats.connect(event_log_env["MUSTER_NATS_URL"])
        try:
            headers = event_headers(TOPIC, 4)
            await nc.jetstream().publish(subject, b"{}", headers=headers)
        finally:
            await nc.close()

    asyncio.run(foreign())
    assert [e.originator_version for e in recorder.select_events(guild, gt=3)] == [4]
    assert recorder.tips.get(subject) == Tip(4, 4, 4)

    async def garbage() -> None:  # no Muster headers: the read cannot decode it, and skips it
        nc = await nats.connect(event_log_env["MUSTER_NATS_URL"])
        try:
            await nc.jetstream().publish(subject, b"garbage")
            await nc.jetstream().publish(subject, b"{}", headers=event_headers(TOPIC, 5))
        finally:
            await nc.close()

    asyncio.run(garbage())
    assert [e.originator_version for e in recorder.select_events(guild, gt=4)] == [5]
    assert recorder.tips.get(subject) == Tip(5, 6, 5)  # one message short: never believed
    assert [e.originator_version for e in recorder.select_events(guild, gt=5)] == []
    assert wire.reads[-1] == (subject, 7)  # so the next check reads (and finds nothing)


def test_a_tip_read_alone_has_no_count_until_the_subject_is_read_whole(
    recorder: JetStreamApplicationRecorder,
) -> None:
    game = f"game.{uuid.uuid4()}"
    subject = recorder.layout.subject_for(game)
    recorder.insert_events([event(game, 1)])
    recorder.tips.drop(subject)
    recorder.insert_events([event(game, 2)])  # its tip read by a direct get: no count
    assert recorder.tips.get(subject) == Tip(2, 2, None)
    wire = CountingWire(recorder)
    assert recorder.select_events(game, gt=2) == []
    assert wire.reads == [(subject, 1)]  # read whole once, counted from then on
    assert recorder.tips.get(subject) == Tip(2, 2, 2)
    assert recorder.select_events(game, gt=2) == []
    assert len(wire.reads) == 1


def test_count_of_a_subject_with_no_message_is_0(
    recorder: JetStreamApplicationRecorder, event_log_env: dict[str, str]
) -> None:
    async def count(subject: str) -> int:
        nc = await nats.connect(event_log_env["MUSTER_NATS_URL"])
        try:
            return await Wire(nc, recorder.layout, 5.0).count(subject)
        finally:
            await nc.close()

    game = f"game.{uuid.uuid4()}"
    assert asyncio.run(count(recorder.layout.subject_for(game))) == 0
    recorder.insert_events([event(game, 1), event(game, 2)])
    assert asyncio.run(count(recorder.layout.subject_for(game))) == 2
