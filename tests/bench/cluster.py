"""Replicated-log benchmark: leader failover under load, and what ``sync_interval: always`` costs.

Run: ``.venv/bin/python -m tests.bench.cluster [--kills N] [--events N]`` (``--smoke``: one kill,
tiny sizes)

All in one run, on embedded servers from the same binary:
  (1) failover: a 3-node cluster, the log at R3, writer threads sending join/leave commands
      through ``MusterApp``; the stream leader is SIGKILLed ``--kills`` times (restarted as a
      follower after each). The pause is the longest gap between two acknowledged commands
      around a kill; then every acknowledged command is looked up at the position its Outcome
      gave (lost = not there) and every ``Nats-Msg-Id`` is counted (duplicates = stored twice);
  (2) fsync cost: the JetStream recorder's append rate (200 aggregates, 16 threads) on a 3-node
      R3 cluster with the default ``sync_interval`` (2 min) and with ``always``, and likewise on
      one server at R1, each pair measured alternately in the same run; then the same with one
      writer waiting for each acknowledgement. The ratio is always/default.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
from eventsourcing.persistence import StoredEvent

from deploy.embedded import nats_client_url, nats_server
from deploy.embedded_cluster import NatsCluster, nats_cluster
from deploy.processes import ServerProcess
from domain.app import MusterApp
from domain.commands import CreateGame, JoinGame, LeaveGame
from gateways.jetstream import Factory
from gateways.jetstream.layout import H_MSG_ID
from tests.bench.append import STATE, TOPIC, recorder_appends
from tests.bench.common import Figure, peak_rss_mib, summary, table, timed
from tests.integration.nats_cluster import wait_for_jetstream

WRITERS = 4
GAMES = 50


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _leader(url: str, stream: str) -> str | None:
    nc = await nats.connect(url.split(","), connect_timeout=2, max_reconnect_attempts=2)
    try:
        reply = await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=2)
        info = json.loads(reply.data)
    except nats.errors.Error:
        return None
    finally:
        await nc.close()
    replicas = info.get("cluster", {}).get("replicas", [])
    if len(replicas) < 2 or not all(r.get("current") for r in replicas):
        return None  # an election, or a follower still catching up: not a steady state yet
    leader: str | None = info.get("cluster", {}).get("leader")
    return leader


def steady_leader(cluster: NatsCluster, stream: str, timeout: float = 60) -> ServerProcess:
    """The stream's leader once every replica is current."""
    deadline = time.monotonic() + timeout
    while (name := asyncio.run(_leader(cluster.client_url(running_only=True), stream))) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream {stream} not steady after {timeout:g}s")
        time.sleep(0.2)
    return cluster.node_named(name)


class Load:
    """Writer threads alternating join and leave on many games; each acknowledgement's time."""

    def __init__(self, app: MusterApp, games: list[str]) -> None:
        self.app, self.games = app, games
        self.acked: dict[str, list[int]] = {}
        self.done_at: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._write, args=(k,)) for k in range(WRITERS)]

    def _write(self, writer: int) -> None:
        n = 0
        joined: set[str] = set()
        while not self.stop.is_set():
            n += 1
            game = self.games[n % len(self.games)]
            user = str(1000 + writer)
            kind = LeaveGame if game in joined else JoinGame
            joined ^= {game}
            command_id = f"w{writer}-{n}"
            try:
                outcome = self.app.handle(kind(command_id=command_id, user_id=user, game_id=game))
            except Exception as error:  # every failure is a finding
                self.errors.append(f"{command_id}: {type(error).__name__}: {error}")
                continue
            with self._lock:
                self.acked[command_id] = list(outcome.notification_ids)
                self.done_at.append(time.monotonic())

    def pause_around(self, killed_at: float) -> float:
        """Longest gap between consecutive acknowledgements from just before a kill on."""
        with self._lock:
            times = sorted(t for t in self.done_at if t >= killed_at - 1.0)
        gaps = [b - a for a, b in itertools.pairwise(times) if b >= killed_at]
        return max(gaps, default=0.0)

    def wait_for(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.acked)} of {count} commands acknowledged")
            time.sleep(0.05)


def stored_msg_ids(url: str, stream: str) -> dict[int, str]:
    """Sequence → ``Nats-Msg-Id`` of every stored message, read from the leader."""

    async def read() -> dict[int, str]:
        nc = await nats.connect(url.split(","))
        js = nc.jetstream(timeout=30)
        try:
            last = (await js.stream_info(stream)).state.last_seq
            found: dict[int, str] = {}
            for start in range(1, last + 1, 200):
                chunk = range(start, min(start + 200, last + 1))
                msgs = await asyncio.gather(*(js.get_msg(stream, seq) for seq in chunk))
                for seq, msg in zip(chunk, msgs, strict=True):
                    found[seq] = (msg.headers or {}).get(H_MSG_ID, "")
            return found
        finally:
            await nc.close()

    return asyncio.run(read())


def failover(data: Path, kills: int, between: int) -> tuple[dict[str, float], list[str]]:
    """(1): kills under load; the pauses, lost and duplicated appends."""
    cluster = nats_cluster(data / "failover", 3)
    for node in cluster.nodes:
        node.start()
    try:
        url = cluster.client_url()
        wait_for_jetstream(url)
        stream = f"BENCH_{uuid.uuid4().hex[:8].upper()}"
        env = {
            "PERSISTENCE_MODULE": "gateways.jetstream", "MUSTER_NATS_URL": url,
            "MUSTER_EVENTS_STREAM": stream, "MUSTER_EVENTS_SUBJECT_PREFIX": stream.lower(),
            "MUSTER_EVENTS_REPLICAS": "3", "MUSTER_NATS_FAILOVER_WAIT": "60",
        }  # fmt: skip
        app = MusterApp(env=env)
        games = [
            app.handle(CreateGame(
                command_id=f"create-{i}", user_id="100", permissions=0x20, guild_id="1",
                channel_id="2", title=f"Game {i}", max_players=10,
                scheduled_at=datetime.now(UTC) + timedelta(days=1),
            )).game_id or ""
            for i in range(GAMES)
        ]  # fmt: skip
        load = Load(app, games)
        pauses = []
        for thread in load.threads:
            thread.start()
        try:
            for _ in range(kills):
                leader = steady_leader(cluster, stream)
                load.wait_for(len(load.acked) + between)
                assert leader.proc is not None
                killed_at = time.monotonic()
                leader.proc.send_signal(signal.SIGKILL)
                leader.proc.wait(10)
                load.wait_for(len(load.acked) + between)
                pauses.append(load.pause_around(killed_at))
                print(f"  kill {len(pauses)}: {leader.name} (leader); pause {pauses[-1]:.2f}s")
                leader.start()
        finally:
            load.stop.set()
            for thread in load.threads:
                thread.join(120)
            app.close()
        ids = stored_msg_ids(url, stream)
        lost = sum(
            1
            for command_id, seqs in load.acked.items()
            if [ids.get(s) for s in seqs] != [f"{command_id}:{i}" for i in range(len(seqs))]
        )
        duplicates = sum(n - 1 for n in Counter(v for v in ids.values() if v).values() if n > 1)
        return {
            "acked": len(load.acked), "errors": len(load.errors), "lost": lost,
            "duplicates": duplicates, "p50": statistics.median(pauses),
            "p99": percentile(pauses, 0.99), "max": max(pauses), "kills": len(pauses),
        }, load.errors  # fmt: skip
    finally:
        for node in cluster.nodes:
            node.stop()


def append_rate(url: str, replicas: int, events: int, label: str, one: bool) -> Figure:
    """The recorder's appends: 16 threads on 200 aggregates, or (``one``) one writer waiting
    for each acknowledgement (nothing to batch an fsync with)."""
    tag = uuid.uuid4().hex[:8]
    factory = Factory({
        "MUSTER_NATS_URL": url, "MUSTER_EVENTS_STREAM": f"FSYNC_{tag.upper()}",
        "MUSTER_EVENTS_SUBJECT_PREFIX": f"f{tag}", "MUSTER_EVENTS_REPLICAS": str(replicas),
    })  # fmt: skip
    try:
        recorder = factory.application_recorder()
        if not one:
            return recorder_appends(f"16 threads, {label}", recorder, events)
        aggregate = f"game.{uuid.uuid4()}"

        def run() -> None:
            for version in range(1, events + 1):
                recorder.insert_events([StoredEvent(aggregate, version, TOPIC, STATE)])

        return timed(f"one writer, {label}", events, run)
    finally:
        factory.close()


def fsync_cost(data: Path, events: int, rounds: int) -> dict[str, list[Figure]]:
    """(2): append rates, default vs ``always``, on R3 and on R1, alternating."""
    results: dict[str, list[Figure]] = {}
    servers: list[ServerProcess] = []
    try:
        urls: dict[str, tuple[str, int]] = {}
        for sync in ("2m", "always"):
            cluster = nats_cluster(data / f"r3-{sync}", 3, sync_interval=sync)
            servers += cluster.nodes
            for node in cluster.nodes:
                node.start()
            wait_for_jetstream(cluster.client_url())
            urls[f"R3 sync {sync}"] = (cluster.client_url(), 3)
            single = nats_server(data / f"r1-{sync}", sync_interval=sync)
            servers.append(single)
            single.start()
            urls[f"R1 sync {sync}"] = (nats_client_url(data / f"r1-{sync}", single.port), 1)
        for _ in range(rounds):
            for one in (False, True):
                for label, (url, replicas) in urls.items():
                    size = max(events // 10, 20) if one else events
                    figure = append_rate(url, replicas, size, label, one)
                    results.setdefault(figure.name, []).append(figure)
    finally:
        for server in servers:
            server.stop()
    return results


def total(figures: list[Figure]) -> Figure:
    return Figure(
        figures[0].name, sum(f.count for f in figures), sum(f.seconds for f in figures),
        max(f.peak_mib for f in figures),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--kills", type=int, default=5, help="leader kills under load")
    parser.add_argument("--between", type=int, default=1000, help="commands before/after a kill")
    parser.add_argument("--events", type=int, default=10_000, help="appends per fsync run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating fsync rounds")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.kills, args.between, args.events, args.rounds = 1, 50, 400, 1
    with tempfile.TemporaryDirectory(prefix="muster-bench-cluster-") as tmp:
        print(f"cluster benchmark: {args.kills} leader kills under {WRITERS} writers")
        fail, fail_errors = failover(Path(tmp), args.kills, args.between)
        print(f"fsync cost: {args.events} appends x {args.rounds} rounds per configuration")
        rates = {label: total(figures) for label, figures in fsync_cost(
            Path(tmp), args.events, args.rounds
        ).items()}  # fmt: skip
    print()
    print(table(
        [(
            f"leader SIGKILL under load ({fail['kills']:.0f} kills, {fail['acked']:.0f} commands)",
            f"{fail['p50']:.2f} s", f"{fail['p99']:.2f} s", f"{fail['lost']:.0f}",
            f"{fail['duplicates']:.0f}", f"{fail['errors']:.0f}",
        )],
        ("failover", "pause p50", "pause p99", "acked lost", "stored twice", "errors"),
    ))  # fmt: skip
    print()
    print(table(
        [(label, f"{f.rate:,.0f}", f"{f.seconds:.2f}") for label, f in rates.items()],
        ("recorder appends", "events/s", "seconds"),
    ))  # fmt: skip

    def ratio(writers: str, copies: str) -> float:
        always = rates[f"{writers}, {copies} sync always"].rate
        return always / rates[f"{writers}, {copies} sync 2m"].rate

    r3, r1 = ratio("16 threads", "R3"), ratio("16 threads", "R1")
    r3_one, r1_one = ratio("one writer", "R3"), ratio("one writer", "R1")
    r3_r1 = rates["16 threads, R3 sync 2m"].rate / rates["16 threads, R1 sync 2m"].rate
    print()
    for error in fail_errors[:3]:
        print(f"  error: {error}")
    print(
        f"always/default, 16 threads: R3 {r3:.2f}, R1 {r1:.2f}; one writer: R3 {r3_one:.2f}, "
        f"R1 {r1_one:.2f}   R3/R1 (default, 16 threads) {r3_r1:.2f}\n"
        f"lost {fail['lost']:.0f} (goal 0)   stored twice {fail['duplicates']:.0f} (goal 0)   "
        f"peak RSS {peak_rss_mib():.0f} MiB"
    )
    summary("cluster", [
        ("failover pause p50 / p99", f"{fail['p50']:.2f} / {fail['p99']:.2f} s", ""),
        ("acked appends lost / stored twice", f"{fail['lost']:.0f} / {fail['duplicates']:.0f}", ""),
        ("sync always / default, 16 threads R3", "", f"{r3:.2f}"),
        ("sync always / default, 16 threads R1", "", f"{r1:.2f}"),
    ])  # fmt: skip
    return 0 if fail["lost"] == 0 and fail["duplicates"] == 0 and fail["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
