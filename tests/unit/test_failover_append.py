"""An append retried across a leader change: same message ids, never stored twice, and a clear
error without a quorum. A scripted fake of the wire stands in for JetStream."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from eventsourcing.persistence import OperationalError, StoredEvent

from gateways.jetstream.layout import Layout
from gateways.jetstream.recorder import NoQuorum, append_through_failover
from gateways.jetstream.wire import DuplicateCommand, LeaderUnavailable, Record

LAYOUT = Layout(stream="EVENTS", prefix="events", replicas=3)
EVENTS = [StoredEvent("game.g1", 4, "game.player_joined.v1", b'{"user_id":"1"}')]


class ScriptedWire:
    """Answers each ``append`` with the next scripted outcome; ``read`` returns ``stored``."""

    def __init__(self, *outcomes: list[int] | Exception, stored: Sequence[Record] = ()) -> None:
        self.layout = LAYOUT
        self.outcomes = list(outcomes)
        self.stored = list(stored)
        self.sent: list[tuple[dict[str, int], str | None]] = []

    async def append(
        self, events: Sequence[StoredEvent], expected: dict[str, int], command_id: str | None
    ) -> list[int]:
        self.sent.append((dict(expected), command_id))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def last_seq(self) -> int | None:
        return max((r.seq for r in self.stored), default=None)

    async def read(self, subject: str, from_seq: int, limit: int | None = None) -> list[Record]:
        return [r for r in self.stored if r.seq >= from_seq]


def lost_answer() -> LeaderUnavailable:
    return LeaderUnavailable("no answer", stored_maybe=True)


def no_leader() -> LeaderUnavailable:
    return LeaderUnavailable("no responders", stored_maybe=False)


async def test_no_responders_is_sent_again_with_the_same_ids() -> None:
    wire = ScriptedWire(no_leader(), no_leader(), [11])
    seqs = await append_through_failover(wire, EVENTS, {"events.game.g1": 7}, "cmd", 5.0)  # type: ignore[arg-type]
    assert seqs == [11]
    assert wire.sent == [({"events.game.g1": 7}, "cmd")] * 3


async def test_a_lost_answer_whose_append_was_stored_returns_the_stored_position() -> None:
    stored = [Record(EVENTS[0], seq=9)]
    wire = ScriptedWire(lost_answer(), DuplicateCommand("seen"), stored=stored)
    seqs = await append_through_failover(wire, EVENTS, {"events.game.g1": 7}, "cmd", 5.0)  # type: ignore[arg-type]
    assert seqs == [9]  # as if the first answer had arrived; nothing appended again


async def test_a_refusal_after_a_lost_answer_is_kept_when_the_log_holds_other_events() -> None:
    other = StoredEvent("game.g1", 4, "game.player_left.v1", b'{"user_id":"2"}')
    wire = ScriptedWire(lost_answer(), DuplicateCommand("seen"), stored=[Record(other, seq=9)])
    with pytest.raises(DuplicateCommand):
        await append_through_failover(wire, EVENTS, {"events.game.g1": 7}, "cmd", 5.0)  # type: ignore[arg-type]


async def test_a_first_refusal_is_not_taken_for_a_retry() -> None:
    wire = ScriptedWire(DuplicateCommand("used before"), stored=[Record(EVENTS[0], seq=9)])
    with pytest.raises(DuplicateCommand):
        await append_through_failover(wire, EVENTS, {"events.game.g1": 7}, "cmd", 5.0)  # type: ignore[arg-type]


async def test_without_a_command_id_a_lost_answer_is_not_retried() -> None:
    wire = ScriptedWire(lost_answer(), [11])
    with pytest.raises(LeaderUnavailable):
        await append_through_failover(wire, EVENTS, {"events.game.g1": 7}, None, 5.0)  # type: ignore[arg-type]
    assert len(wire.sent) == 1


async def test_no_leader_for_the_whole_wait_is_one_clear_error() -> None:
    wire = ScriptedWire(*[no_leader() for _ in range(100)])
    with pytest.raises(NoQuorum) as error:
        await append_through_failover(wire, EVENTS, {"events.game.g1": 7}, "cmd", 0.2)  # type: ignore[arg-type]
    assert isinstance(error.value, OperationalError)
    text = str(error.value)
    assert "stream EVENTS, 3 copies" in text
    assert "majority" in text
    assert "MUSTER_NATS_FAILOVER_WAIT" in text
