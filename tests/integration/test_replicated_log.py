"""The log on a 3-node NATS cluster at R3: SIGKILL the stream's leader under a steady command
load. Commands resume on the new leader, every acknowledged append is in the log at the position
its Outcome gave, no command is stored twice, and the read model equals a replay. Without a
quorum a command fails with one clear message, and the same command sent again later is stored
once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import nats.js.errors
import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from deploy.embedded_cluster import NatsCluster
from domain.app import MusterApp
from domain.commands import CreateGame, JoinGame, LeaveGame
from gateways.jetstream.layout import H_MSG_ID
from tests.integration.conftest import assert_replay_equals_live, layout_of
from tests.integration.nats_cluster import nats_cluster, stream_leader

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # nats-py's reconnect leaves the socket of a SIGKILLed server to the garbage collector
    # (its StreamWriter is never closed); that library-side leak is all this ignores.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in.*StreamWriter.__del__:pytest.PytestUnraisableExceptionWarning"
    ),
]
__all__ = ["nats_cluster"]  # the fixture, imported for this module's tests

GAMES = 40
WRITERS = 4


def cluster_env(cluster: NatsCluster, failover_wait: float = 30.0) -> dict[str, str]:
    tag = uuid.uuid4().hex[:12]
    return {
        "PERSISTENCE_MODULE": "gateways.jetstream",
        "MUSTER_NATS_URL": cluster.client_url(),
        "MUSTER_EVENTS_STREAM": f"TEST_{tag}",
        "MUSTER_EVENTS_SUBJECT_PREFIX": f"t{tag}",
        "MUSTER_EVENTS_REPLICAS": "3",
        "MUSTER_NATS_FAILOVER_WAIT": str(failover_wait),
    }


def create_games(app: MusterApp, count: int) -> list[str]:
    return [
        app.handle(CreateGame(
            command_id=f"create-{i}", user_id="100", permissions=0x20, guild_id="1",
            channel_id="2", title=f"Game {i}", max_players=100,
            scheduled_at=datetime.now(UTC) + timedelta(days=1),
        )).game_id
        for i in range(count)
    ]  # fmt: skip


class Load:
    """Writer threads joining players to games; what each acknowledged command was told."""

    def __init__(self, app: MusterApp, games: list[str]) -> None:
        self.app, self.games = app, games
        self.acked: dict[str, list[int]] = {}
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(k,)) for k in range(WRITERS)]

    def _write(self, writer: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            command_id = f"join-{writer}-{n}"
            game = self.games[(writer * 7 + n) % len(self.games)]
            user = str(10_000 + writer * 1_000_000 + n)
            try:
                outcome = self.app.handle(
                    JoinGame(command_id=command_id, user_id=user, game_id=game)
                )
            except Exception as error:  # every failure is a finding here
                self.errors.append(f"{command_id}: {type(error).__name__}: {error}")
            else:
                self.acked[command_id] = list(outcome.notification_ids)

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert not self.errors, self.errors[:3]
            assert time.monotonic() < deadline, f"only {len(self.acked)} of {count} acknowledged"
            time.sleep(0.02)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def stored_msg_ids(url: str, stream: str, timeout: float = 60.0) -> dict[int, str]:
    """Every message of the stream, read from its leader: sequence → its ``Nats-Msg-Id``.

    A node that has just rejoined the cluster may answer "JetStream system temporarily
    unavailable" for a while; such a read is asked again until ``timeout``."""

    async def get(js: Any, seq: int, deadline: float) -> Any:
        while True:
            try:
                return await js.get_msg(stream, seq)
            except nats.js.errors.ServiceUnavailableError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def read() -> dict[int, str]:
        deadline = time.monotonic() + timeout
        nc = await nats.connect(url.split(","))
        found: dict[int, str] = {}
        try:
            js = nc.jetstream(timeout=10)
            last = (await js.stream_info(stream)).state.last_seq
            for seq in range(1, last + 1):
                msg = await get(js, seq, deadline)
                found[seq] = (msg.headers or {}).get(H_MSG_ID, "")
        finally:
            await nc.close()
        return found

    return asyncio.run(read())


def start_projector(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "projector"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def projected(database_url: str, schema: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f'SELECT position FROM "{schema}".projector_position WHERE name = %s', ("read_models",)
        ).fetchone()
    return int(row[0]) if row else 0


def test_leader_sigkill_under_load_loses_no_acknowledged_append_and_stores_none_twice(
    nats_cluster: NatsCluster, database_url: str, redis_url: str, read_schema: str
) -> None:
    env = cluster_env(nats_cluster)
    stream = env["MUSTER_EVENTS_STREAM"]
    app = MusterApp(env=env)
    games = create_games(app, GAMES)
    projector_env = {
        **env, "MUSTER_DATABASE_URL": database_url, "MUSTER_REDIS_URL": redis_url,
        "MUSTER_DATABASE_SCHEMA": read_schema,
    }  # fmt: skip
    projectors = [start_projector(projector_env)]
    try:
        check_leader_kills(
            nats_cluster, app, games, stream, projectors, projector_env, database_url, read_schema
        )
    finally:
        for projector in projectors:
            if projector.poll() is None:
                projector.send_signal(signal.SIGTERM)
            projector.communicate(timeout=30)


def check_leader_kills(
    nats_cluster: NatsCluster,
    app: MusterApp,
    games: list[str],
    stream: str,
    projectors: list[subprocess.Popen[bytes]],
    projector_env: dict[str, str],
    database_url: str,
    read_schema: str,
) -> None:
    env, layout = projector_env, layout_of(projector_env)
    try:
        with Load(app, games) as load:
            for kill in range(2):
                load.wait_for(len(load.acked) + 200)
                leader = stream_leader(nats_cluster, stream)
                assert leader.proc is not None
                leader.proc.send_signal(signal.SIGKILL)
                leader.proc.wait(10)
                after_kill = len(load.acked)
                load.wait_for(after_kill + 200, timeout=60)  # resumed on the new leader
                leader.start()  # back as a follower: the next kill keeps a quorum
                assert stream_leader(nats_cluster, stream) is not None, kill
            assert not load.errors, load.errors[:3]
        last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    finally:
        app.close()
    assert last is not None

    ids = stored_msg_ids(env["MUSTER_NATS_URL"], stream)
    assert sorted(ids) == list(range(1, last + 1))  # contiguous: nothing missing in between
    repeated = [msg_id for msg_id, count in Counter(ids.values()).items() if count > 1]
    assert repeated == []  # no command stored twice
    for command_id, positions in load.acked.items():  # every acknowledged append is there
        assert positions, command_id
        assert [ids[p] for p in positions] == [f"{command_id}:{i}" for i in range(len(positions))]

    deadline = time.monotonic() + 120
    while projected(database_url, read_schema) < last:
        if projectors[-1].poll() is not None:  # it may stop on a lost leader: run it again
            projectors.append(start_projector(projector_env))
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.1)

    assert_replay_equals_live(env["MUSTER_NATS_URL"], layout, database_url, read_schema, last)


def test_without_quorum_a_command_fails_clearly_and_its_retry_is_stored_once(
    nats_cluster: NatsCluster,
) -> None:
    env = cluster_env(nats_cluster, failover_wait=3.0)
    app = MusterApp(env=env)
    try:
        (game,) = create_games(app, 1)
        leader = stream_leader(nats_cluster, env["MUSTER_EVENTS_STREAM"])
        stopped = [leader, next(n for n in nats_cluster.nodes if n is not leader)]
        for node in stopped:
            assert node.proc is not None
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)
        join = JoinGame(command_id="join-during-outage", user_id="42", game_id=game)
        with pytest.raises(OperationalError) as refused:
            app.handle(join)
        text = str(refused.value)
        assert "no leader" in text, text
        assert "MUSTER_NATS_FAILOVER_WAIT" in text, text
        assert "majority" in text, text

        for node in stopped:
            node.start()
        stream_leader(nats_cluster, env["MUSTER_EVENTS_STREAM"])
        outcome = app.handle(join)  # the caller tries again with the same command id
        again = app.handle(join)
    finally:
        app.close()
    assert again.replayed
    assert again.version == outcome.version
    ids = stored_msg_ids(env["MUSTER_NATS_URL"], env["MUSTER_EVENTS_STREAM"])
    assert list(ids.values()).count("join-during-outage:0") == 1


def test_a_read_answered_by_a_replica_that_is_behind_is_completed_from_the_leader(
    nats_cluster: NatsCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cluster_env(nats_cluster)
    app = MusterApp(env=env)
    try:
        (game,) = create_games(app, 1)
        for n in range(5):
            app.handle(JoinGame(command_id=f"join-{n}", user_id=str(300 + n), game_id=game))
        recorder = app.recorder
        wire = recorder.wire  # type: ignore[attr-defined]
        direct = wire._read_direct

        async def behind(subject: str, from_seq: int, limit: int | None = None) -> list[Any]:
            return (await direct(subject, from_seq, limit))[:-3]  # a follower 3 events short

        monkeypatch.setattr(wire, "_read_direct", behind)
        versions = [e.originator_version for e in recorder.select_events(f"game.{game}")]
        assert versions == [1, 2, 3, 4, 5, 6]
        fresh = MusterApp(env=env)  # another process: loads the game from the log
        try:
            monkeypatch.setattr(fresh.recorder.wire, "_read_direct", behind)  # type: ignore[attr-defined]
            left = fresh.handle(LeaveGame(command_id="leave-4", user_id="304", game_id=game))
        finally:
            fresh.close()
        assert (
            left.version == 7
        )  # decided on all six events, not on the three a lagging replica had
    finally:
        app.close()
