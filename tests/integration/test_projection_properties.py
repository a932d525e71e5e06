"""Property: for random valid command sequences, the read model equals a reference fold."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.app import MusterApp
from domain.commands import (
    AddPlaceholder,
    CancelGame,
    ClaimPlaceholder,
    CreateGame,
    JoinGame,
    LeaveGame,
    RemovePlaceholder,
    StartGame,
    UpdateGame,
)
from domain.errors import DomainError
from gateways.postgres import connect
from projections import queries
from tests.conftest import drop_log, fresh_log_env
from tests.integration.conftest import project_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = [str(200 + n) for n in range(8)]
TABLES = ("games", "participants", "reminders", "timeline", "projector_position", "parked_events")
MANAGER = 0x20

step = st.one_of(
    st.tuples(st.just("join"), st.sampled_from(USERS)),
    st.tuples(st.just("leave"), st.sampled_from(USERS)),
    st.tuples(st.just("placeholder"), st.sampled_from(["Ann", "Bo", "Cy"])),
    st.tuples(st.just("unplace"), st.integers(1, 4)),
    st.tuples(st.just("claim"), st.tuples(st.integers(1, 4), st.sampled_from(USERS))),
    st.tuples(st.just("cap"), st.integers(1, 4)),
    st.tuples(st.just("start"), st.none()),
    st.tuples(st.just("cancel"), st.none()),
)


def command(game: str, index: int, kind: str, arg: Any) -> Any:
    cid = f"c{index}"
    match kind:
        case "join":
            return JoinGame(command_id=cid, user_id=arg, game_id=game)
        case "leave":
            return LeaveGame(command_id=cid, user_id=arg, game_id=game)
        case "placeholder":
            return AddPlaceholder(
                command_id=cid, user_id="100", permissions=MANAGER, game_id=game, label=arg
            )
        case "unplace":
            return RemovePlaceholder(
                command_id=cid, user_id="100", permissions=MANAGER, game_id=game, placeholder_id=arg
            )
        case "claim":
            return ClaimPlaceholder(
                command_id=cid, user_id=arg[1], game_id=game, placeholder_id=arg[0]
            )
        case "cap":
            return UpdateGame(
                command_id=cid, user_id="100", permissions=MANAGER, game_id=game, max_players=arg
            )
        case "start":
            return StartGame(command_id=cid, user_id="100", permissions=MANAGER, game_id=game)
        case _:
            return CancelGame(command_id=cid, user_id="100", permissions=MANAGER, game_id=game)


def reference_fold(events: list[dict[str, Any]]) -> dict[str, Any]:
    """An independent, plain fold of a game's events into what the read model should show."""
    joined: list[str] = []
    waiting: list[str] = []
    placeholders: dict[int, str] = {}
    status = "scheduled"
    for event in events:
        kind = event["type"]
        if kind == "game.player_joined.v1":
            joined.append(event["user_id"])
        elif kind == "game.player_waitlisted.v1":
            waiting.append(event["user_id"])
        elif kind == "game.player_left.v1":
            (waiting if event["from_waitlist"] else joined).remove(event["user_id"])
        elif kind == "game.player_promoted.v1":
            waiting.remove(event["user_id"])
            joined.append(event["user_id"])
        elif kind == "game.player_moved_to_waitlist.v1":
            joined.remove(event["user_id"])
            waiting.insert(event["position"] - 1, event["user_id"])
        elif kind == "game.placeholder_added.v1":
            placeholders[event["placeholder_id"]] = event["label"]
        elif kind in ("game.placeholder_removed.v1", "game.placeholder_claimed.v1"):
            del placeholders[event["placeholder_id"]]
        elif kind.startswith("game.started."):  # v1 and v2
            status = "in_progress"
        elif kind == "game.cancelled.v1":
            status = "cancelled"
    return {
        "status": status,
        "participants": [("joined", u) for u in joined]
        + [("waitlisted", u) for u in waiting]
        + [("placeholder", label) for label in placeholders.values()],
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cap=st.integers(1, 4), steps=st.lists(step, max_size=25))
def test_read_model_equals_reference_fold(
    nats_url: str, database_url: str, read_schema: str, cap: int, steps: list[tuple[str, Any]]
) -> None:
    env = fresh_log_env(nats_url)
    app = MusterApp(env=env)
    try:
        created = app.handle(CreateGame(
            command_id="create", user_id="100", permissions=MANAGER, guild_id="1", channel_id="2",
            title="Prop", scheduled_at=datetime.now(UTC) + timedelta(days=1), max_players=cap,
        ))  # fmt: skip
        game = created.game_id
        assert game is not None
        for index, (kind, arg) in enumerate(steps):
            with contextlib.suppress(DomainError):  # a refused command stores nothing
                app.handle(command(game, index, kind, arg))
        last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
        stored = [
            msgspec.json.decode(n.state) for n in app.recorder.select_notifications(1, 10_000)
        ]  # type: ignore[attr-defined]
    finally:
        app.close()

    async def check() -> None:
        import nats

        nc = await nats.connect(nats_url)
        schema_conn = await connect(database_url, read_schema)
        try:
            await project_until(nc, env, database_url, read_schema, last)
            detail = await queries.game_detail(schema_conn, game)
            assert detail is not None
            expected = reference_fold(stored)
            shown = [(p.kind, p.user_id or p.label) for p in detail.participants]
            assert shown == expected["participants"]
            assert detail.status == expected["status"]
            assert detail.joined_count == sum(1 for kind, _ in shown if kind == "joined")
            assert detail.waitlist_count == sum(1 for kind, _ in shown if kind == "waitlisted")
        finally:  # empty the schema for the next example, whatever this one did
            await schema_conn.rollback()
            for table in TABLES:
                await schema_conn.execute(f"DELETE FROM {table}")
            await schema_conn.commit()
            await schema_conn.close()
            await nc.close()

    try:
        asyncio.run(check())
    finally:
        drop_log(env)
