"""Instructions per rebuilt event, counted by callgrind: a figure the machine's load does not move.

Run, in two steps (the servers outside valgrind, only the rebuilding process inside it)::

    .venv/bin/python -m tests.bench.rebuild_instructions serve DIR [--events 100000] &
    .venv/bin/python -m tests.bench.rebuild_instructions count DIR [--runs 2]

``serve`` starts embedded NATS and PostgreSQL under ``DIR``, fills the stream with the workload
of :mod:`tests.bench.projections` (the same seed, so the same log every time), writes their URLs
to ``DIR/urls.json`` and waits until it is stopped (SIGTERM or SIGINT: the servers go with it).
``count`` runs ``valgrind --tool=callgrind`` on ``rebuild`` — one runner in a fresh process
rebuilding the log into a fresh schema, as ``muster replay`` runs a single partition — once up
to the last event and once stopping after the first, and prints (instructions of the whole run -
those of the run stopping after one event) / (events - 1): start-up, imports, migrations and
connections cancel out. ``--keep`` leaves the callgrind files for ``callgrind_annotate``.

That a change keeps the rebuilt rows: ``rebuild DIR --until N --schema S`` with each version of
the code, then ``same DIR S1 S2`` compares the two schemas (as ``muster replay`` compares, and
each game's stored state too: run both with the same ``PYTHONHASHSEED``, as sets are
stored in their order).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

LAYOUT_STREAM, LAYOUT_PREFIX = "BENCH_EVENTS", "benchevents"


async def _serve(directory: Path, events: int) -> None:
    import nats

    from deploy.stack import LocalStack
    from gateways.jetstream.layout import Layout
    from tests.bench.projection_log import fill

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with LocalStack(data_dir=directory / "data", durable=True, discard=True) as stack:
        nc = await nats.connect(stack.url("nats"))
        count = await fill(nc, Layout(LAYOUT_STREAM, LAYOUT_PREFIX), events)
        await nc.close()
        urls = {"nats": stack.url("nats"), "postgres": stack.url("postgres"), "events": count}
        (directory / "urls.json").write_text(json.dumps(urls))
        print(f"serving {count:,} events: {urls}", flush=True)
        await stop.wait()
    (directory / "urls.json").unlink(missing_ok=True)


async def _rebuild(directory: Path, until: int, schema: str | None) -> None:
    from gateways.jetstream import headers
    from gateways.jetstream.layout import Layout
    from gateways.postgres import migrate
    from projections.rebuild_workers import FILL
    from projections.replay import MIGRATIONS
    from projections.runner import ProjectionRunner

    urls = json.loads((directory / "urls.json").read_text())
    schema = schema or f"instr_{uuid.uuid4().hex[:12]}"
    await migrate(urls["postgres"], schema, MIGRATIONS)
    nc = await headers.connect(urls["nats"])
    runner = ProjectionRunner(
        nc, Layout(LAYOUT_STREAM, LAYOUT_PREFIX), urls["postgres"], schema, fill=FILL
    )
    progress = await runner.run(asyncio.Event(), until=until)
    await nc.close()
    if progress.position != until or progress.parked:
        raise SystemExit(f"rebuild stopped at {progress.position} ({progress.parked} parked)")


async def _same(directory: Path, first: str, second: str) -> bool:
    from gateways.postgres import connect
    from projections.replay import COMPARED, compare

    urls = json.loads((directory / "urls.json").read_text())
    tables = {**COMPARED, "games": (*COMPARED["games"], "state")}
    conn = await connect(urls["postgres"], first)
    try:
        differences = await compare(conn, first, second, tables)
    finally:
        await conn.close()
    for difference in differences:
        print(difference.table, difference.only_in, difference.count)
    print("the same rows" if not differences else f"{len(differences)} difference(s)")
    return not differences


def _instructions(out: Path) -> int:
    """The total instruction count of a callgrind output file."""
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no totals in {out}")


def _callgrind(directory: Path, until: int, out: Path) -> int:
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, "-m", "tests.bench.rebuild_instructions", "rebuild", str(directory),
        "--until", str(until),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same hashing every run
    subprocess.run(command, check=True, env=env, stderr=subprocess.DEVNULL)
    return _instructions(out)


def _count(directory: Path, runs: int, keep: Path | None) -> None:
    events = int(json.loads((directory / "urls.json").read_text())["events"])
    where = keep or Path(tempfile.mkdtemp(prefix="callgrind-"))
    where.mkdir(parents=True, exist_ok=True)
    figures = []
    for n in range(runs):
        started = time.perf_counter()
        one = _callgrind(directory, 1, where / f"one.{n}.out")
        full = _callgrind(directory, events, where / f"full.{n}.out")
        figures.append((full - one) / (events - 1))
        print(f"run {n + 1}: {full:,} - {one:,} instructions -> {figures[-1]:,.0f} per event "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
    print(f"mean of {runs}: {sum(figures) / len(figures):,.0f} instructions per event")
    if keep is None:
        for file in where.iterdir():
            file.unlink()
        where.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="instructions per rebuilt event (callgrind)")
    sub = parser.add_subparsers(dest="what", required=True)
    serve = sub.add_parser("serve", help="start the servers with a filled stream")
    serve.add_argument("dir", type=Path)
    serve.add_argument("--events", type=int, default=100_000)
    count = sub.add_parser("count", help="count instructions per event under callgrind")
    count.add_argument("dir", type=Path)
    count.add_argument("--runs", type=int, default=2)
    count.add_argument("--keep", type=Path, help="keep the callgrind files in this directory")
    rebuild = sub.add_parser("rebuild", help="one rebuild up to --until (what callgrind runs)")
    rebuild.add_argument("dir", type=Path)
    rebuild.add_argument("--until", type=int, required=True)
    rebuild.add_argument("--schema", help="into this schema (default: a fresh name)")
    same = sub.add_parser("same", help="whether two rebuilt schemas hold the same rows")
    same.add_argument("dir", type=Path)
    same.add_argument("schemas", nargs=2)
    args = parser.parse_args(argv)
    if args.what == "serve":
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(_serve(args.dir, args.events))
    elif args.what == "count":
        _count(args.dir, args.runs, args.keep)
    elif args.what == "same":
        return 0 if asyncio.run(_same(args.dir, *args.schemas)) else 1
    else:
        asyncio.run(_rebuild(args.dir, args.until, args.schema))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
