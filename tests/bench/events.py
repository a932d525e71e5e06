"""Export benchmark: the log to JSON lines and to Parquet, against the raw ordered read.

Run: ``.venv/bin/python -m tests.bench.events [--events 1000000]`` (``--smoke``: tiny sizes)

In one run, on embedded servers, over the same stream (the projection benchmark's realistic mix):
  (a) raw read of the whole stream with nats-py's ordered consumer (the baseline);
  (b) ``muster events export`` to JSON lines (``export_events`` + ``JsonLinesWriter``, a file);
  (c) the same to Parquet (``ParquetWriter``, zstd row groups).
Each runs in a child process of its own, so its peak RSS is its own. Goals: (b) and (c) at least
0.8 of (a) in events/s; peak RSS at most 300 MB (streaming, never the whole log in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats

from gateways.jetstream.layout import Layout
from tests.bench.common import bench_stack, peak_rss_mib, summary, table
from tests.bench.projection_log import fill, ordered_consumer_read

LAYOUT = Layout("BENCH_EVENTS", "bench")


async def child(mode: str, url: str, total: int, out: Path) -> dict[str, float]:
    """One measurement, in this (child) process: events/s and peak RSS."""
    from projections.event_export import (
        EnvelopeWriter,
        JsonLinesWriter,
        ParquetWriter,
        export_events,
    )
    from projections.event_stream import EventFilter

    nc = await nats.connect(url)
    try:
        if mode == "raw":
            rate = await ordered_consumer_read(nc, LAYOUT, total)
            return {"rate": rate, "peak": peak_rss_mib(), "bytes": 0}
        started = time.perf_counter()
        with out.open("wb") as file:
            writer: EnvelopeWriter = (
                JsonLinesWriter(file) if mode == "jsonl" else ParquetWriter(out)
            )
            count = await export_events(nc, LAYOUT, EventFilter(), writer)
        elapsed = time.perf_counter() - started
        if count != total:
            raise RuntimeError(f"exported {count} events, expected {total}")
        return {"rate": count / elapsed, "peak": peak_rss_mib(), "bytes": 0}
    finally:
        await nc.close()


def measure(mode: str, url: str, total: int, out: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.events", "--child", mode, "--url", url,
         "--events", str(total), "--out", str(out)],
        capture_output=True, text=True, check=False, env=os.environ.copy(),
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"{mode} failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def run(total: int) -> None:
    with bench_stack() as stack, tempfile.TemporaryDirectory(prefix="muster-export-") as tmp:
        url = stack.url("nats")

        async def setup() -> int:
            nc = await nats.connect(url)
            try:
                return await fill(nc, LAYOUT, total)
            finally:
                await nc.close()

        print(f"export benchmark: {total:,} events", flush=True)
        started = time.perf_counter()
        asyncio.run(setup())
        print(f"  filled the stream in {time.perf_counter() - started:.1f}s", flush=True)
        results = {}
        for mode, name in (("raw", "events.jsonl"), ("jsonl", "events.jsonl"),
                           ("parquet", "events.parquet")):  # fmt: skip
            results[mode] = measure(mode, url, total, Path(tmp) / name)
            figures = results[mode]
            print(f"  {mode:<8} {figures['rate']:>10,.0f} events/s  peak {figures['peak']:.0f} MiB",
                  flush=True)  # fmt: skip
    raw = results["raw"]["rate"]
    rows = [
        ("raw ordered read (baseline)", f"{raw:,.0f}", "1.00", f"{results['raw']['peak']:.0f}",
         "-"),
    ]  # fmt: skip
    for mode, label in (("jsonl", "export to JSON lines"), ("parquet", "export to Parquet")):
        figures = results[mode]
        rows.append((
            label, f"{figures['rate']:,.0f}", f"{figures['rate'] / raw:.2f}",
            f"{figures['peak']:.0f}", f"{figures['bytes'] / total:.0f}",
        ))  # fmt: skip
    print()
    print(table(rows, ("operation", "events/s", "ratio to raw", "peak RSS MiB", "bytes/event")))
    summary("events", rows)
    print(f"\n{total:,} events; goals: ratio >= 0.8, peak RSS <= 300 MB; "
          f"this process peak {peak_rss_mib():.0f} MiB")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="export benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--child", choices=["raw", "jsonl", "parquet"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        figures = asyncio.run(child(args.child, args.url, args.events, args.out))
        if args.child != "raw":
            figures["bytes"] = args.out.stat().st_size
        print(json.dumps(figures))
        return 0
    run(2_000 if args.smoke else args.events)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
