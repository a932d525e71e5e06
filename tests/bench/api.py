"""Benchmark of the web: request latency at a fixed rate, and SSE fan-out.

Run: ``python -m tests.bench.api [--rate 500] [--seconds 10] [--pages 1000]`` (``--smoke``: tiny).

Part 1: open-loop load at ``--rate`` requests/s (requests start on schedule whether or not earlier
ones finished) against ``GET /api/v1/games/{id}`` and the game page ``/games/{id}``, each
compared with the trivial ``GET /api/v1/ping`` of the same app in the same run: one client (one
connection pool) for all three, each warmed up at full rate, then blocks of 0.25 s taking turns.
Logged in, with real servers and the emulated Discord behind (member and name reads are cached
in Redis after the first request, as in production).

Part 2: ``--pages`` open game pages (SSE connections to ``/live/games/{id}``); one player joins;
time from the join's request until each page received the updated roster: p50, p99, all.

The web runs in this process on its own thread and event loop (the load generator shares the
CPU with it, so the figures are pessimistic). Peak RSS is the whole process's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from gateways.postgres import migrate
from projections.replay import MIGRATIONS
from tests.bench.common import bench_stack, peak_rss_mib, summary, table
from tests.conftest import fresh_log_env
from tests.integration.api.harness import WebStack


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def load_elsewhere(
    base: str, cookie: str, paths: dict[str, str], rate: int, seconds: float, block: float
) -> dict[str, list[float]]:
    """:func:`load_in_child` in a child process, so the load generator does not share the web's
    GIL."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(load_in_child, base, cookie, paths, rate, seconds, block).result()


def load_in_child(
    base: str, cookie: str, paths: dict[str, str], rate: int, seconds: float, block: float
) -> dict[str, list[float]]:
    """One client, one pacing for every path: a warm-up of each at full rate, then blocks of
    ``block`` seconds taking turns, until each path had ``seconds`` of load (so a pause of the
    shared CPU falls on all of them alike)."""

    async def go() -> dict[str, list[float]]:
        async with aiohttp.ClientSession(
            base_url=base, headers={"Cookie": cookie}, connector=aiohttp.TCPConnector(limit=500)
        ) as client:
            for path in paths.values():  # pools grow, templates compile, caches fill
                await load(client, path, min(rate, 50), 0.5)
                await load(client, path, rate, 1.0)
            found: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(max(1, round(seconds / block))):
                for name, path in paths.items():
                    found[name] += await load(client, path, rate, block)
            return found

    return asyncio.run(go())


async def load(client: aiohttp.ClientSession, url: str, rate: int, seconds: float) -> list[float]:
    """Open-loop: one request every 1/rate s for ``seconds``; latencies in seconds."""
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}

    async def one() -> None:
        nonlocal errors
        started = time.perf_counter()
        async with client.get(url) as response:
            await response.read()
            if response.status != 200:
                errors += 1
                statuses[response.status] = statuses.get(response.status, 0) + 1
        latencies.append(time.perf_counter() - started)

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    if errors:
        raise RuntimeError(f"{errors} requests to {url} failed: {statuses}")
    return latencies


def pages_in_child(
    base: str, cookie: str, game_id: str, pages: int, ready: Any, received: Any
) -> None:
    """Open ``pages`` SSE streams; set ``ready`` once all listen; put each roster's arrival
    time (``time.perf_counter``: one monotonic clock for every process) on ``received``."""

    async def go() -> None:
        count = 0
        connector = aiohttp.TCPConnector(limit=pages + 10)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(
            base_url=base, headers={"Cookie": cookie}, connector=connector, timeout=timeout
        ) as client:

            async def page() -> float:
                nonlocal count
                async with client.get(f"/live/games/{game_id}") as stream:
                    event = ""
                    async for raw in stream.content:
                        line = raw.decode().rstrip("\r\n")
                        if line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: ") and event == "ready":
                            count += 1
                            if count == pages:
                                ready.set()
                        elif line.startswith("data: ") and event == "roster":
                            return time.perf_counter()
                raise RuntimeError("stream ended")

            for arrived in await asyncio.gather(*(page() for _ in range(pages))):
                received.put(arrived)

    asyncio.run(go())


async def fan_out(stack: WebStack, cookie: str, game_id: str, pages: int) -> list[float]:
    """Seconds from one join's request until each open page had the new roster."""
    spawn = multiprocessing.get_context("spawn")
    ready, received = spawn.Event(), spawn.Queue()
    child = spawn.Process(target=pages_in_child,
                          args=(stack.url, cookie, game_id, pages, ready, received))  # fmt: skip
    child.start()
    try:
        if not await asyncio.to_thread(ready.wait, 120):
            raise RuntimeError("the pages did not all connect")
        joiner = stack.login("bob")
        joined_at = time.perf_counter()
        join = f"/api/v1/games/{game_id}/join"
        await asyncio.to_thread(joiner.post, join, params={"wait": "false"})
        arrivals = [await asyncio.to_thread(received.get, True, 60) for _ in range(pages)]
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
    return [arrived - joined_at for arrived in arrivals]


async def run(stack: WebStack, rate: int, seconds: float, pages: int) -> list[tuple[str, ...]]:
    hana = stack.login("hana")
    game_id = hana.post("/api/v1/games", json={
        "guild_id": stack.guild_id, "channel_id": stack.channel_id, "title": "Bench night",
        "scheduled_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "players": ["@alice", "@chen"], "placeholders": ["Tim"]}).json()["game_id"]  # fmt: skip
    rows: list[tuple[str, ...]] = []
    cookie = f"muster_session={hana.cookies['muster_session']}"
    paths = {"ping": "/api/v1/ping", "api": f"/api/v1/games/{game_id}", "page": f"/games/{game_id}"}
    results = await asyncio.to_thread(load_elsewhere, stack.url, cookie, paths, rate, seconds, 0.25)
    base = statistics.median(results["ping"])
    base99 = pct(results["ping"], 0.99)
    labels = (
        ("ping", "GET /api/v1/ping (baseline)"),
        ("api", "GET /api/v1/games/{id}"),
        ("page", "game page /games/{id}"),
    )
    for name, label in labels:
        lat = results[name]
        rows.append((label, f"{rate}/s", str(len(lat)), f"{pct(lat, 0.5):.1f} ms",
                     f"{pct(lat, 0.99):.1f} ms",
                     f"p50 {statistics.median(lat) / base:.2f}x, "
                     f"p99 {pct(lat, 0.99) / base99:.2f}x"))  # fmt: skip
        p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
        print(f"  {label:<32} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms", flush=True)
    got = await fan_out(stack, cookie, game_id, pages)
    p50, p99, every = pct(got, 0.5), pct(got, 0.99), max(got) * 1000
    print(
        f"  SSE fan-out to {pages} pages: p50 {p50:.0f} ms, p99 {p99:.0f} ms, all {every:.0f} ms",
        flush=True,
    )
    rows.append((f"SSE fan-out, one join -> {pages} pages", "-", str(len(got)),
                 f"{pct(got, 0.5):.0f} ms", f"{pct(got, 0.99):.0f} ms",
                 f"all {max(got) * 1000:.0f} ms"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a quick check)")
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds, args.pages = 50, 1, 20
    with bench_stack() as local, tempfile.TemporaryDirectory() as tmp:
        urls = {k: local.url(k) for k in ("nats", "postgres", "redis")}
        env = fresh_log_env(urls["nats"])
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(migrate(urls["postgres"], schema, MIGRATIONS))
        with WebStack(urls, env, schema, Path(tmp)) as stack:
            rows = asyncio.run(run(stack, args.rate, args.seconds, args.pages))
            stack.close_clients()
    rows.append(("peak RSS (whole process)", "", "", "", "", f"{peak_rss_mib():.0f} MiB"))
    print(table(rows, ("what", "rate", "samples", "p50", "p99", "vs baseline")))
    summary("api", rows[:-1], ((0, 1), 3, 5))


if __name__ == "__main__":
    main()
