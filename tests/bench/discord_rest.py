"""Benchmark of the Discord REST client: edit coalescing against naive edits, and a cache trace.

Run: ``python -m tests.bench.discord_rest [--changes 100] [--spread 0.5] [--lookups 10000]``
(``--smoke``: tiny sizes, seconds).

Part 1, one game's message, a burst of ``--changes`` state changes arriving over ``--spread``
seconds, right after the message was posted, against the emulator's real limits (5 writes per
5 s per channel, 50 requests/s): (a) naive, one edit per change through discord.py's own
``HTTPClient`` (it respects buckets, so every edit lands, late) — the baseline; (a') naive with no
rate-limit handling at all (plain aiohttp, no retries); (b) Muster's client in each outbound mode.
Counted from the emulator's request log: edits sent, 429s received, seconds from the first change
until the message shows the last one.

Part 2, ``--lookups`` member lookups drawn from a Zipf distribution (``--zipf``) over
``--members`` members, one every ``--step`` simulated seconds (the cache's clock is simulated, so
the 5-minute fresh age and background refreshes take effect): a cold start, then the next
``--lookups`` in steady state. No cache can serve a member's first lookup, so the ceiling of a
window is 1 - (members seen for the first time) / lookups.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import random
import tempfile
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from deploy.emulator import DiscordEmulator, RateLimits, point_discord_py_at
from deploy.emulator.model import Channel
from deploy.stack import LocalStack
from gateways.discord import Body, DiscordConfig, DiscordRest, Worker, open_outbound
from gateways.discord.external import ensure_streams
from gateways.discord.metrics import Metrics
from tests.bench.common import peak_rss_mib, summary, table

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord.http

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"


class Burst:
    """Figures of one burst on one channel, read from the emulator's request log."""

    def __init__(self, name: str, emu: DiscordEmulator, channel: Channel) -> None:
        self.name, self.emu, self.channel = name, emu, channel
        self.edits = self.limited = 0
        self.visible_after: float | None = None
        self.last_edit_after = 0.0
        self.shown = ""
        self.peak = 0.0

    def count(self, since: float) -> None:
        mine = [
            r
            for r in self.emu.requests.entries()
            if r.at >= since and f"/channels/{self.channel.id}/" in r.path
        ]
        edits = [r for r in mine if r.route == EDIT and r.status == 200]
        self.edits = len(edits)
        self.limited = sum(1 for r in mine if r.status == 429)
        self.last_edit_after = max((r.at + r.duration - since for r in edits), default=0.0)
        self.shown = self.emu.channel_messages(self.channel)[0]["content"]

    def row(self, baseline: Burst | None) -> tuple[str, ...]:
        shown = f"{self.visible_after:.2f}" if self.visible_after is not None else "never"
        ratio = "1x (baseline)" if baseline is self else "-"
        if baseline is not None and self.name.startswith("(b)") and self.edits:
            ratio = f"{baseline.edits / self.edits:.0f}x fewer edits"
        return (
            self.name,
            str(self.edits),
            str(self.limited),
            shown,
            f"{self.last_edit_after:.2f}",
            repr(self.shown),
            ratio,
            f"{self.peak:.0f}",
        )


async def run_burst(
    name: str,
    emu: DiscordEmulator,
    channel: Channel,
    post: Callable[[str], Awaitable[str]],
    edit: Callable[[str, str], Awaitable[object]],
    args: argparse.Namespace,
    cap: float,
) -> Burst:
    """Post a message, then ``args.changes`` changes over ``args.spread`` s; wait for the last."""
    burst = Burst(name, emu, channel)
    message_id = await post("players: 0")
    started = time.monotonic()
    pause = args.spread / args.changes
    for n in range(1, args.changes + 1):
        await edit(message_id, f"players: {n}")
        await asyncio.sleep(pause)
    final = f"players: {args.changes}"
    try:
        await emu.until(lambda: emu.channel_messages(channel)[0]["content"] == final, within=cap)
        burst.visible_after = time.monotonic() - started
    except TimeoutError:
        burst.visible_after = None
    await asyncio.sleep(0.2)
    burst.count(started)
    burst.peak = peak_rss_mib()
    print(f"  {burst.row(None)}", flush=True)
    return burst


async def naive_discordpy(emu: DiscordEmulator, args: argparse.Namespace) -> Burst:
    """(a) one edit per change, each sent as it happens, with discord.py's HTTPClient."""
    await point_discord_py_at(emu.api_base)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login(emu.bot_token)
    channel = emu.people.guild_of(args.guild).text_channel(f"naive-{uuid.uuid4().hex[:6]}")
    tasks: list[asyncio.Task[Any]] = []

    async def post(content: str) -> str:
        params = discord.http.handle_message_parameters(content=content)
        return str((await http.send_message(channel.id, params=params))["id"])

    async def edit(message_id: str, content: str) -> None:
        params = discord.http.handle_message_parameters(content=content)
        tasks.append(asyncio.create_task(http.edit_message(channel.id, message_id, params=params)))

    try:
        return await run_burst("(a) naive, discord.py", emu, channel, post, edit, args, args.cap)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.close()


async def naive_raw(emu: DiscordEmulator, args: argparse.Namespace) -> Burst:
    """(a') one edit per change, no rate-limit handling and no retries."""
    channel = emu.people.guild_of(args.guild).text_channel(f"raw-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    base = f"{emu.api_base}/channels/{channel.id}/messages"
    tasks: list[asyncio.Task[Any]] = []
    async with aiohttp.ClientSession(headers=headers) as session:

        async def post(content: str) -> str:
            async with session.post(base, json={"content": content}) as r:
                return str((await r.json())["id"])

        async def patch(message_id: str, content: str) -> None:
            async with session.patch(f"{base}/{message_id}", json={"content": content}) as r:
                await r.read()

        async def edit(message_id: str, content: str) -> None:
            tasks.append(asyncio.create_task(patch(message_id, content)))

        burst = await run_burst("(a') naive, no limits", emu, channel, post, edit, args, 3.0)
        await asyncio.gather(*tasks, return_exceptions=True)
    return burst


async def coalescing(
    mode: str, emu: DiscordEmulator, redis: Redis, nc: NATS, args: argparse.Namespace
) -> Burst:
    """(b) Muster's client: edits coalesce, the channel budget is scheduled."""
    tag = uuid.uuid4().hex[:8]
    config = DiscordConfig(
        token=emu.bot_token,
        api_base=emu.api_base,
        key_prefix=f"bench:{tag}",
        outbound=mode,  # type: ignore[arg-type]
        ops_stream=f"BENCH_OPS_{tag}",
        ops_prefix=f"b{tag}.ops",
        dead_prefix=f"b{tag}.dead",
    )
    channel = emu.people.guild_of(args.guild).text_channel(f"{mode}-{tag}")
    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    async with DiscordRest(config, redis, nc, metrics=Metrics()) as rest:
        if mode == "external":
            await ensure_streams(nc, config)
            worker_rest = await DiscordRest(config, redis, nc, metrics=Metrics()).start()
            worker_task = asyncio.create_task(Worker(worker_rest, nc).run(stop))
        out = await open_outbound(rest, nc)

        async def post(content: str) -> str:
            sent = await out.send_message(channel.id, Body(content=content))
            assert sent is not None
            return str(sent["id"])

        async def edit(message_id: str, content: str) -> None:
            await out.edit_message(channel.id, message_id, Body(content=content))

        try:
            burst = await run_burst(f"(b) Muster, {mode}", emu, channel, post, edit, args, 10.0)
        finally:
            await out.close()
            if worker_task is not None:
                stop.set()
                await worker_task
                await worker_rest.close()
                for name in (config.ops_stream, f"{config.ops_stream}_DEAD"):
                    await nc.jetstream().delete_stream(name)
    return burst


async def edit_bursts(redis: Redis, nc: NATS, args: argparse.Namespace) -> None:
    async with DiscordEmulator() as emu:
        args.guild = emu.people.guild("Bench").id
        print(f"\nPart 1: {args.changes} changes over {args.spread} s to one message", flush=True)
        modes = ("direct", "in_process", "external")
        rows = [await coalescing(mode, emu, redis, nc, args) for mode in modes]
        rows.append(await naive_raw(emu, args))
        if not args.skip_baseline:
            baseline = await naive_discordpy(emu, args)
            rows.insert(0, baseline)
        else:
            baseline = None
    header = (
        "run", "edits", "429s", "final state visible after (s)", "last edit landed after (s)",
        "message shows", "vs baseline", "peak MiB",
    )  # fmt: skip
    print()
    print(table([r.row(baseline) for r in rows], header))
    if baseline is not None:
        ratios = "   ".join(
            f"{r.name.split(', ')[-1]} {baseline.edits / max(r.edits, 1):.0f}x fewer edits"
            for r in rows
            if r.name.startswith("(b)")
        )
        print(f"\nvs (a): {ratios}   peak RSS {peak_rss_mib():.0f} MiB")
    summary("discord_rest", [r.row(baseline) for r in rows], (0, 1, 6))


def zipf_trace(members: int, s: float, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    cumulative = list(itertools.accumulate(1 / (i**s) for i in range(1, members + 1)))
    total = cumulative[-1]
    return [bisect.bisect_left(cumulative, rng.random() * total) for _ in range(count)]


async def cache_trace(redis: Redis, args: argparse.Namespace) -> None:
    print(
        f"\nPart 2: {args.lookups:,} member lookups, Zipf s={args.zipf} over {args.members:,} "
        f"members, one per {args.step} simulated s",
        flush=True,
    )
    trace = zipf_trace(args.members, args.zipf, 2 * args.lookups, seed=7)
    rows = []
    async with DiscordEmulator(rate_limits=RateLimits.relaxed()) as emu:
        guild = emu.people.guild("Trace")
        ids = [guild.member(f"m{i}", global_name=f"Member {i}").id for i in range(args.members)]
        config = DiscordConfig(
            token=emu.bot_token,
            api_base=emu.api_base,
            key_prefix=f"bench:{uuid.uuid4().hex[:8]}",
            global_per_second=100_000,
        )
        now = [time.time()]
        metrics = Metrics()
        async with DiscordRest(config, redis, metrics=metrics, clock=lambda: now[0]) as rest:
            seen: set[int] = set()
            for phase, part in (
                ("cold start", trace[: args.lookups]),
                ("steady state (next lookups)", trace[args.lookups :]),
            ):
                first_sightings = len(set(part) - seen)
                seen.update(part)
                before = snapshot(metrics, emu)
                started = time.perf_counter()
                for index in part:
                    await rest.reads.member(guild.id, ids[index])
                    now[0] += args.step
                await rest.cache.drain()  # background refreshes land
                elapsed = time.perf_counter() - started
                after = snapshot(metrics, emu)
                d = {k: after[k] - before[k] for k in after}
                served = d["hits"] + d["stale"]
                rows.append(
                    (
                        phase,
                        f"{len(part):,}",
                        f"{served / len(part):.1%}",
                        f"{d['hits'] / len(part):.1%}",
                        f"{1 - first_sightings / len(part):.1%}",
                        f"{d['calls']:,.0f}",
                        f"{len(part) / elapsed:,.0f}",
                        f"{peak_rss_mib():.0f}",
                    )
                )
                print(f"  {rows[-1]}", flush=True)
    header = (
        "trace", "lookups", "hit rate (fresh + stale)", "fresh hits",
        "ceiling (1 - first sightings)", "Discord calls", "lookups/s", "peak MiB",
    )  # fmt: skip
    print()
    print(table(rows, header))
    steady = rows[-1]
    print(f"\nsteady state: hit rate {steady[2]} of a ceiling of {steady[4]}   "
          f"peak RSS {peak_rss_mib():.0f} MiB")  # fmt: skip
    summary(
        "discord_rest",
        [("member cache, " + r[0], f"hit rate {r[2]}", f"ceiling {r[4]}") for r in rows],
    )


def snapshot(metrics: Metrics, emu: DiscordEmulator) -> dict[str, float]:
    return {
        "hits": metrics.total("muster_discord_cache_hits_total"),
        "stale": metrics.total("muster_discord_cache_stale_served_total"),
        "calls": float(emu.requests.count("GET /guilds/{guild_id}/members/{user_id}")),
    }


async def main_async(args: argparse.Namespace, urls: dict[str, str]) -> None:
    nc = await nats.connect(urls["nats"])
    redis = Redis.from_url(urls["redis"])
    try:
        if not args.skip_edits:
            await edit_bursts(redis, nc, args)
        await cache_trace(redis, args)
    finally:
        await redis.aclose()
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--changes", type=int, default=100)
    p.add_argument("--spread", type=float, default=0.5, help="seconds the changes arrive over")
    p.add_argument("--cap", type=float, default=150.0, help="seconds to wait for the baseline")
    p.add_argument("--skip-baseline", action="store_true", help="skip (a), which takes ~100 s")
    p.add_argument("--skip-edits", action="store_true")
    p.add_argument("--lookups", type=int, default=10_000)
    p.add_argument("--members", type=int, default=3_000)
    p.add_argument("--zipf", type=float, default=1.2)
    p.add_argument("--step", type=float, default=0.06, help="simulated seconds between lookups")
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = p.parse_args(argv)
    if args.smoke:
        args.changes, args.spread, args.cap = 6, 0.1, 30.0
        args.lookups, args.members = 300, 60
    with tempfile.TemporaryDirectory(prefix="muster-bench-") as tmp:
        stack = LocalStack(data_dir=Path(tmp), durable=False)
        with stack:
            urls = {"nats": stack.url("nats"), "redis": stack.url("redis")}
            asyncio.run(main_async(args, urls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
