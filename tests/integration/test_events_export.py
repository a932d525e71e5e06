"""``muster events tail|export``: the envelope, every filter, Parquet, live following, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from deploy.cli import main
from domain.app import MusterApp
from domain.commands import ConfigureChannel, CreateGame, JoinGame, LeaveGame
from projections.event_export import JsonLinesWriter, export_events
from projections.event_stream import EventFilter, StreamReader
from tests.integration.conftest import layout_of

pytestmark = pytest.mark.integration

MANAGER = 0x20
SOON = datetime.now(UTC) + timedelta(hours=2)


@pytest.fixture
def history(event_log_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Two games in two guilds, joins and a leave with a promotion, a channel's settings."""
    app = MusterApp(env=event_log_env)
    games = {}
    for guild, channel in (("1", "11"), ("2", "22")):
        outcome = app.handle(CreateGame(
            command_id=f"create-{guild}", user_id="100", permissions=MANAGER, guild_id=guild,
            channel_id=channel, title=f"Game {guild}", scheduled_at=SOON, max_players=1,
        ))  # fmt: skip
        assert outcome.game_id
        games[guild] = outcome.game_id
    for user in ("201", "202"):
        app.handle(JoinGame(command_id=f"join-{user}", user_id=user, game_id=games["1"]))
    app.handle(JoinGame(command_id="join-301", user_id="301", game_id=games["2"]))
    app.handle(LeaveGame(command_id="leave-201", user_id="201", game_id=games["1"]))
    app.handle(ConfigureChannel(command_id="cfg", user_id="100", permissions=0x10, guild_id="2",
                                channel_id="22", reminder_minutes=(30,)))  # fmt: skip
    last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    app.close()
    return {"games": games, "last": last, "env": event_log_env}


def export(env: dict[str, str], nats_url: str, **filters: Any) -> list[dict[str, Any]]:
    async def run() -> bytes:
        nc = await nats.connect(nats_url)
        out = _Buffer()
        try:
            chosen = EventFilter.parse(**filters)
            await export_events(nc, layout_of(env), chosen, JsonLinesWriter(out))
        finally:
            await nc.close()
        return out.data

    return [json.loads(line) for line in asyncio.run(run()).splitlines()]


class _Buffer:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def flush(self) -> None:
        pass


def test_export_everything_in_the_documented_envelope(
    history: dict[str, Any], nats_url: str
) -> None:
    env = history["env"]
    rows = export(env, nats_url)
    assert [r["seq"] for r in rows] == list(range(1, history["last"] + 1))
    first = rows[0]
    assert set(first) == {
        "seq", "subject", "type", "version", "time", "stored_at", "aggregate_id",
        "aggregate_version", "command_id", "actor_id", "msg_id", "body",
    }  # fmt: skip
    game = history["games"]["1"]
    assert first["subject"] == f"{env['MUSTER_EVENTS_SUBJECT_PREFIX']}.game.{game}"
    assert (first["type"], first["version"], first["aggregate_id"]) == (
        "game.created", 1, f"game.{game}")  # fmt: skip
    assert (first["aggregate_version"], first["command_id"], first["actor_id"]) == (
        1, "create-1", "100")  # fmt: skip
    assert first["msg_id"] == "create-1:0"
    assert first["body"]["type"] == "game.created.v1"
    assert first["time"] == first["body"]["occurred_at"]
    assert first["stored_at"].endswith("Z")
    types = [r["type"] for r in rows]
    assert "game.player_promoted" in types
    assert types[-1] == "channel.configured"


def test_filters_narrow_by_kind_and_widen_within_one(
    history: dict[str, Any], nats_url: str
) -> None:
    env, games = history["env"], history["games"]
    everything = export(env, nats_url)
    joined = export(env, nats_url, types=["game.player_joined"])
    assert [r["seq"] for r in joined] == [
        r["seq"] for r in everything if r["type"] == "game.player_joined"]  # fmt: skip
    versioned = export(env, nats_url, types=["game.player_joined.v1", "game.created"])
    assert {r["type"] for r in versioned} == {"game.player_joined", "game.created"}
    one_game = export(env, nats_url, games=[games["1"]])
    assert {r["aggregate_id"] for r in one_game} == {f"game.{games['1']}"}
    assert len(one_game) == sum(r["aggregate_id"] == f"game.{games['1']}" for r in everything)
    guild_two = export(env, nats_url, guilds=["2"])
    assert {r["aggregate_id"] for r in guild_two} == {f"game.{games['2']}", "channel.22"}
    channel_one = export(env, nats_url, channels=["11"])
    assert {r["aggregate_id"] for r in channel_one} == {f"game.{games['1']}"}
    assert export(env, nats_url, guilds=["1"], channels=["22"]) == []
    from_seq = export(env, nats_url, start="4")
    assert [r["seq"] for r in from_seq] == [r["seq"] for r in everything if r["seq"] >= 4]
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert export(env, nats_url, start=later) == []
    earlier = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert len(export(env, nats_url, start=earlier)) == len(everything)
    # a game's events after it was created, filtered by guild: its guild is read from the log
    tail_of_game = export(env, nats_url, guilds=["1"], start="3")
    assert tail_of_game
    assert all(r["aggregate_id"] == f"game.{games['1']}" for r in tail_of_game)


def test_cli_export_jsonl_and_parquet(
    history: dict[str, Any], nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    pq = pytest.importorskip("pyarrow.parquet", reason="the parquet extra is not installed")
    for key, value in history["env"].items():
        monkeypatch.setenv(key, value)
    jsonl, parquet = tmp_path / "events.jsonl", tmp_path / "events.parquet"
    assert main(["events", "export", "-o", str(jsonl)]) == 0
    assert main(["events", "export", "-o", str(parquet), "--type", "game.player_joined"]) == 0
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == history["last"]
    table = pq.read_table(parquet)
    joined = [r for r in lines if r["type"] == "game.player_joined"]
    assert table.column("seq").to_pylist() == [r["seq"] for r in joined]
    assert [json.loads(b) for b in table.column("body").to_pylist()] == [r["body"] for r in joined]
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert "exported" in capsys.readouterr().err


def test_cli_tail_follows_new_events(
    history: dict[str, Any], nats_url: str, monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:  # fmt: skip
    env = history["env"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = MusterApp(env=env)

    async def append_later() -> None:  # after tail caught up: it must wait for these
        await asyncio.sleep(0)
        await asyncio.to_thread(
            app.handle, JoinGame(command_id="late", user_id="999", game_id=history["games"]["2"])
        )

    async def tail() -> list[dict[str, Any]]:
        nc = await nats.connect(nats_url)
        reader = StreamReader(nc, layout_of(env), EventFilter.parse(start="2"), follow=True)
        seen: list[dict[str, Any]] = []
        appended = None
        async for batch in reader.batches():
            seen += [json.loads(msgspec.json.encode(e)) for e in batch]
            if seen[-1]["seq"] >= history["last"] and appended is None:
                appended = asyncio.create_task(append_later())
            if seen[-1]["seq"] > history["last"]:
                break
        await nc.close()
        return seen

    seen = asyncio.run(asyncio.wait_for(tail(), 20))
    app.close()
    assert [r["seq"] for r in seen] == list(range(2, history["last"] + 2))
    assert seen[-1]["command_id"] == "late"
    assert main(["events", "tail", "--limit", "2", "--type", "game.created"]) == 0
    out = capsysbinary.readouterr().out.splitlines()
    assert [json.loads(line)["type"] for line in out] == ["game.created", "game.created"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["events", "tail", "--type", "game.joined"], "unknown event type 'game.joined'"),
        (["events", "tail", "--type", "game.created.v7"], "unknown event type"),
        (["events", "export", "-o", "x", "--game", "nope"], "is not a game id"),
        (["events", "tail", "--guild", "abc"], "is not a Discord id"),
        (["events", "tail", "--from", "last tuesday"], "neither a stream sequence"),
        (["events", "tail", "--from", "0"], "start at 1"),
        (["events", "tail", "--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_bad_filters_are_one_clear_paragraph(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_export_then_import_into_an_empty_stream_replays_into_identical_read_models(
    history: dict[str, Any], nats_url: str, database_url: str, read_schema: str, tmp_path: Path
) -> None:
    import psycopg

    from gateways.postgres import migrate
    from projections.event_export import import_events
    from projections.replay import MIGRATIONS, compare
    from tests.conftest import drop_log, fresh_log_env
    from tests.integration.conftest import project_until

    env, copy_env = history["env"], fresh_log_env(nats_url)
    copy_schema = f"{read_schema}_copy"
    path = tmp_path / "events.jsonl"

    async def run() -> list[Any]:
        nc = await nats.connect(nats_url)
        try:
            with path.open("wb") as out:
                await export_events(nc, layout_of(env), EventFilter(), JsonLinesWriter(out))
            with path.open("rb") as lines:
                assert await import_events(nc, layout_of(copy_env), lines) == history["last"]
            await project_until(nc, env, database_url, read_schema, history["last"])
            await migrate(database_url, copy_schema, MIGRATIONS)
            await project_until(nc, copy_env, database_url, copy_schema, history["last"])
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                return await compare(conn, read_schema, copy_schema)
        finally:
            await nc.close()

    try:
        assert asyncio.run(run()) == []
        again = export(copy_env, nats_url)
        original = [json.loads(line) for line in path.read_bytes().splitlines()]
        strip = ("stored_at", "subject")  # when and under which prefix it was stored again
        assert [{k: v for k, v in r.items() if k not in strip} for r in again] == [
            {k: v for k, v in r.items() if k not in strip} for r in original
        ]
    finally:
        drop_log(copy_env)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{copy_schema}" CASCADE')


def test_no_log_yet_is_one_sentence(
    nats_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    monkeypatch.setenv("MUSTER_NATS_URL", nats_url)
    monkeypatch.setenv("MUSTER_EVENTS_STREAM", "NO_SUCH_STREAM")
    assert main(["events", "export", "-o", str(tmp_path / "x.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "there is no event log yet: the stream NO_SUCH_STREAM does not exist" in err
    assert "Traceback" not in err
