"""The command benchmark's multi-process runs: entry points and command workers as processes.

* **Two-process rush**: two entry-point processes send joins to one game at once — through the
  in-process adapter (each its own writer: the baseline) and through the command service (one
  worker owns the game). Reported per process: p50/p99 latency and errors users would see
  (``ConcurrencyConflict`` above all); and how often the log's writer alternated between them.
* **Across games**: two entry-point processes send joins over many games, with 1 and 2 command
  worker processes (and in-process, for reference): commands/s and each worker's peak memory.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from domain.app import MusterApp
from domain.events import PlayerJoined, PlayerWaitlisted
from tests.bench.commands import create_games as bench_games

counter = itertools.count()


@dataclass
class Log:
    """Where the benchmark's log and command subjects are."""

    nats_url: str
    stream: str
    prefix: str
    subject: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "gateways.jetstream",
            "MUSTER_NATS_URL": self.nats_url,
            "MUSTER_EVENTS_STREAM": self.stream,
            "MUSTER_EVENTS_SUBJECT_PREFIX": self.prefix,
            "MUSTER_COMMAND_SUBJECT": self.subject,
        }


@dataclass
class Run:
    """One multi-process run: each client's result and the wall time from go to last answer."""

    name: str
    clients: list[dict[str, object]]
    seconds: float
    worker_peak_mib: list[float] = field(default_factory=list)
    worker_cores: list[float] = field(default_factory=list)

    @property
    def client_cores(self) -> float:
        """CPU the entry-point processes used while sending, in cores (summed)."""
        return sum(float(c["cores"]) for c in self.clients)  # type: ignore[arg-type]

    @property
    def count(self) -> int:
        return sum(int(c["count"]) for c in self.clients)  # type: ignore[call-overload]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def errors(self, kind: str | None = None) -> int:
        return sum(
            n
            for c in self.clients
            for k, n in c["errors"].items()  # type: ignore[attr-defined]
            if kind is None or k == kind
        )


def create_games(log: Log, count: int) -> list[str]:
    """``count`` games (cap 10, unlimited waitlist) created directly on the log."""
    app = MusterApp(env=log.env)
    try:  # ids unique across runs on the same log (the stream deduplicates command ids)
        return bench_games(app, count, prefix=f"rush-create-{time.time_ns()}", title="Rush night")
    finally:
        app.close()


def start_workers(log: Log, workers: int) -> list[subprocess.Popen[str]]:
    """``workers`` `muster commands` processes, one per partition, returned once serving."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploy.cli",
                "commands",
                "--workers",
                str(workers),
                "--worker",
                str(k),
            ],
            env={**os.environ, **log.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for k in range(workers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        while "command worker serving" not in (line := proc.stdout.readline()):
            if not line:
                raise RuntimeError(f"a command worker exited with code {proc.wait()}")
    return procs


def peak_mib(pid: int) -> float:
    """A live process's peak resident memory (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(procs: list[subprocess.Popen[str]]) -> list[float]:
    peaks = [peak_mib(p.pid) for p in procs]
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(30)
    return peaks


def run_clients(
    name: str, log: Log, mode: str, games: list[str], count: int, *, workers: int = 1,
    processes: int = 2, in_flight: int = 16,
) -> Run:  # fmt: skip
    """``processes`` clients, ``count`` joins each, released at once; their results."""
    run_id = next(counter)
    clients = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.cmdservice.client",
                "--mode",
                mode,
                "--nats-url",
                log.nats_url,
                "--stream",
                log.stream,
                "--prefix",
                log.prefix,
                "--subject",
                log.subject,
                "--workers",
                str(workers),
                "--games",
                ",".join(games),
                "--count",
                str(count),
                "--in-flight",
                str(in_flight),
                "--tag",
                f"r{run_id}p{i}",
                "--base",
                str((run_id * processes + i) * 10**6),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    for client in clients:
        assert client.stdout is not None
        if client.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a benchmark client failed to start (code {client.wait()})")
    started = time.perf_counter()
    for client in clients:
        assert client.stdin is not None
        client.stdin.write("go\n")
        client.stdin.flush()
    results = [json.loads(c.stdout.readline()) for c in clients if c.stdout is not None]
    seconds = time.perf_counter() - started
    for client in clients:
        client.wait(30)
    run = Run(name, results, seconds)
    for result in results:
        print(
            f"  {name:<44} {result['tag']}: {result['count']} joins in {result['seconds']:.2f}s, "
            f"p50 {float(result['p50']) * 1e3:.0f} ms, p99 {float(result['p99']) * 1e3:.0f} ms, "
            f"errors {result['errors'] or 0}",
            flush=True,
        )
    return run


def alternations(log: Log, game: str) -> int:
    """How often consecutive joins stored on ``game`` came from different processes."""
    app = MusterApp(env=log.env)
    try:
        writers = [
            e.command_id.rsplit("-", 1)[0]
            for e in app.history(f"game.{game}")
            if isinstance(e, PlayerJoined | PlayerWaitlisted)
        ]
    finally:
        app.close()
    return sum(a != b for a, b in itertools.pairwise(writers))


def rush(log: Log, joins: int, *, service: bool) -> tuple[Run, int]:
    """``joins`` to one game from two processes: in-process adapters, or one command worker."""
    [game] = create_games(log, 1)
    if not service:
        run = run_clients("rush, in-process (baseline)", log, "local", [game], joins // 2)
        return run, alternations(log, game)
    workers = start_workers(log, 1)
    try:
        run = run_clients("rush, command service (1 worker)", log, "nats", [game], joins // 2)
    finally:
        peaks = stop(workers)
    run.worker_peak_mib = peaks
    return run, alternations(log, game)


def across_games(log: Log, games: int, joins: int, workers: int) -> Run:
    """``joins`` over ``games`` games from two processes; ``workers`` 0 = in-process."""
    ids = create_games(log, games)
    if workers == 0:
        return run_clients("across games, in-process", log, "local", ids, joins // 2, in_flight=64)
    procs = start_workers(log, workers)
    try:
        name = f"across games, {workers} command worker{'s' if workers > 1 else ''}"
        before = [cpu_seconds(p.pid) for p in procs]
        run = run_clients(name, log, "nats", ids, joins // 2, workers=workers, in_flight=64)
        used = [cpu_seconds(p.pid) - b for p, b in zip(procs, before, strict=True)]
    finally:
        peaks = stop(procs)
    run.worker_peak_mib = peaks
    run.worker_cores = [u / run.seconds for u in used]
    return run
