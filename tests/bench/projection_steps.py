"""The rebuild's cost per event, step by step: what each change buys, measured in one run.

Run: ``.venv/bin/python -m tests.bench.projection_steps [--events 200000]`` (``--smoke``: tiny)

One stream (the workload of :mod:`tests.bench.projections`), one raw ordered consumer as the
baseline, then the same single-worker rebuild in a fresh process per step, each step adding one
change to the previous (every step runs twice, in mirrored order, against a machine whose load
changes during the run):

  S0  nats-py's client as it comes, asyncio's event loop, every index kept up to date;
  S1  + Muster's NATS client (:mod:`gateways.jetstream.headers`: faster header parsing and, since
      the raw subscription, no ``Msg``, queue or task per message);
  S2  + uvloop as the event loop;
  S3  + secondary indexes built once after the rebuild (:func:`projections.replay.
      drop_secondary_indexes`), not maintained row by row.

And, on the reading side alone, a second stream written with fewer headers (the originator
version and ``Nats-Msg-Id`` only; the type is in the body) against the full set.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NATS

from domain.events import type_name
from gateways.jetstream import headers
from gateways.jetstream.layout import H_MSG_ID, H_VERSION, Layout, event_headers
from gateways.postgres import migrate
from projections.replay import MIGRATIONS, create_indexes, drop_secondary_indexes
from projections.runner import ProjectionRunner
from tests.bench.common import bench_stack, peak_rss_mib, summary, table
from tests.bench.projection_log import (
    ENCODER,
    event_stream,
    feed_read,
    fill,
    ordered_consumer_read,
)


@dataclass(frozen=True)
class Step:
    name: str
    muster_client: bool
    uvloop: bool
    indexes_after: bool


STEPS = (
    Step("S0 nats-py client, asyncio loop, indexes maintained", False, False, False),
    Step("S1 + Muster's NATS client (header parsing, raw subscription)", True, False, False),
    Step("S2 + uvloop", True, True, False),
    Step("S3 + secondary indexes built after the rebuild", True, True, True),
)


def rebuild_step(
    step: Step, nats_url: str, database_url: str, schema: str, total: int
) -> tuple[float, float]:
    """Process entry point: one full rebuild as ``step`` says; (events/s, peak RSS MiB)."""

    async def main() -> float:
        await migrate(database_url, schema, MIGRATIONS)
        connect = headers.connect if step.muster_client else nats.connect
        nc = await connect(nats_url)
        started = time.perf_counter()
        indexes = await drop_secondary_indexes(database_url, schema) if step.indexes_after else []
        runner = ProjectionRunner(nc, Layout("BENCH_EVENTS", "benchevents"), database_url, schema)
        await runner.run(asyncio.Event(), until=total)
        await create_indexes(database_url, indexes)
        rate = total / (time.perf_counter() - started)
        await nc.close()
        return rate

    if step.uvloop:
        import uvloop

        rate = uvloop.run(main())
    else:
        rate = asyncio.run(main())
    return rate, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def fill_slim(nc: NATS, layout: Layout, total: int) -> None:
    """The same events with two headers: the originator version and ``Nats-Msg-Id``."""
    js = nc.jetstream()
    await js.add_stream(layout.stream_config())
    pending = []
    for count, (aggregate, version, event) in enumerate(event_stream(total), 1):
        slim = {H_VERSION: str(version), H_MSG_ID: f"{event.command_id}:{version}"}
        pending.append(await js.publish_async(
            layout.subject_for(aggregate), ENCODER.encode(event), headers=slim
        ))  # fmt: skip
        if len(pending) >= 4_000:
            await asyncio.gather(*pending)
            pending.clear()
        if count >= total:
            break
    await asyncio.gather(*pending)


async def run(total: int, mirrored: bool = True) -> None:
    with bench_stack() as stack:
        nats_url, database_url = stack.url("nats"), stack.url("postgres")
        nc = await nats.connect(nats_url)
        muster_nc = await headers.connect(nats_url)
        layout = Layout("BENCH_EVENTS", "benchevents")
        slim = Layout("BENCH_SLIM", "benchslim")
        count = await fill(nc, layout, total)
        await fill_slim(nc, slim, count)
        full_headers = len(event_headers(type_name(type(next(event_stream(1))[2])), 1)) + 1
        print(f"projection steps: {count:,} events; a stored event has {full_headers} headers "
              "here (Muster's writer adds the expected-sequence header too)")  # fmt: skip
        read_rate = await ordered_consumer_read(nc, layout, count)
        print(f"  raw read, ordered consumer (baseline): {read_rate:,.0f} events/s", flush=True)
        # Each measure runs twice, in mirrored order (A B C C B A), so a machine that gets
        # busier or quieter during the run does not favour the later steps.
        reads = {"nats-py": (nc, layout), "muster": (muster_nc, layout), "slim": (muster_nc, slim)}
        feed: dict[str, list[float]] = {name: [] for name in reads}
        for name in [*reads, *reversed(reads)] if mirrored else reads:
            client, where = reads[name]
            feed[name].append(await feed_read(client, where, count))
        print("  feed reads: " + ", ".join(f"{k} {_both(v)}" for k, v in feed.items()), flush=True)
        rates: dict[int, list[float]] = {n: [] for n in range(len(STEPS))}
        rss: list[float] = []
        context = multiprocessing.get_context("spawn")
        order = [*range(len(STEPS)), *reversed(range(len(STEPS)))][: None if mirrored else 4]
        for run_number, n in enumerate(order):
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                future = pool.submit(
                    rebuild_step, STEPS[n], nats_url, database_url, f"step{run_number}", count
                )
                rate, worker_rss = await asyncio.wrap_future(future)
            rates[n].append(rate)
            rss.append(worker_rss)
            print(f"  {STEPS[n].name}: {rate:,.0f} events/s", flush=True)
        await muster_nc.close()
        await nc.close()
    results = [(step, statistics.mean(rates[n])) for n, step in enumerate(STEPS)]
    base = results[0][1]
    labels = {"nats-py": "feed read, nats-py client", "muster": "feed read, Muster's client",
              "slim": "feed read, Muster's client, 2 stored headers instead of 5"}  # fmt: skip
    rows = [("raw read, nats-py ordered consumer (baseline)", f"{read_rate:,.0f} events/s",
             "1.00", "")]  # fmt: skip
    rows += [
        (labels[name], f"{_both(values)} events/s", f"{statistics.mean(values) / read_rate:.2f}",
         "")
        for name, values in feed.items()
    ]  # fmt: skip
    rows += [
        (f"rebuild {step.name}", f"{_both(rates[n])} events/s", f"{rate / read_rate:.2f}",
         f"{rate / base:.2f}")
        for n, (step, rate) in enumerate(results)
    ]  # fmt: skip
    print()
    print(table(rows, ("step", "figure (run 1, run 2)", "mean to raw read", "mean to S0")))
    summary("projection_steps", rows)
    print(f"\npeak RSS of the benchmark process {peak_rss_mib():.0f} MiB; "
          f"of a rebuild worker {max(rss):.0f} MiB")  # fmt: skip


def _both(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="projection cost per event, step by step")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args(argv)
    asyncio.run(run(3_000, mirrored=False) if args.smoke else run(args.events))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
