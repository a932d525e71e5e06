"""Run N partitioned read-model workers as processes, each up to its own target position.

Used by ``muster replay`` (a rebuild with N workers in parallel) and the projection benchmark.
Each worker is a fresh process (:mod:`projections.rebuild_worker`) with its own NATS and
PostgreSQL connections, so N workers use N cores; the parent polls the workers' rows to report
progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateways.jetstream import headers
from gateways.jetstream.layout import Layout
from gateways.postgres import connect
from projections.partitions import Partition, layout_rows
from projections.runner import Progress, ProjectionRunner

POLL = 0.5  # seconds between progress reports
FILL = 50_000  # events folded per rebuild transaction (games rewritten once per transaction)


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process needs (plain values: it crosses a process boundary)."""

    nats_url: str
    stream: str
    prefix: str
    database_url: str
    schema: str
    index: int
    count: int
    until: int
    uvloop: bool = False


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did, and its peak resident memory."""

    index: int
    applied: int
    parked: int
    duplicates: int
    position: int
    peak_rss_mib: float


def run_worker(job: WorkerJob) -> WorkerResult:
    """Process entry point: project partition ``job.index`` of ``job.count`` up to ``until``."""
    if job.uvloop:
        import uvloop

        progress = uvloop.run(_project(job))
    else:
        progress = asyncio.run(_project(job))
    return WorkerResult(
        job.index, progress.applied, progress.parked, progress.duplicates, progress.position,
        peak_rss_mib(),
    )  # fmt: skip


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: the high-water mark of its own memory
    (``VmHWM``). Not ``ru_maxrss``, which in a spawned worker keeps the resident size its parent
    had when it forked (Linux carries it across the exec)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _project(job: WorkerJob) -> Progress:
    nc = await headers.connect([u.strip() for u in job.nats_url.split(",") if u.strip()])
    try:
        runner = ProjectionRunner(
            nc, Layout(job.stream, job.prefix), job.database_url, job.schema,
            partition=Partition(job.index, job.count), fill=FILL,
        )  # fmt: skip
        return await runner.run(asyncio.Event(), until=job.until)
    finally:
        await nc.close()


class WorkerFailed(RuntimeError):
    """A worker process ended without its result (its error is on the standard error)."""


async def run_workers(
    jobs: list[WorkerJob], on_progress: Callable[[Progress], None] | None = None
) -> tuple[Progress, list[WorkerResult]]:
    """Run the jobs in parallel processes; the combined progress and each worker's result.

    If one fails (or this is cancelled), the others are stopped."""
    processes = []
    try:
        command = (sys.executable, "-m", "projections.rebuild_worker")
        pipe = asyncio.subprocess.PIPE
        for _ in jobs:
            started = await asyncio.create_subprocess_exec(*command, stdin=pipe, stdout=pipe)
            processes.append(started)
        done = asyncio.gather(*(_result(job, p) for job, p in zip(jobs, processes, strict=True)))
        while not done.done():
            await asyncio.wait([done], timeout=POLL)
            if on_progress and not done.done():
                on_progress(await _polled(jobs[0]))
        results = sorted(done.result(), key=lambda r: r.index)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    progress = Progress(
        position=min(r.position for r in results),
        applied=sum(r.applied for r in results),
        parked=sum(r.parked for r in results),
        duplicates=sum(r.duplicates for r in results),
    )
    if on_progress:
        on_progress(progress)
    return progress, results


async def _result(job: WorkerJob, process: asyncio.subprocess.Process) -> WorkerResult:
    # The job goes on standard input, not the command line: its URLs carry passwords, and
    # a command line is visible to every user of the machine.
    out, _ = await process.communicate(json.dumps(dataclasses.asdict(job)).encode())
    lines = out.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        raise WorkerFailed(
            f"rebuild worker {job.index} of {job.count} exited with {process.returncode}"
        )
    return WorkerResult(**json.loads(lines[-1]))


async def _polled(job: WorkerJob) -> Progress:
    """How far the workers are (from their rows): the smallest position, counted as applied."""
    conn = await connect(job.database_url, job.schema)
    try:
        rows = await layout_rows(conn, "read_models")
    finally:
        await conn.close()
    reached = min(rows.values(), default=0)
    return Progress(position=reached, applied=reached)


def follow(job: WorkerJob, commits: Any, stop: Any) -> None:
    """Process entry point: project partition ``job.index`` until ``stop`` (a multiprocessing
    event) is set, putting ``(index, position, time.monotonic())`` on ``commits`` after each
    commit, and ``(index, -1, peak RSS MiB)`` at the end (for the benchmark's lag figures)."""

    async def main() -> None:
        nc = await headers.connect([u.strip() for u in job.nats_url.split(",") if u.strip()])
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (stop.wait(), loop.call_soon_threadsafe(stopping.set)), daemon=True
        ).start()
        try:
            runner = ProjectionRunner(
                nc, Layout(job.stream, job.prefix), job.database_url, job.schema,
                partition=Partition(job.index, job.count),
            )  # fmt: skip
            await runner.run(
                stopping,
                on_batch=lambda p: commits.put((job.index, p.position, time.monotonic())),
            )
        finally:
            await nc.close()

    if job.uvloop:
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())
    commits.put((job.index, -1, peak_rss_mib()))
