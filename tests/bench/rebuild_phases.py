"""Where a rebuild's time goes: each batch's fold, the index build, and PostgreSQL's side of both.

Run: ``.venv/bin/python -m tests.bench.rebuild_phases [--events 1000000] [--max-wal-size 1GB 4GB]
[--rounds 2]`` (``--smoke``: tiny sizes, seconds).

One embedded stack per ``max_wal_size`` given (the server reads it at its start only), the same
stream (the workload of :mod:`tests.bench.projections`) in each, then rebuilds by one runner in
this process, as ``muster replay`` runs a single partition, into a fresh schema each, the stacks
in turn, in mirrored order per round (A B B A …) because the machine's load changes during a
run, each after a checkpoint. For
each rebuild: the wall time of every batch per event, the fold's and the index build's time, the
WAL written and the checkpoints made meanwhile, and PostgreSQL's CPU (the server's processes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import psycopg

from deploy import embedded_postgres
from gateways.jetstream import headers
from gateways.jetstream.layout import Layout
from gateways.postgres import migrate
from projections.rebuild_workers import FILL
from projections.replay import MIGRATIONS, create_indexes, drop_secondary_indexes
from projections.runner import Progress, ProjectionRunner
from tests.bench.common import bench_stack, summary, table
from tests.bench.projection_log import fill
from tests.bench.projections import checkpoint

LAYOUT = Layout("BENCH_EVENTS", "benchevents")
SERVER = """SELECT pg_current_wal_lsn() - '0/0'::pg_lsn,
    (SELECT num_done FROM pg_stat_checkpointer), pg_backend_pid()"""


@dataclass
class Server:
    """What the server had done at one moment: WAL written, checkpoints, CPU seconds."""

    wal: int
    checkpoints: int
    cpu: float

    def __sub__(self, other: Server) -> Server:
        return Server(self.wal - other.wal, self.checkpoints - other.checkpoints,
                      self.cpu - other.cpu)  # fmt: skip


def server_cpu(postmaster: int) -> float:
    """CPU seconds of the server: the postmaster with its reaped children, and the live ones."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def server(conn: psycopg.AsyncConnection[Any]) -> Server:
    cur = await conn.execute(SERVER)
    row = await cur.fetchone()
    assert row is not None
    wal, checkpoints, backend = row
    return Server(int(wal), int(checkpoints), server_cpu(parent_of(backend)))


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def rebuild(
    nc: Any, url: str, total: int, schema: str, max_wal_size: str
) -> tuple[float, tuple[str, ...]]:
    """One rebuild into ``schema`` with ``max_wal_size``: its rate and its row of the table."""
    await migrate(url, schema, MIGRATIONS)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SHOW max_wal_size")
        shown = await cur.fetchone()
        if not shown or shown[0] != max_wal_size:
            raise RuntimeError(f"the server runs with max_wal_size {shown}, not {max_wal_size}")
        await checkpoint(url)  # the projections bench's: each rebuild starts after one
        before = await server(conn)
        started, cpu = time.perf_counter(), time.process_time()
        indexes = await drop_secondary_indexes(url, schema)
        marks: list[tuple[float, int]] = []
        runner = ProjectionRunner(nc, LAYOUT, url, schema, fill=FILL)

        def mark(progress: Progress) -> None:
            marks.append((time.perf_counter(), progress.position))

        await runner.run(asyncio.Event(), until=total, on_batch=mark)
        folded, cpu = time.perf_counter(), time.process_time() - cpu
        fold = await server(conn) - before
        await create_indexes(url, indexes)  # as `muster replay` builds them
        ended = time.perf_counter()
        build = await server(conn) - before - fold
    per_batch, last = [], (started, 0)
    for at, position in marks:
        per_batch.append((at - last[0]) / max(position - last[1], 1) * 1e6)
        last = (at, position)
    mib, rate = 2**20, total / (ended - started)
    return rate, (
        max_wal_size, f"{rate:,.0f} events/s", f"{folded - started:.2f} s",
        f"{cpu:.2f} s", f"{fold.cpu:.1f} s", f"{fold.wal / mib:,.0f} MiB / {fold.checkpoints}",
        f"{ended - folded:.2f} s", f"{build.wal / mib:,.0f} MiB / {build.checkpoints}",
        " ".join(f"{us:.0f}" for us in per_batch),
    )  # fmt: skip


async def run(total: int, sizes: list[str], rounds: int) -> None:
    async with AsyncExitStack() as servers:
        stacks = {}
        for size in sizes:  # max_wal_size is read at the server's start only: one stack each
            embedded_postgres.MAX_WAL_SIZE = size
            stack = servers.enter_context(bench_stack())
            nats_url = stack.url("nats")
            nc, muster_nc = await nats.connect(nats_url), await headers.connect(nats_url)
            servers.push_async_callback(nc.close)
            servers.push_async_callback(muster_nc.close)
            started = time.perf_counter()
            count = await fill(nc, LAYOUT, total)
            print(f"rebuild phases: {count:,} events into the stack with max_wal_size {size} "
                  f"(filled in {time.perf_counter() - started:.1f}s)", flush=True)  # fmt: skip
            stacks[size] = (muster_nc, stack.url("postgres"))
        rows, rates = [], []
        for n in range(rounds):
            for size in sizes if n % 2 == 0 else sizes[::-1]:
                load = os.getloadavg()[0]
                muster_nc, url = stacks[size]
                rate, row = await rebuild(muster_nc, url, count, f"bench_phase_{n}", size)
                rows.append((*row[:-1], f"{load:.1f} to {os.getloadavg()[0]:.1f}", row[-1]))
                rates.append((size, rate))
                print("  " + " | ".join(rows[-1]), flush=True)
    first = [rate for size, rate in rates if size == sizes[0]]
    baseline = sum(first) / len(first)  # the first size's mean rate
    rows = [
        (*row[:2], f"{rate / baseline:.2f}", *row[2:])
        for row, (_, rate) in zip(rows, rates, strict=True)
    ]
    header = ("max_wal_size", "rebuild", f"to {sizes[0]}", "fold", "fold: process CPU",
              "fold: server CPU", "fold: WAL / checkpoints", "index build",
              "index build: WAL / checkpoints", "load average",
              "µs per event, batch by batch")  # fmt: skip
    print()
    print(table(rows, header))
    summary("rebuild_phases", rows, columns=((0, 9), 1, 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="where a rebuild's time goes")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--max-wal-size", nargs="+", default=["1GB", "4GB"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.rounds = 3_000, 1
    asyncio.run(run(args.events, args.max_wal_size, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
