"""Projection benchmark: raw read speed, full rebuild with N workers, steady-state lag.

Run: ``.venv/bin/python -m tests.bench.projections [--events 1000000] [--workers 1 2 4]``
(``--smoke``: tiny sizes, seconds). The cost per event step by step is
:mod:`tests.bench.projection_steps`.

In one run, on embedded servers:
  (a) raw read of the whole stream with nats-py's ordered consumer (the baseline), and (a') with
      the projector's own pull feed on Muster's NATS client, events only counted;
  (v) JetStream's own partitioned view of the log (a sourcing stream with the subject transform
      ``{{partition(4,1,2)}}``): how fast the server builds it, how fast one partition reads;
  (b) full rebuild of the read models from the same stream (a realistic mix: creates, joins,
      waitlists, leaves with promotions, reminders, across thousands of games) by 1, 2 and 4
      partitioned worker processes, each with its peak RSS, and by one runner in this process
      (as ``muster replay`` runs a single partition); the rebuilt schemas are compared. Each
      rebuild starts after a checkpoint (untimed), so none inherits the WAL of the runs before,
      and ends with ``VACUUM (ANALYZE)`` of its schema, as ``muster replay --swap`` does before
      the swap (timed on its own, not in the rate), so no autovacuum of an earlier rebuild's
      millions of new rows runs amid a later rebuild or the lag runs;
  (c) lag at a steady 500 events/s with N workers: from the append's acknowledgement to the
      commit of the worker that owns the event (visible in the read model), p50/p99, and to the
      moment every worker has passed it (what read-your-writes waits for).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import threading
import time
from typing import Any

import nats
import psycopg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import (
    StreamConfig,
    StreamSource,
    SubjectTransform,
)

from domain.events import (
    type_name,
)
from gateways.jetstream import headers
from gateways.jetstream.layout import Layout, event_headers
from gateways.postgres import connect, migrate
from projections.partitions import partition_of
from projections.rebuild_workers import FILL, WorkerJob, WorkerResult, follow, run_workers
from projections.replay import (
    MIGRATIONS,
    compare,
    create_indexes,
    drop_secondary_indexes,
    vacuum_analyze,
)
from projections.runner import Progress, ProjectionRunner
from tests.bench.common import bench_stack, peak_rss_mib, summary, table
from tests.bench.projection_log import (
    ACTIVE_GAMES,
    ENCODER,
    event_stream,
    feed_read,
    fill,
    ordered_consumer_read,
)


async def view_build_and_read(
    nc: NATS, layout: Layout, total: int, count: int = 4
) -> tuple[float, float, int]:
    """(v) JetStream's own partitioned view of the log (a stream sourcing it through the subject
    transform ``{{partition(count,1,2)}}``): the rate at which the server builds it, the read
    rate of one partition with an ordered consumer, and that partition's size."""
    js = nc.jetstream()
    view = f"{layout.stream}_P{count}"
    transform = SubjectTransform(
        src=f"{layout.prefix}.*.*",
        dest=f"{view}.{{{{partition({count},1,2)}}}}.{{{{wildcard(1)}}}}.{{{{wildcard(2)}}}}",
    )
    started = time.perf_counter()
    await js.add_stream(StreamConfig(
        name=view, sources=[StreamSource(name=layout.stream, subject_transforms=[transform])],
    ))  # fmt: skip
    while (await js.stream_info(view)).state.messages < total:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    build_rate = total / (time.perf_counter() - started)
    info = await js.stream_info(view, subjects_filter=f"{view}.0.>")
    share = sum((info.state.subjects or {}).values())
    done = asyncio.Event()
    seen = 0

    async def count_one(msg: Msg) -> None:
        nonlocal seen
        _ = msg.metadata.sequence.stream, msg.headers
        seen += 1
        if seen >= share:
            done.set()

    started = time.perf_counter()
    sub = await js.subscribe(f"{view}.0.>", stream=view, cb=count_one, ordered_consumer=True)
    await done.wait()
    read_rate = share / (time.perf_counter() - started)
    await sub.unsubscribe()
    await js.delete_stream(view)
    return build_rate, read_rate, share


async def rebuild_with_workers(
    nats_url: str, layout: Layout, database_url: str, total: int, count: int, uvloop: bool
) -> tuple[float, Progress, list[WorkerResult], float]:
    """(b) a full rebuild into a fresh schema by ``count`` worker processes (as ``muster
    replay`` runs it; process start-up included)."""
    schema = f"bench_rm_{count}"
    await migrate(database_url, schema, MIGRATIONS)
    jobs = [WorkerJob(nats_url, layout.stream, layout.prefix, database_url, schema, k, count,
                      total, uvloop) for k in range(count)]  # fmt: skip
    before = await checkpoint(database_url)
    started = time.perf_counter()
    indexes = await drop_secondary_indexes(database_url, schema)  # as `muster replay` does
    last_print = [started]

    def show(progress: Progress) -> None:
        now = time.perf_counter()
        if now - last_print[0] > 10:
            last_print[0] = now
            print(f"    {count} worker(s): {progress.position:,}/{total:,} "
                  f"({progress.position / (now - started):,.0f}/s)", flush=True)  # fmt: skip

    progress, results = await run_workers(jobs, show)
    await create_indexes(database_url, indexes)
    rate = total / (time.perf_counter() - started)
    await checkpoints_since(database_url, before, f"{count} worker(s)")
    return rate, progress, results, await settle(database_url, schema, f"{count} worker(s)")


async def settle(database_url: str, schema: str, who: str) -> float:
    """``VACUUM (ANALYZE)`` a rebuilt schema as ``muster replay --swap`` does; its seconds."""
    started = time.perf_counter()
    await vacuum_analyze(database_url, schema)
    seconds = time.perf_counter() - started
    print(f"    {who}: VACUUM (ANALYZE) of the rebuilt schema {seconds:.1f}s", flush=True)
    return seconds


async def checkpoint(database_url: str) -> int:
    """Start each rebuild as ``muster replay`` finds a server in use: little WAL since its last
    checkpoint (the runs before would otherwise leave theirs, and a checkpoint amid the next
    rebuild costs it a tenth or more, see the README); returns the server's checkpoint count."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        before = await checkpoints(conn)
        await conn.execute("CHECKPOINT")
        deadline = time.monotonic() + 5
        # The checkpointer counts a checkpoint just after it has let the caller go on.
        while (done := await checkpoints(conn)) == before and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return done


async def checkpoints_since(database_url: str, before: int, who: str) -> None:
    """Print how many checkpoints the server made during a rebuild."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        during = await checkpoints(conn) - before
    print(f"    {who}: {during} checkpoint(s) during the rebuild", flush=True)


async def checkpoints(conn: psycopg.AsyncConnection[Any]) -> int:
    """How many checkpoints the server has made (not counting those skipped as idle)."""
    cur = await conn.execute("SELECT num_done FROM pg_stat_checkpointer")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def rebuild_in_process(
    nc: NATS, layout: Layout, database_url: str, total: int
) -> tuple[float, Progress, float]:
    """(b) a full rebuild by one runner in this process, as ``muster replay`` runs a single
    partition (no worker process to start: the tool's own start-up is not counted)."""
    schema = "bench_rm_here"
    await migrate(database_url, schema, MIGRATIONS)
    before = await checkpoint(database_url)
    started = time.perf_counter()
    indexes = await drop_secondary_indexes(database_url, schema)
    runner = ProjectionRunner(nc, layout, database_url, schema, fill=FILL)
    progress = await runner.run(asyncio.Event(), until=total)
    await create_indexes(database_url, indexes)
    rate = total / (time.perf_counter() - started)
    await checkpoints_since(database_url, before, "1 runner in this process")
    return rate, progress, await settle(database_url, schema, "1 runner in this process")


async def steady_lag(
    nc: NATS, layout: Layout, nats_url: str, database_url: str, schema: str, count: int,
    rate: int, seconds: float, uvloop: bool,
) -> tuple[list[float], list[float], float]:  # fmt: skip
    """(c) ``count`` worker processes follow the log while events are appended at ``rate``/s.

    Returns the lags (ms) from each append's acknowledgement to the commit of the worker that
    owns the event (it is visible in the read model), the lags to the moment every worker has
    passed it (what ``wait_for_position`` waits for), and the workers' largest peak RSS."""
    context = multiprocessing.get_context("spawn")
    commits: Any = context.Queue()
    stop = context.Event()
    jobs = [WorkerJob(nats_url, layout.stream, layout.prefix, database_url, schema, k, count, 0,
                      uvloop) for k in range(count)]  # fmt: skip
    workers = [context.Process(target=follow, args=(job, commits, stop)) for job in jobs]
    for worker in workers:
        worker.start()
    seen: dict[int, list[tuple[int, float]]] = {k: [] for k in range(count)}
    rss: dict[int, float] = {}
    collector = threading.Thread(target=_collect, args=(commits, seen, rss, count), daemon=True)
    collector.start()
    js = nc.jetstream()
    stream = event_stream(int(rate * seconds) + 1, seed=99)
    fresh = f"-9{count:03d}-"  # new games, not the rebuilt ones nor another run's
    warm_id, warm_version, warm_event = next(stream)
    warm = await js.publish(  # every worker commits it (owner or not) once it is running
        layout.subject_for(warm_id.replace("-8000-", fresh)), ENCODER.encode(warm_event),
        headers=event_headers(type_name(type(warm_event)), warm_version),
    )  # fmt: skip
    while any(not rows or rows[-1][0] < warm.seq for rows in seen.values()):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    acked: dict[int, tuple[float, str]] = {}
    interval = 1 / rate
    next_at = time.monotonic()
    for rebuilt_id, version, event in stream:
        aggregate = rebuilt_id.replace("-8000-", fresh)
        headers = event_headers(type_name(type(event)), version)
        ack = await js.publish(
            layout.subject_for(aggregate), ENCODER.encode(event), headers=headers
        )
        acked[ack.seq] = (time.monotonic(), aggregate)
        next_at += interval
        await asyncio.sleep(max(0, next_at - time.monotonic()))
    last = max(acked)
    deadline = time.monotonic() + 10
    while any(rows[-1][0] < last for rows in seen.values()) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    for worker in workers:
        worker.join(30)
    collector.join(10)
    owner_lags, all_lags = [], []
    for seq, (at, aggregate) in acked.items():
        firsts = {k: next(t for position, t in rows if position >= seq) for k, rows in seen.items()}
        owner_lags.append((firsts[partition_of(aggregate, count)] - at) * 1000)
        all_lags.append((max(firsts.values()) - at) * 1000)
    return owner_lags, all_lags, max(rss.values(), default=0.0)


def _collect(
    commits: Any, seen: dict[int, list[tuple[int, float]]], rss: dict[int, float], count: int
) -> None:
    """Gather the workers' commit reports (a thread: the queue blocks)."""
    while len(rss) < count:
        index, position, value = commits.get()
        if position < 0:
            rss[index] = value
        else:
            seen[index].append((position, value))


def quantiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100)
    return q[49], q[98]


async def run(total: int, lag_seconds: float, counts: list[int], uvloop: bool) -> None:
    with bench_stack() as stack:
        nats_url = stack.url("nats")
        nc = await nats.connect(nats_url)  # nats-py as it comes, for the baseline
        muster_nc = await headers.connect(nats_url)  # Muster's client (faster header parsing)
        layout = Layout("BENCH_EVENTS", "benchevents")
        print(f"projection benchmark: {total:,} events across {ACTIVE_GAMES} active games; "
              f"workers {counts}; uvloop {'on' if uvloop else 'off'}")  # fmt: skip
        started = time.perf_counter()
        count = await fill(nc, layout, total)
        print(f"  filled the stream in {time.perf_counter() - started:.1f}s")
        read_rate = first_read = await ordered_consumer_read(nc, layout, count)
        print(f"  (a) raw read, ordered consumer: {read_rate:,.0f} events/s", flush=True)
        feed_rate = await feed_read(muster_nc, layout, count)
        print(f"  (a') raw read, projector feed: {feed_rate:,.0f} events/s", flush=True)
        view_build, view_read, share = await view_build_and_read(nc, layout, count)
        print(f"  (v) 4-partition view: built at {view_build:,.0f} events/s; partition 0 "
              f"({share:,} events) read at {view_read:,.0f} events/s", flush=True)  # fmt: skip
        rebuilds: dict[int, tuple[float, Progress, list[WorkerResult], float]] = {}
        for n in counts:
            rebuilds[n] = await rebuild_with_workers(
                nats_url, layout, stack.url("postgres"), count, n, uvloop
            )
            rate, progress, results, _ = rebuilds[n]
            print(f"  (b) rebuild, {n} worker(s): {rate:,.0f} events/s ({progress.parked} "
                  f"parked), peak RSS per worker {max(r.peak_rss_mib for r in results):.0f} MiB",
                  flush=True)  # fmt: skip
        here_rate, here, here_vacuum = await rebuild_in_process(
            muster_nc, layout, stack.url("postgres"), count
        )
        print(f"  (b) rebuild, 1 runner in this process: {here_rate:,.0f} events/s "
              f"({here.parked} parked)", flush=True)  # fmt: skip
        read_again = await ordered_consumer_read(nc, layout, count)
        print(f"  (a) raw read again, after the rebuilds: {read_again:,.0f} events/s", flush=True)
        read_rate = (read_rate + read_again) / 2  # the baseline: the mean of both
        equal = await rebuilt_schemas_equal(stack.url("postgres"), counts, "bench_rm_here")
        print(f"  every rebuild equal to the 1-worker one: {equal}", flush=True)
        lags: dict[int, tuple[list[float], list[float], float]] = {}
        for n in counts:
            lags[n] = await steady_lag(
                muster_nc, layout, nats_url, stack.url("postgres"), f"bench_rm_{n}", n, 500,
                lag_seconds, uvloop,
            )  # fmt: skip
            owner, everyone, worker_rss = lags[n]
            (p50, p99), (_, all99) = quantiles(owner), quantiles(everyone)
            print(f"  (c) lag at 500 events/s, {n} worker(s): p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                  f" (all workers past it: p99 {all99:.1f} ms), peak RSS {worker_rss:.0f} MiB",
                  flush=True)  # fmt: skip
        await muster_nc.close()
        await nc.close()
    rows = [
        ("(a) raw read, nats-py ordered consumer (baseline: mean of a read before and one after "
         "the rebuilds)", f"{read_rate:,.0f} events/s ({first_read:,.0f}, {read_again:,.0f})",
         "1.00", ""),
        ("(a') raw read, the projector's pull feed (Muster's NATS client, raw subscription)",
         f"{feed_rate:,.0f} events/s", f"{feed_rate / read_rate:.2f}", ""),
        ("(v1) JetStream builds a 4-partition view of the log (server side)",
         f"{view_build:,.0f} events/s", f"{view_build / read_rate:.2f}", ""),
        (f"(v2) one partition of that view ({share:,} events), ordered consumer",
         f"{view_read:,.0f} events/s", f"{view_read / read_rate:.2f}", ""),
    ]  # fmt: skip
    for n, (rate, _, results, vacuum) in rebuilds.items():
        rss = max(r.peak_rss_mib for r in results)
        rows.append((f"(b) rebuild of {count:,} events, {n} worker process(es)",
                     f"{rate:,.0f} events/s (then VACUUM ANALYZE {vacuum:.1f} s)",
                     f"{rate / read_rate:.2f}", f"{rss:.0f} MiB"))  # fmt: skip
    rows.append((f"(b) rebuild of {count:,} events, 1 runner in the benchmark's process (as "
                 "`muster replay` runs a single partition: no worker process started)",
                 f"{here_rate:,.0f} events/s (then VACUUM ANALYZE {here_vacuum:.1f} s)",
                 f"{here_rate / read_rate:.2f}", ""))  # fmt: skip
    for n, (owner, everyone, worker_rss) in lags.items():
        (p50, p99), (_, all99) = quantiles(owner), quantiles(everyone)
        rows.append((f"(c) lag append → visible at 500 events/s, {n} worker(s)",
                     f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (all past: p99 {all99:.1f} ms)", "",
                     f"{worker_rss:.0f} MiB"))  # fmt: skip
    print()
    print(table(rows, ("measure", "figure", "ratio to (a)", "peak RSS per worker")))
    print(
        f"\npeak RSS of the benchmark process {peak_rss_mib():.0f} MiB; goals: best rebuild "
        ">= 1.0x (a), lag p99 <= 50 ms, peak RSS per worker <= 256 MB"
    )
    summary("projections", rows)


async def rebuilt_schemas_equal(database_url: str, counts: list[int], *others: str) -> bool:
    """Whether every other rebuild holds the same rows as the first N-worker one."""
    conn = await connect(database_url, f"bench_rm_{counts[0]}")
    try:
        for schema in [f"bench_rm_{n}" for n in counts[1:]] + list(others):
            if await compare(conn, f"bench_rm_{counts[0]}", schema):
                return False
        return True
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="projection benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--lag-seconds", type=float, default=10.0, help="length of run (c)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="counts of (b)")
    parser.add_argument("--uvloop", action="store_true", help="workers on uvloop (S2: no gain)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.lag_seconds, args.workers = 3_000, 1.0, [1, 2]
    asyncio.run(run(args.events, args.lag_seconds, args.workers, args.uvloop))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
