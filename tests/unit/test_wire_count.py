"""Wire.count on a replicated stream takes only the leader's answer (scripted replies)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from gateways.jetstream.layout import Layout
from gateways.jetstream.wire import NoQuorum, Wire

SUBJECT = "events.guild.1"


class ScriptedNats:
    """Answers each STREAM.INFO request with the next scripted body."""

    def __init__(self, *bodies: dict[str, Any]) -> None:
        self.bodies = list(bodies)
        self.asked: list[dict[str, Any]] = []

    def jetstream(self, **_: Any) -> None:
        return None

    async def request(self, subject: str, body: bytes, timeout: float) -> Any:
        assert subject == "$JS.API.STREAM.INFO.EVENTS"
        self.asked.append(json.loads(body))
        return SimpleNamespace(data=json.dumps(self.bodies.pop(0)).encode())


def info(count: int, leader: str | None) -> dict[str, Any]:
    return {"state": {"subjects": {SUBJECT: count}}, "cluster": {"leader": leader}}


def wire(nc: ScriptedNats, replicas: int) -> Wire:
    made = Wire(nc, Layout(replicas=replicas), timeout=1.0)  # type: ignore[arg-type]
    made.failover_wait = 0.3
    return made


async def test_a_replica_answering_without_a_leader_is_not_believed() -> None:
    """While a replicated stream has no leader, each replica answers with its own counts,
    maybe older than an acknowledged append: those answers are waited out."""
    nc = ScriptedNats(info(2, None), {"error": {"code": 503, "description": "no leader"}},
                      info(3, "n2"))  # fmt: skip
    assert await wire(nc, 3).count(SUBJECT) == 3
    assert nc.asked == [{"subjects_filter": SUBJECT}] * 3


async def test_no_leader_for_the_whole_wait_is_no_quorum() -> None:
    nc = ScriptedNats(*[info(2, None)] * 50)
    with pytest.raises(NoQuorum):
        await wire(nc, 3).count(SUBJECT)


async def test_one_server_needs_no_leader_and_a_subject_never_written_is_0() -> None:
    nc = ScriptedNats({"state": {"messages": 0}, "cluster": {}})
    assert await wire(nc, 1).count(SUBJECT) == 0


async def test_other_errors_are_operational() -> None:
    nc = ScriptedNats({"error": {"code": 500, "description": "boom"}})
    with pytest.raises(OperationalError, match="boom"):
        await wire(nc, 1).count(SUBJECT)
