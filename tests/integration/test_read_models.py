"""The read models: what the queries return after commands, read-your-writes, duplicates, poison."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from domain.app import MusterApp
from domain.commands import (
    AddPlaceholder,
    ConfigureChannel,
    CreateGame,
    JoinGame,
    LeaveGame,
    RecordReminder,
)
from gateways.jetstream.layout import H_EXPECTED_LAST_SUBJECT_SEQ, event_headers
from gateways.postgres import connect
from projections import queries
from projections.feed import LogMessage
from projections.freshness import ProjectionBehind, wait_for_position
from projections.read_models import Parked, ReadModels
from projections.runner import ProjectionRunner, retry_parked
from tests.integration.conftest import layout_of, project_until

pytestmark = pytest.mark.integration

MANAGER = 0x20
SOON = datetime.now(UTC) + timedelta(hours=2)


def create(app: MusterApp, **extra: Any) -> str:
    outcome = app.handle(CreateGame(
        command_id=f"create-{extra.get('title', 'g')}", user_id="100", permissions=MANAGER,
        guild_id="1", channel_id="2", title=extra.pop("title", "Catan"), scheduled_at=SOON,
        **extra,
    ))  # fmt: skip
    assert outcome.game_id is not None
    return outcome.game_id


@pytest.fixture
def app(event_log_env: dict[str, str]) -> Any:
    application = MusterApp(env=event_log_env)
    yield application
    application.close()


async def test_queries_after_joins_leaves_and_settings(
    app: MusterApp, event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    game = create(app, max_players=2)
    for user in ("201", "202", "203", "204"):
        app.handle(JoinGame(command_id=f"join-{user}", user_id=user, game_id=game))
    app.handle(AddPlaceholder(command_id="ph", user_id="100", permissions=MANAGER, game_id=game,
                              label="Bob's friend"))  # fmt: skip
    outcome = app.handle(LeaveGame(command_id="leave-201", user_id="201", game_id=game))
    assert outcome.promoted == ("203",)
    app.handle(ConfigureChannel(command_id="cfg", user_id="100", permissions=0x10, guild_id="1",
                                channel_id="2", reminder_minutes=(30,)))  # fmt: skip
    last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    await project_until(nc, event_log_env, database_url, read_schema, last)

    conn = await connect(database_url, read_schema)
    try:
        detail = await queries.game_detail(conn, game)
        assert detail is not None
        assert (detail.title, detail.status, detail.joined_count, detail.waitlist_count) == (
            "Catan", "scheduled", 2, 1)  # fmt: skip
        assert [(p.kind, p.user_id or p.label) for p in detail.participants] == [
            ("joined", "202"), ("joined", "203"), ("waitlisted", "204"),
            ("placeholder", "Bob's friend"),
        ]  # fmt: skip
        assert detail.settings.max_players == 2  # the game's own override
        assert detail.settings.reminder_minutes == (30,)  # inherited from the channel
        mine = await queries.games_of_user(conn, "204")
        assert [g.game_id for g in mine["waitlisted"]] == [game]
        assert [g.game_id for g in (await queries.games_of_user(conn, "100"))["hosted"]] == [game]
        assert [g.game_id for g in await queries.games_in_channel(conn, "2")] == [game]
        timeline = await queries.game_timeline(conn, game)
        assert [e.type for e in timeline][-2:] == ["game.player_left.v1", "game.player_promoted.v1"]
        assert timeline[-1].command_id == "leave-201"
        due = await queries.upcoming_reminders(
            conn, SOON - timedelta(minutes=31), timedelta(hours=1)
        )
        assert {(r.user_id, r.offset_minutes) for r in due} == {("202", 30), ("203", 30)}
    finally:
        await conn.close()


async def test_recorded_reminders_are_not_due_again(
    app: MusterApp, event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    game = create(app, reminder_minutes=(60, 15))
    app.handle(JoinGame(command_id="j", user_id="201", game_id=game))
    app.handle(RecordReminder(command_id="r", user_id="0", game_id=game, recipient_id="201",
                              offset_minutes=60, scheduled_at=SOON, status="sent"))  # fmt: skip
    await project_until(nc, event_log_env, database_url, read_schema,
                        app.recorder.max_notification_id())  # type: ignore[attr-defined]  # fmt: skip
    conn = await connect(database_url, read_schema)
    try:
        due = await queries.upcoming_reminders(conn, SOON, timedelta(0))
        assert [(r.user_id, r.offset_minutes) for r in due] == [("201", 15)]
    finally:
        await conn.close()


async def test_read_your_writes(
    app: MusterApp, event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    game = create(app)
    stop = asyncio.Event()
    runner = ProjectionRunner(nc, layout_of(event_log_env), database_url, read_schema)
    task = asyncio.create_task(runner.run(stop))
    conn = await connect(database_url, read_schema)
    try:
        outcome = await asyncio.to_thread(
            app.handle, JoinGame(command_id="j1", user_id="201", game_id=game)
        )
        await wait_for_position(conn, outcome.notification_ids[-1], timeout=5)
        participants = await queries.participants_of(conn, game)
        assert [p.user_id for p in participants] == ["201"]
        with pytest.raises(ProjectionBehind):
            await wait_for_position(conn, outcome.notification_ids[-1] + 1000, timeout=0.2)
    finally:
        stop.set()
        await task
        await conn.close()


async def raw_append(
    nc: NATS, env: dict[str, str], game: str, version: int, topic: str, body: bytes,
    msg_id: str, expected: int,
) -> int:  # fmt: skip
    """Store a message as another writer could, bypassing the domain's checks."""
    headers = event_headers(topic, version)
    headers[H_EXPECTED_LAST_SUBJECT_SEQ] = str(expected)
    headers["Nats-Msg-Id"] = msg_id
    subject = layout_of(env).subject_for(f"game.{game}")
    reply = await nc.request(subject, body, headers=headers, timeout=5)
    ack = json.loads(reply.data)
    assert "error" not in ack, ack
    return int(ack["seq"])


async def test_duplicates_stored_after_the_window_and_redeliveries_change_nothing(
    event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    layout = layout_of(event_log_env)
    await nc.jetstream().add_stream(layout.stream_config(), duplicate_window=0.2)
    app = MusterApp(env=event_log_env)
    try:
        game = create(app)
        app.handle(JoinGame(command_id="j1", user_id="201", game_id=game))
    finally:
        app.close()
    await asyncio.sleep(0.3)  # the broker forgets msg id "j1:0"
    join = await nc.jetstream().get_msg(layout.stream, seq=2)
    assert (join.headers or {})["Nats-Msg-Id"] == "j1:0"
    seq = await raw_append(nc, event_log_env, game, 3, "game.player_joined.v1",
                           join.data or b"", "j1:0", expected=2)  # fmt: skip
    assert seq == 3  # stored again: only the projection can tell
    progress = await project_until(nc, event_log_env, database_url, read_schema, 3)
    assert (progress.applied, progress.duplicates, progress.parked) == (2, 1, 0)

    conn = await connect(database_url, read_schema)
    try:
        assert [p.user_id for p in await queries.participants_of(conn, game)] == ["201"]
        # A redelivered batch (same positions again) is skipped as a whole.
        redelivered = LogMessage(seq=2, aggregate_id=f"game.{game}", version=2,
                                 topic="game.player_joined.v1", msg_id="j1:0",
                                 body=join.data or b"")  # fmt: skip
        async with conn.transaction():
            result = await ReadModels().apply(conn, [redelivered])
        assert (result.applied, result.skipped_duplicates) == (0, 1)
        assert [p.user_id for p in await queries.participants_of(conn, game)] == ["201"]
        assert len(await queries.game_timeline(conn, game)) == 2
    finally:
        await conn.close()


async def test_poison_events_are_parked_and_the_rest_still_projects(
    app: MusterApp, event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    game = create(app)
    other = create(app, title="Azul")
    leave = json.dumps({"type": "game.player_left.v1", "command_id": "bad", "actor_id": "999",
                        "occurred_at": "2026-01-01T00:00:00Z", "user_id": "999",
                        "from_waitlist": False}).encode()  # fmt: skip
    await raw_append(nc, event_log_env, game, 2, "game.player_left.v1", leave, "bad:0", 1)
    await raw_append(nc, event_log_env, game, 3, "game.renamed.v9", b"{}", "odd:0", 3)
    outcome = app.handle(JoinGame(command_id="j1", user_id="201", game_id=other))
    assert outcome.notification_ids == (5,)
    progress = await project_until(nc, event_log_env, database_url, read_schema, 5)
    assert (progress.applied, progress.parked) == (3, 2)

    conn = await connect(database_url, read_schema)
    try:
        assert [p.user_id for p in await queries.participants_of(conn, other)] == ["201"]
        parked = await queries.parked_events(conn)
        assert [(p[1], p[3]) for p in parked] == [
            (3, "game.player_left.v1"),
            (4, "game.renamed.v9"),
        ]
        assert "ValueError" in parked[0][4]
        assert "unknown event type" in parked[1][4]
    finally:
        await conn.close()
    fixed, still = await retry_parked(nc, layout_of(event_log_env), database_url, read_schema)
    assert (fixed, still) == (0, 2)  # still poison: they stay parked, with more attempts


async def test_projector_recovers_when_its_consumer_disappears(
    app: MusterApp, event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    game = create(app)
    layout = layout_of(event_log_env)
    stop = asyncio.Event()
    runner = ProjectionRunner(nc, layout, database_url, read_schema)
    task = asyncio.create_task(runner.run(stop))
    conn = await connect(database_url, read_schema)
    try:
        await wait_for_position(conn, 1, timeout=10)
        js = nc.jetstream()
        for info in await js.consumers_info(layout.stream):  # as if the server lost it
            await js.delete_consumer(layout.stream, info.name)
        outcome = await asyncio.to_thread(
            app.handle, JoinGame(command_id="j1", user_id="201", game_id=game)
        )
        await wait_for_position(conn, outcome.notification_ids[-1], timeout=10)
        assert [p.user_id for p in await queries.participants_of(conn, game)] == ["201"]
    finally:
        stop.set()
        await task
        await conn.close()


class FailsOnce(ReadModels):
    """A projection with a bug on one event (as if fixed by the next deploy)."""

    def __init__(self, bad_seq: int) -> None:
        super().__init__()
        self.bad_seq = bad_seq

    def fold(self, message: LogMessage, result: Any) -> Any:
        if message.seq == self.bad_seq:
            result.parked.append(Parked(message, "RuntimeError: the bug"))
            return None
        return super().fold(message, result)


async def test_retry_parked_refolds_the_game_in_log_order(
    app: MusterApp, event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> None:
    game = create(app)
    app.handle(JoinGame(command_id="j1", user_id="201", game_id=game))  # seq 2: parked
    app.handle(JoinGame(command_id="j2", user_id="202", game_id=game))  # seq 3
    layout = layout_of(event_log_env)
    runner = ProjectionRunner(nc, layout, database_url, read_schema, projection=FailsOnce(2))
    await asyncio.wait_for(runner.run(asyncio.Event(), until=3), 30)
    conn = await connect(database_url, read_schema)
    try:
        assert [p.user_id for p in await queries.participants_of(conn, game)] == ["202"]
        assert [p[1] for p in await queries.parked_events(conn)] == [2]
        await conn.rollback()
        fixed, still = await retry_parked(nc, layout, database_url, read_schema)
        assert (fixed, still) == (1, 0)
        assert [p.user_id for p in await queries.participants_of(conn, game)] == ["201", "202"]
        assert [e.position for e in await queries.game_timeline(conn, game)] == [1, 2, 3]
        assert await queries.parked_events(conn) == []
    finally:
        await conn.close()
