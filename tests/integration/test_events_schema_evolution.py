"""An old log (game.started.v1, written before v2) replays into today's read models and domain."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from nats.aio.client import Client as NATS

from domain.app import MusterApp
from domain.commands import CompleteGame
from domain.events import GameCreated, GameDetails, PlayerJoined, type_name
from gateways.jetstream.layout import H_MSG_ID, event_headers
from gateways.postgres import connect
from projections import queries
from projections.replay import rebuild_and_compare
from projections.timetravel import game_history
from tests.integration.conftest import layout_of, project_until

pytestmark = pytest.mark.integration

GAME = "game.5b7e8a35-0000-4000-8000-000000000001"
WHEN = datetime(2026, 12, 1, 20, tzinfo=UTC)


async def write_old_log(nc: NATS, env: dict[str, str]) -> int:
    """A log as Muster wrote it before game.started.v2: raw v1 bodies, as stored then."""
    layout = layout_of(env)
    js = nc.jetstream()
    await js.add_stream(layout.stream_config())
    stamp = {"actor_id": "100", "occurred_at": WHEN - timedelta(days=1)}
    current = [
        GameCreated(
            **stamp,
            command_id="c1",
            guild_id="1",
            channel_id="2",
            host_id="100",
            scheduled_at=WHEN,
            details=GameDetails(title="Old"),
        ),
        PlayerJoined(**stamp, command_id="c2", user_id="201", joined_count=1, max_players=4),
    ]
    messages = [(type_name(type(e)), msgspec.json.encode(e)) for e in current]
    v1 = {"type": "game.started.v1", "command_id": "c3", "actor_id": "0",
          "occurred_at": "2026-12-01T20:00:00Z"}  # fmt: skip
    messages.append(("game.started.v1", json.dumps(v1).encode()))
    for version, (topic, body) in enumerate(messages, start=1):
        headers = {**event_headers(topic, version), H_MSG_ID: f"old-{version}:0"}
        await js.publish(layout.subject_for(GAME), body, headers=headers)
    return len(messages)


async def test_an_old_log_replays_into_the_new_read_models(
    event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    last = await write_old_log(nc, event_log_env)
    progress = await project_until(nc, event_log_env, database_url, read_schema, last)
    assert (progress.applied, progress.parked) == (3, 0)
    conn = await connect(database_url, read_schema)
    try:
        detail = await queries.game_detail(conn, GAME.removeprefix("game."))
        assert detail is not None
        assert (detail.status, detail.joined_count) == ("in_progress", 1)
    finally:
        await conn.close()
    _, _, differences = await rebuild_and_compare(
        nc, layout_of(event_log_env), database_url, read_schema
    )
    assert differences == []
    steps = await game_history(nc, layout_of(event_log_env), GAME, 5)
    assert steps[-1].topic == "game.started.v1"  # the log is never rewritten
    assert steps[-1].event.started_by == "schedule"  # type: ignore[attr-defined]


def test_the_domain_reads_an_old_log_and_writes_the_new_version(
    event_log_env: dict[str, str], nats_url: str
) -> None:
    async def old() -> None:
        import nats

        client = await nats.connect(nats_url)
        await write_old_log(client, event_log_env)
        await client.close()

    asyncio.run(old())
    app = MusterApp(env=event_log_env)
    try:
        app.handle(CompleteGame(command_id="done", user_id="0", game_id=GAME.split(".", 1)[1]))
        assert app.game(GAME.split(".", 1)[1]).status == "completed"
    finally:
        app.close()
