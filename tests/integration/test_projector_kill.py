"""Kill the projector with SIGKILL at random points while events are appended: after a restart
the read model equals a fresh replay of the log (nothing lost, nothing doubled)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from domain.app import MusterApp
from domain.commands import CreateGame, JoinGame, LeaveGame
from domain.errors import DomainError
from tests.integration.conftest import assert_replay_equals_live, layout_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 4


def start_projector(env: dict[str, str], *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "projector", *options],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def position(database_url: str, schema: str, row_name: str = "read_models") -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f'SELECT position FROM "{schema}".projector_position WHERE name = %s', (row_name,)
        ).fetchone()
    return int(row[0]) if row else 0


def write_load(app: MusterApp, stop: threading.Event, rng: random.Random) -> None:
    games = []
    n = 0
    while not stop.is_set():
        n += 1
        if not games or rng.random() < 0.05:
            outcome = app.handle(CreateGame(
                command_id=f"create-{n}", user_id="100", permissions=0x20, guild_id="1",
                channel_id="2", title=f"Game {n}", max_players=rng.randint(2, 6),
                scheduled_at=datetime.now(UTC) + timedelta(days=1),
            ))  # fmt: skip
            games.append(outcome.game_id)
            continue
        game, user = rng.choice(games), str(200 + rng.randrange(30))
        command = JoinGame if rng.random() < 0.7 else LeaveGame
        with contextlib.suppress(DomainError):  # a full or closed game refuses: fine
            app.handle(command(command_id=f"c-{n}", user_id=user, game_id=game))


def test_sigkill_at_random_points_then_restart_equals_replay(
    event_log_env: dict[str, str], database_url: str, redis_url: str, read_schema: str
) -> None:
    rng = random.Random(int(os.environ.get("MUSTER_TEST_SEED", "7")))
    env = {
        **event_log_env, "MUSTER_DATABASE_URL": database_url, "MUSTER_REDIS_URL": redis_url,
        "MUSTER_DATABASE_SCHEMA": read_schema,
    }  # fmt: skip
    app = MusterApp(env=event_log_env)
    stop_writing = threading.Event()
    writer = threading.Thread(target=write_load, args=(app, stop_writing, rng))
    writer.start()
    kills = []
    try:
        for _ in range(KILLS):
            before = position(database_url, read_schema)
            projector = start_projector(env)
            deadline = time.monotonic() + 30
            while position(database_url, read_schema) <= before:  # it is projecting again
                assert time.monotonic() < deadline, "the projector made no progress"
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.5))  # then die somewhere in the middle of the stream
            projector.send_signal(signal.SIGKILL)
            projector.communicate(timeout=10)
            kills.append(position(database_url, read_schema))
    finally:
        stop_writing.set()
        writer.join(30)
    last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    app.close()
    assert last is not None
    assert last > 500, f"too few events written ({last})"
    assert kills[-1] < last, "the kills should land before the end of the log"
    assert any(position > 0 for position in kills), f"no kill landed after a commit: {kills}"

    projector = start_projector(env)
    try:
        deadline = time.monotonic() + 60
        while position(database_url, read_schema) < last:
            assert time.monotonic() < deadline, "projector did not catch up"
            assert projector.poll() is None, projector.stderr.read() if projector.stderr else ""
            time.sleep(0.1)
    finally:
        projector.send_signal(signal.SIGTERM)
        _, errors = projector.communicate(timeout=20)
    assert projector.returncode == 0, errors.decode()

    assert_replay_equals_live(
        event_log_env["MUSTER_NATS_URL"], layout_of(event_log_env), database_url, read_schema, last
    )  # every event once: none lost, none doubled


def test_sigkill_one_of_two_workers_then_restart_equals_replay(
    event_log_env: dict[str, str], database_url: str, redis_url: str, read_schema: str
) -> None:
    """Two partitioned workers; the second is killed mid-load and restarted, again and again,
    while the first goes on: at the end the read model equals a single-worker replay."""
    rng = random.Random(int(os.environ.get("MUSTER_TEST_SEED", "11")))
    env = {
        **event_log_env, "MUSTER_DATABASE_URL": database_url, "MUSTER_REDIS_URL": redis_url,
        "MUSTER_DATABASE_SCHEMA": read_schema,
    }  # fmt: skip
    second = "read_models/1of2"
    app = MusterApp(env=event_log_env)
    stop_writing = threading.Event()
    writer = threading.Thread(target=write_load, args=(app, stop_writing, rng))
    writer.start()
    first = start_projector(env, "--partitions", "2", "--partition", "0")
    kills = []
    try:
        for _ in range(KILLS):
            before = position(database_url, read_schema, second)
            projector = start_projector(env, "--partitions", "2", "--partition", "1")
            deadline = time.monotonic() + 30
            while position(database_url, read_schema, second) <= before:
                assert time.monotonic() < deadline, "the second worker made no progress"
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.5))
            projector.send_signal(signal.SIGKILL)
            projector.communicate(timeout=10)
            kills.append(position(database_url, read_schema, second))
    finally:
        stop_writing.set()
        writer.join(30)
    last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    app.close()
    assert last is not None
    assert kills[-1] < last, "the kills should land before the end of the log"
    assert first.poll() is None, "the first worker should have kept running"

    projector = start_projector(env, "--partitions", "2", "--partition", "1")
    try:
        deadline = time.monotonic() + 60
        rows = ("read_models/0of2", second)
        while min(position(database_url, read_schema, row) for row in rows) < last:
            assert time.monotonic() < deadline, "the workers did not catch up"
            time.sleep(0.1)
    finally:
        for worker in (projector, first):
            worker.send_signal(signal.SIGTERM)
        errors = [worker.communicate(timeout=20)[1] for worker in (projector, first)]
    assert (projector.returncode, first.returncode) == (0, 0), errors

    assert_replay_equals_live(
        event_log_env["MUSTER_NATS_URL"], layout_of(event_log_env), database_url, read_schema,
        last, partitions=1,
    )  # fmt: skip
