"""Analytics equal an independent computation from the exported JSON lines, over generated
histories; `muster replay` rebuilds them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.app import MusterApp
from domain.commands import CreateGame, RecordAttendance, RescheduleGame
from domain.errors import DomainError
from gateways.postgres import connect
from projections.analytics import COMPARED, LATE_MINUTES, Analytics
from projections.analytics_queries import figures_by, no_shows_of, popular_times
from projections.analytics_replay import rebuild_analytics
from projections.event_export import JsonLinesWriter, export_events
from projections.event_stream import EventFilter
from projections.runner import ProjectionRunner
from tests.conftest import drop_log, fresh_log_env
from tests.integration.conftest import layout_of
from tests.integration.test_projection_properties import MANAGER, command, step

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLACES = [("1", "11", "100"), ("1", "12", "101"), ("2", "21", "100")]  # guild, channel, host
NOW = datetime.now(UTC)


def independent(lines: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Figures per guild, channel and host, computed from the export alone."""
    games: dict[str, dict[str, Any]] = {}
    for line in lines:
        body, game = line["body"], line["aggregate_id"]
        kind = f"{line['type']}"
        if kind == "game.created":
            games[game] = {
                "guild": body["guild_id"], "channel": body["channel_id"], "host": body["host_id"],
                "created": datetime.fromisoformat(body["occurred_at"]),
                "start": datetime.fromisoformat(body["scheduled_at"]), "filled": None,
                "cancelled": False, "waitlisted": 0, "promotions": 0, "leads": [],
                "present": (), "absent": (),
            }  # fmt: skip
            continue
        g = games.get(game)
        if g is None:
            continue
        when = datetime.fromisoformat(body["occurred_at"])
        if kind in ("game.player_joined", "game.player_promoted"):
            if g["filled"] is None and body["joined_count"] >= body["max_players"]:
                g["filled"] = when
            g["promotions"] += kind == "game.player_promoted"
        elif kind == "game.player_waitlisted":
            g["waitlisted"] += 1
        elif kind == "game.player_left" and not body["from_waitlist"]:
            g["leads"].append((g["start"] - when).total_seconds() / 60)
        elif kind == "game.rescheduled":
            g["start"] = datetime.fromisoformat(body["scheduled_at"])
        elif kind == "game.cancelled":
            g["cancelled"] = True
        elif kind == "game.attendance_recorded":  # the latest record counts
            g["present"], g["absent"] = tuple(body["present"]), tuple(body["no_shows"])
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for dimension in ("guild", "channel", "host"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for g in games.values():
            groups[g[dimension]].append(g)
        out[dimension] = {}
        for key, members in groups.items():
            filled = [g for g in members if g["filled"]]
            leads = [lead for g in members for lead in g["leads"]]
            waitlisted = sum(g["waitlisted"] for g in members)
            promotions = sum(g["promotions"] for g in members)
            out[dimension][key] = {
                "games_scheduled": len(members), "games_filled": len(filled),
                "fill_rate": len(filled) / len(members),
                "avg_minutes_to_fill": (
                    sum((g["filled"] - g["created"]).total_seconds() / 60 for g in filled)
                    / len(filled) if filled else None
                ),
                "games_cancelled": sum(g["cancelled"] for g in members),
                "waitlisted": waitlisted, "waitlist_conversions": promotions,
                "conversion_rate": promotions / waitlisted if waitlisted else None,
                "leaves_before_start": len(leads),
                "late_leaves": sum(lead < LATE_MINUTES for lead in leads),
                "avg_leave_minutes_before_start": sum(leads) / len(leads) if leads else None,
                "attendance_recorded": sum(len(g["present"]) + len(g["absent"]) for g in members),
                "no_shows": sum(len(g["absent"]) for g in members),
            }  # fmt: skip
            recorded = out[dimension][key]["attendance_recorded"]
            out[dimension][key]["no_show_rate"] = (
                out[dimension][key]["no_shows"] / recorded if recorded else None
            )
    players: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for g in games.values():
        for user in g["present"] + g["absent"]:
            players[(g["guild"], user)][0] += 1
        for user in g["absent"]:
            players[(g["guild"], user)][1] += 1
    out["players"] = {k: tuple(v) for k, v in players.items()}  # type: ignore[assignment]
    out["times"] = dict(Counter(
        (g["start"].isoweekday(), g["start"].hour) for g in games.values()
    ))  # type: ignore[assignment]  # fmt: skip
    return out


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-6
    return bool(a == b)


def make_history(
    env: dict[str, str], starts: list[int], steps: list[tuple[int, Any]],
    absent: frozenset[str] = frozenset(),
) -> None:  # fmt: skip
    app = MusterApp(env=env)
    try:
        games = []
        for n, (guild, channel, host) in enumerate(PLACES):
            games.append(app.handle(CreateGame(
                command_id=f"create{n}", user_id=host, permissions=MANAGER, guild_id=guild,
                channel_id=channel, title=f"G{n}", scheduled_at=NOW + timedelta(hours=starts[n]),
                max_players=2,
            )).game_id)  # fmt: skip
        for index, (which, (kind, arg)) in enumerate(steps):
            game = games[which]
            with contextlib.suppress(DomainError):
                if kind == "cap" and arg == 4:  # stands in for a reschedule now and then
                    app.handle(RescheduleGame(
                        command_id=f"r{index}", user_id="100", permissions=MANAGER, game_id=game,
                        scheduled_at=NOW + timedelta(minutes=30 + index),
                    ))  # fmt: skip
                else:
                    app.handle(command(game, index, kind, arg))
        for n, game in enumerate(games):  # the host says who came, where the game started
            joined = app.game(game).joined
            with contextlib.suppress(DomainError):
                app.handle(RecordAttendance(
                    command_id=f"att{n}", user_id=PLACES[n][2], permissions=MANAGER,
                    game_id=game, no_shows=tuple(u for u in joined if u in absent),
                ))  # fmt: skip
    finally:
        app.close()


async def project_and_query(
    env: dict[str, str], nats_url: str, database_url: str, schema: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(env["MUSTER_EVENTS_STREAM"])
        runner = ProjectionRunner(nc, layout_of(env), database_url, schema, projection=Analytics())
        await asyncio.wait_for(runner.run(asyncio.Event(), until=info.state.last_seq), 30)

        class Out:
            data = b""

            def write(self, chunk: bytes) -> None:
                self.data += chunk

            def flush(self) -> None:
                pass

        out = Out()
        await export_events(nc, layout_of(env), EventFilter(), JsonLinesWriter(out))
    finally:
        await nc.close()
    conn = await connect(database_url, schema)
    try:
        figures = {d: {f.key: f for f in await figures_by(conn, d)}
                   for d in ("guild", "channel", "host")}  # type: ignore[arg-type]  # fmt: skip
        times = {(t.weekday, t.hour): t.games for t in await popular_times(conn)}
        players = {
            (guild, p.user_id): (p.games, p.no_shows)
            for guild in ("1", "2")
            for p in await no_shows_of(conn, guild)
        }
    finally:
        await conn.close()
    lines = [json.loads(line) for line in out.data.splitlines()]
    return lines, {**figures, "times": times, "players": players}


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    starts=st.lists(st.integers(1, 24 * 7), min_size=3, max_size=3),
    steps=st.lists(st.tuples(st.integers(0, 2), step), max_size=30),
    absent=st.frozensets(st.sampled_from([str(200 + n) for n in range(8)])),
)
def test_analytics_equal_an_independent_computation_from_the_export(
    nats_url: str, database_url: str, read_schema: str, starts: list[int],
    steps: list[tuple[int, Any]], absent: frozenset[str],
) -> None:  # fmt: skip
    env = fresh_log_env(nats_url)
    try:
        make_history(env, starts, steps, absent)
        _reset(database_url, read_schema)
        lines, projected = asyncio.run(project_and_query(env, nats_url, database_url, read_schema))
    finally:
        drop_log(env)
    expected = independent(lines)
    assert projected["times"] == expected["times"]
    assert projected["players"] == expected["players"]
    for dimension in ("guild", "channel", "host"):
        assert set(projected[dimension]) == set(expected[dimension])
        for key, figures in projected[dimension].items():
            for field, value in expected[dimension][key].items():
                assert close(getattr(figures, field), value), (dimension, key, field)


def _reset(database_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = ", ".join(f'"{schema}".{table}' for table in COMPARED)
        conn.execute(f"TRUNCATE {tables}")
        conn.execute(f"DELETE FROM \"{schema}\".projector_position WHERE name = 'analytics'")


async def test_replay_rebuilds_analytics_equal(
    event_log_env: dict[str, str], nats_url: str, database_url: str, read_schema: str
) -> None:
    steps = [(0, ("join", "201")), (0, ("join", "202")), (0, ("join", "203")),
             (0, ("leave", "201")), (1, ("join", "204")), (2, ("cancel", None)),
             (0, ("start", None))]  # fmt: skip
    await asyncio.to_thread(make_history, event_log_env, [2, 30, 50], steps, frozenset({"203"}))
    lines, _ = await project_and_query(event_log_env, nats_url, database_url, read_schema)
    from gateways.postgres import migrate
    from projections.replay import MIGRATIONS

    rebuilt = f"{read_schema}_rebuild_analytics"
    await migrate(database_url, rebuilt, MIGRATIONS)
    client = await nats.connect(nats_url)
    try:
        progress, differences = await rebuild_analytics(
            client, layout_of(event_log_env), database_url, read_schema, rebuilt
        )
    finally:
        await client.close()
    assert progress.position == len(lines)
    assert differences == []
    conn = await connect(database_url, rebuilt)
    try:
        (channel,) = [f for f in await figures_by(conn, "channel", guild_id="1") if f.key == "11"]
        figures = (channel.games_filled, channel.waitlist_conversions, channel.leaves_before_start)
        assert figures == (1, 1, 1)
        assert (channel.attendance_recorded, channel.no_shows, channel.no_show_rate) == (2, 1, 0.5)
        players = [(p.user_id, p.games, p.no_shows) for p in await no_shows_of(conn, "1")]
        assert players == [("203", 1, 1), ("202", 1, 0)]
        assert await no_shows_of(conn, "2") == []  # guild isolation
        assert await figures_by(conn, "guild", guild_id="3") == []  # another guild sees nothing
    finally:
        await conn.close()
