"""Partitioned read-model workers on real servers: N workers give what one worker gives, the
split is the one NATS's own ``partition`` subject transform makes, and changing N is safe."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig, StreamSource, SubjectTransform

from domain.app import MusterApp
from domain.commands import ConfigureChannel, ConfigureGuild, CreateGame, JoinGame, LeaveGame
from domain.errors import DomainError
from gateways.postgres import connect
from projections.partitions import (
    Partition,
    claim_layout,
    layout_rows,
    partition_of,
    projection_position,
)
from projections.replay import rebuild_and_compare
from projections.runner import ProjectionRunner, hold_projector_lock
from tests.integration.conftest import layout_of

pytestmark = [pytest.mark.integration]

MANAGER = 0x20 | 0x10


def write_log(env: dict[str, str], commands: int = 300, seed: int = 3) -> int:
    """Games in two guilds and four channels, settings changes between joins and leaves."""
    rng = random.Random(seed)
    app = MusterApp(env=env)
    games: list[str] = []
    try:
        for n in range(commands):
            guild = str(1 + n % 2)
            channel = str(10 + n % 4)
            roll = rng.random()
            if not games or roll < 0.1:
                outcome = app.handle(CreateGame(
                    command_id=f"create-{n}", user_id="100", permissions=MANAGER, guild_id=guild,
                    channel_id=channel, title=f"Game {n}", max_players=rng.randint(2, 5),
                    scheduled_at=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=n),
                ))  # fmt: skip
                assert outcome.game_id is not None
                games.append(outcome.game_id)
            elif roll < 0.14:
                app.handle(ConfigureGuild(
                    command_id=f"guild-{n}", user_id="100", permissions=MANAGER, guild_id=guild,
                    rules=f"rules {n}",
                ))  # fmt: skip
            elif roll < 0.18:
                app.handle(ConfigureChannel(
                    command_id=f"channel-{n}", user_id="100", permissions=MANAGER,
                    guild_id=guild, channel_id=channel, category=f"cat {n}",
                ))  # fmt: skip
            else:
                kind = JoinGame if rng.random() < 0.7 else LeaveGame
                with contextlib.suppress(DomainError):
                    app.handle(kind(
                        command_id=f"c-{n}", user_id=str(200 + rng.randrange(12)),
                        game_id=rng.choice(games),
                    ))  # fmt: skip
        last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    finally:
        app.close()
    assert last is not None
    return int(last)


async def project(
    nc: NATS, env: dict[str, str], database_url: str, schema: str, count: int, until: int,
    only: list[int] | None = None,
) -> None:  # fmt: skip
    """Workers of ``count`` (all, or ``only`` some) side by side, each up to ``until``."""
    runners = [
        ProjectionRunner(nc, layout_of(env), database_url, schema, partition=Partition(k, count))
        for k in (only if only is not None else range(count))
    ]
    await asyncio.wait_for(
        asyncio.gather(*(r.run(asyncio.Event(), until=until) for r in runners)), 60
    )


async def position_rows(database_url: str, schema: str) -> dict[str, int]:
    conn = await connect(database_url, schema)
    try:
        return await layout_rows(conn, "read_models")
    finally:
        await conn.close()


async def timeline_count(database_url: str, schema: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(f'SELECT count(*) FROM "{schema}".timeline')
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def replay_differences(
    nc: NATS, env: dict[str, str], database_url: str, schema: str, partitions: int | None
) -> tuple[int, list[Any]]:
    _, progress, differences = await rebuild_and_compare(
        nc, layout_of(env), database_url, schema, partitions=partitions
    )
    return progress.applied, differences


@pytest.mark.slow
async def test_three_workers_equal_one_worker_replay(
    event_log_env: dict[str, str], database_url: str, read_schema: str, nc: NATS
) -> None:
    last = await asyncio.to_thread(write_log, event_log_env)
    await project(nc, event_log_env, database_url, read_schema, 3, last)

    assert await position_rows(database_url, read_schema) == {
        "read_models/0of3": last, "read_models/1of3": last, "read_models/2of3": last,
    }  # fmt: skip
    assert await timeline_count(database_url, read_schema) == last  # each event once
    applied, differences = await replay_differences(
        nc, event_log_env, database_url, read_schema, partitions=1
    )
    assert differences == []
    assert applied == last


@pytest.mark.slow
async def test_replay_with_worker_processes_matches_each_live_worker(
    event_log_env: dict[str, str], database_url: str, read_schema: str, nc: NATS
) -> None:
    """Live workers at different positions: the parallel rebuild stops each worker where its
    live counterpart is, and the comparison still finds nothing."""
    last = await asyncio.to_thread(write_log, event_log_env, 200)
    await project(nc, event_log_env, database_url, read_schema, 2, last, only=[0])
    await project(nc, event_log_env, database_url, read_schema, 2, last // 2, only=[1])
    rows = await position_rows(database_url, read_schema)
    assert rows["read_models/0of2"] == last
    assert rows["read_models/1of2"] == last // 2

    applied, differences = await replay_differences(
        nc,
        event_log_env,
        database_url,
        read_schema,
        partitions=None,  # as live: 2 processes
    )
    assert differences == []
    assert applied == await timeline_count(database_url, read_schema)


@pytest.mark.slow
@pytest.mark.parametrize(("before", "after"), [(1, 3), (3, 2), (2, 1)])
async def test_changing_the_worker_count_mid_log_applies_each_event_once(
    event_log_env: dict[str, str], database_url: str, read_schema: str, nc: NATS,
    before: int, after: int,
) -> None:  # fmt: skip
    last = await asyncio.to_thread(write_log, event_log_env, 240)
    # the old workers stop at different places, so the new ones meet events applied already
    for k in range(before):
        await project(
            nc, event_log_env, database_url, read_schema, before, last // 3 + 40 * k, only=[k]
        )
    await project(nc, event_log_env, database_url, read_schema, after, last)

    rows = await position_rows(database_url, read_schema)
    assert set(rows) == {Partition(k, after).row("read_models") for k in range(after)}
    assert set(rows.values()) == {last}
    assert await timeline_count(database_url, read_schema) == last
    applied, differences = await replay_differences(
        nc, event_log_env, database_url, read_schema, partitions=1
    )
    assert differences == []
    assert applied == last


async def test_a_new_count_waits_while_a_worker_of_the_old_one_runs(
    database_url: str, read_schema: str
) -> None:
    old, new = Partition(0, 2), Partition(0, 3)
    holder = await connect(database_url, read_schema)
    conn = await connect(database_url, read_schema)
    try:
        assert await claim_layout(conn, read_schema, "read_models", old) is not None
        assert await hold_projector_lock(holder, read_schema, old.row("read_models"))
        assert await claim_layout(conn, read_schema, "read_models", new) is None
        assert set(await layout_rows(conn, "read_models")) == {"read_models/0of2",
                                                              "read_models/1of2"}  # fmt: skip
        await holder.execute("SELECT pg_advisory_unlock_all()")  # the old worker stops
        start = await claim_layout(conn, read_schema, "read_models", new)
        assert start is not None
        assert set(await layout_rows(conn, "read_models")) == {
            p.row("read_models") for p in Partition.all(3)
        }
        assert await projection_position(conn, "read_models") == 0
    finally:
        await conn.close()
        await holder.close()


async def test_the_split_is_the_one_nats_partition_transform_makes(
    event_log_env: dict[str, str], nc: NATS
) -> None:
    """A JetStream view of the log with ``{{partition(4,1,2)}}`` puts every aggregate in the
    partition :func:`partition_of` names."""
    await asyncio.to_thread(write_log, event_log_env, 120)
    layout = layout_of(event_log_env)
    js = nc.jetstream()
    view = f"{layout.stream}_VIEW"
    await js.add_stream(StreamConfig(name=view, sources=[StreamSource(
        name=layout.stream, subject_transforms=[SubjectTransform(
            src=f"{layout.prefix}.*.*",
            dest=f"{view}.{{{{partition(4,1,2)}}}}.{{{{wildcard(1)}}}}.{{{{wildcard(2)}}}}",
        )],
    )]))  # fmt: skip
    try:
        info = await js.stream_info(layout.stream)
        total = info.state.messages
        for _ in range(200):
            if (await js.stream_info(view)).state.messages >= total:
                break
            await asyncio.sleep(0.05)
        sub = await js.subscribe(f"{view}.>", stream=view, ordered_consumer=True)
        seen: Counter[bool] = Counter()
        for _ in range(total):
            msg = await sub.next_msg(5)
            _, part, kind, key = msg.subject.split(".", 3)
            seen[int(part) == partition_of(f"{kind}.{key}", 4)] += 1
        await sub.unsubscribe()
    finally:
        await js.delete_stream(view)
    assert seen == {True: total}
    assert total > 50


@pytest.mark.slow
async def test_up_runs_the_further_workers_as_processes_and_stops_them(
    event_log_env: dict[str, str], database_url: str, redis_url: str, nats_url: str,
    read_schema: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from deploy.projector_workers import worker_services

    for key, value in {**event_log_env, "MUSTER_DATABASE_SCHEMA": read_schema}.items():
        monkeypatch.setenv(key, value)  # what the worker process inherits
    last = await asyncio.to_thread(write_log, event_log_env, 80)
    services = worker_services({"nats": nats_url, "postgres": database_url, "redis": redis_url}, 2)
    assert [service.name for service in services] == ["read models 2 of 2"]
    stop = asyncio.Event()
    running = asyncio.create_task(services[0].run(stop))
    deadline = asyncio.get_running_loop().time() + 60
    while (await position_rows(database_url, read_schema)).get("read_models/1of2", 0) < last:
        assert not running.done(), running.exception()
        assert asyncio.get_running_loop().time() < deadline, "worker 2 of 2 did not catch up"
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(running, 30)  # stopped with SIGTERM, no error
    rows = await position_rows(database_url, read_schema)
    assert rows == {"read_models/0of2": 0, "read_models/1of2": last}  # worker 1 was not run
