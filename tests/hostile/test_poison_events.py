"""Poison events appended straight to the ``EVENTS`` stream, as a buggy or hostile writer could:
every projector parks what it cannot read (with the reason), goes on with the rest, and nothing
dies — the read models, the Discord projection, the scheduler and the web all keep working, and
``/api/v1/status`` and ``muster doctor`` show the parked events."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from deploy.doctor import check_projections
from domain.events import GameCreated, GameDetails
from gateways.health import HealthReporter
from gateways.jetstream.layout import H_TOPIC, H_VERSION, event_headers
from gateways.postgres import connect
from projections import queries
from tests.hostile.common import shown
from tests.integration.api.harness import WebStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOW = "2026-01-01T00:00:00Z"


def joined(user: str) -> bytes:
    return json.dumps({"type": "game.player_joined.v1", "command_id": f"x-{user}",
                       "actor_id": user, "occurred_at": NOW, "user_id": user}).encode()  # fmt: skip


def unstorable() -> bytes:
    """A well-formed creation whose title holds NUL, which PostgreSQL text cannot store (the
    domain refuses it now; an older writer or another tool might not)."""
    return msgspec.json.encode(GameCreated(
        command_id="nul", actor_id="1", occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        guild_id="1", channel_id="2", host_id="1", scheduled_at=datetime(2031, 1, 1, tzinfo=UTC),
        details=GameDetails(title="bad\x00title"),
    ))  # fmt: skip


def unstorable_json() -> bytes:
    """A creation whose house rules hold NUL: no text column holds them, so psycopg sends the
    rows and PostgreSQL itself refuses the ``jsonb`` (``\\u0000``) inside a pipelined batch."""
    return msgspec.json.encode(GameCreated(
        command_id="nul-json", actor_id="1", occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        guild_id="1", channel_id="2", host_id="1", scheduled_at=datetime(2031, 1, 1, tzinfo=UTC),
        details=GameDetails(title="Rules", rules="no\x00rules"),
    ))  # fmt: skip


def created_body() -> bytes:
    """A well-formed game.created: only its subject is wrong."""
    return msgspec.json.encode(GameCreated(
        command_id="subject", actor_id="1", occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        guild_id="1", channel_id="2", host_id="1", scheduled_at=datetime(2031, 1, 1, tzinfo=UTC),
        details=GameDetails(title="Subject"),
    ))  # fmt: skip


def poisons(prefix: str, real_game: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(what, subject, headers, body) for each kind of poison."""
    new = lambda: f"{prefix}.game.{uuid.uuid4()}"  # noqa: E731
    huge = json.dumps({"type": "game.player_joined.v1", "junk": "x" * 600_000}).encode()
    return [
        ("undecodable body", new(), event_headers("game.player_joined.v1", 1), b"\xff\x00{not"),
        ("unknown type", new(), event_headers("game.renamed.v1", 1), b"{}"),
        ("wrong schema version", new(), event_headers("game.player_joined.v99", 1), joined("7")),
        ("event for an unknown game", new(), event_headers("game.player_joined.v1", 1),
         joined("8")),
        ("huge event", new(), event_headers("game.player_joined.v1", 1), huge),
        ("no Muster headers", new(), {}, joined("9")),
        ("version not a number", new(), {H_VERSION: "one", H_TOPIC: "game.player_joined.v1"},
         joined("10")),
        ("subject with a bad uuid", f"{prefix}.uuid.not-a-uuid",
         event_headers("game.player_joined.v1", 1), joined("11")),
        ("game subject not a uuid", f"{prefix}.game.not-a-uuid",
         event_headers("game.created.v1", 1), created_body()),
        ("game subject of two uuids", f"{prefix}.game.{uuid.uuid4()},{uuid.uuid4()}",
         event_headers("game.created.v1", 1), created_body()),
        ("game subject in upper case", f"{prefix}.game.{str(uuid.uuid4()).upper()}",
         event_headers("game.created.v1", 1), created_body()),
        ("guild settings not an object", f"{prefix}.guild.1", event_headers(
            "guild.configured.v1", 1), b"[1, 2, 3]"),
        ("a game PostgreSQL cannot store", new(), event_headers("game.created.v1", 1),
         unstorable()),
        ("a game whose JSON PostgreSQL cannot store", new(),
         event_headers("game.created.v1", 1), unstorable_json()),
        ("garbage on a real game", f"{prefix}.game.{real_game}",
         event_headers("game.player_left.v1", 2), b"null"),
    ]  # fmt: skip


@pytest.fixture
def scheduler(web_stack: WebStack) -> Iterator[tuple[HealthReporter, Any]]:
    """The real scheduler on the stack's loop, with a health reporter the test can read."""

    async def start() -> tuple[HealthReporter, asyncio.Event, asyncio.Task[None]]:
        from projections.scheduler import NoDiscord, Scheduler, run_scheduler

        container = web_stack.container
        nc = await container.nats()
        health = HealthReporter(nc, f"scheduler-{uuid.uuid4().hex[:6]}")
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_scheduler(
            Scheduler(container.commands, NoDiscord()), nc=nc, layout=container.layout,
            database_url=container.database_url, schema=container.settings.database_schema,
            stop=stop, health=health,
        ))  # fmt: skip
        return health, stop, task

    health, stop, task = web_stack.call(start())
    yield health, task
    web_stack.loop.call_soon_threadsafe(stop.set)
    web_stack.call(asyncio.wait_for(task, 20))


def test_poison_events_are_parked_and_nothing_dies(
    web_stack: WebStack, scheduler: tuple[HealthReporter, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="muster.supervise")
    health, scheduler_task = scheduler
    hana = web_stack.login("hana")
    body = {"guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": "Before",
            "scheduled_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}  # fmt: skip
    made = hana.post("/api/v1/games", json=body)
    assert made.status_code == 201, made.text
    real = made.json()["game_id"]
    web_stack.call(web_stack.announcement(real))
    before = shown(hana.get(f"/api/v1/games/{real}").json())

    container = web_stack.container
    prefix = container.layout.prefix

    async def append_all() -> list[tuple[str, int]]:
        nc = await container.nats()
        stored = []
        for what, subject, headers, data in poisons(prefix, real):
            ack = json.loads((await nc.request(subject, data, headers=headers, timeout=10)).data)
            assert "error" not in ack, (what, ack)
            stored.append((what, int(ack["seq"])))
        return stored

    stored = web_stack.call(append_all())

    # After the poison, ordinary work still flows through every projector.
    body["title"] = "After"
    after = hana.post("/api/v1/games", json=body)
    assert after.status_code == 201, after.text
    after_id = after.json()["game_id"]
    web_stack.call(web_stack.announcement(after_id))  # the Discord projection posted it
    assert hana.get(f"/api/v1/games/{after_id}").json()["title"] == "After"
    assert shown(hana.get(f"/api/v1/games/{real}").json()) == before  # nothing else changed
    bob = web_stack.login("bob")
    join = bob.post(f"/api/v1/games/{real}/join")
    assert join.status_code < 500, join.text  # the game with garbage in its log still answers

    async def parked() -> list[tuple[str, int, str, str, str]]:
        conn = await connect(container.database_url, container.settings.database_schema)
        try:
            return await queries.parked_events(conn)
        finally:
            await conn.close()

    rows = web_stack.call(parked())
    read_models = {position: error for projector, position, _, _, error in rows
                   if projector == "read_models"}  # fmt: skip
    missing = [(what, seq) for what, seq in stored if seq not in read_models]
    assert not missing, f"not parked by the read models: {missing}"
    assert all(read_models[seq].strip() for _, seq in stored), read_models

    status = hana.get("/api/v1/status").json()
    assert status["parked_events"] >= len(stored)
    check = check_projections(web_stack.settings)
    assert f"{status['parked_events']} parked event(s)" in check.problem
    assert "retry-parked" in (check.fix or "")

    async def scheduler_position() -> int:
        last = stored[-1][1]
        for _ in range(400):
            position = int(health.figures().get("position", 0))
            if position > last:
                return position
            await asyncio.sleep(0.05)
        return int(health.figures().get("position", 0))

    assert web_stack.call(scheduler_position()) > stored[-1][1], "the scheduler stopped reading"
    assert health.state == "running"
    assert not scheduler_task.done()
    died = [r.getMessage() for r in caplog.records if r.name == "muster.supervise"]
    assert not died, died
