"""Benchmark of the scheduler: a burst of reminders due at once, memory, and CPU while idle.

Run: ``python -m tests.bench.scheduler [--smoke] [--games 1000] [--players 5] [--users 250]
[--pending 100000] [--idle 10] [--concurrency 64] [--skip-baseline]
[--global-window fixed|sliding]``.

Part 1 — ``--games`` games x ``--players`` players x 1 offset, every reminder due at the same
second, against the Discord emulator's real limits (50 requests/s, 5 messages per 5 s per
channel), on embedded NATS, PostgreSQL and Redis. The players come from ``--users`` members whose
DM channels are already open (Muster caches a DM channel for a day; opening one is limited to 1/s
by Discord, so a steady-state community has them cached). Measured: due → recorded (the
``reminder_recorded`` event's time) and due → DM'd (the emulator's message create), p50/p99;
DMs per second as a fraction of Discord's 50/s; 429s served. Baseline: the same number of DMs
sent directly through Muster's REST client at once, without scheduler or commands.

Part 2 — peak RSS of a process whose scheduler holds ``--pending`` due times (games folded
through the scheduler's own fold from synthetic events), against the same process before it.

Part 3 — CPU while idle (nothing due, the log quiet) for ``--idle`` seconds, against a
scheduler that polls the read model's ``upcoming_reminders`` once a second (the design the
scheduler avoids).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.bench.common import bench_stack, peak_rss_mib, summary, table

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

DM_OPEN = "POST /users/@me/channels"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def part1_and_3(urls: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    from redis.asyncio import Redis

    from deploy.emulator import DiscordEmulator
    from domain.app import MusterApp
    from domain.commands import CreateGame
    from domain.events import ReminderRecorded
    from gateways.commands import InProcessCommands
    from gateways.discord import Body, DiscordConfig, DiscordRest, Kind, open_outbound
    from gateways.discord.metrics import Metrics
    from gateways.jetstream.layout import Layout
    from gateways.postgres import connect, migrate
    from projections.queries import upcoming_reminders
    from projections.replay import MIGRATIONS
    from projections.scheduler import DiscordMailbox, Scheduler, SchedulerMetrics, run_scheduler

    tag = uuid.uuid4().hex[:10]
    env = {
        "PERSISTENCE_MODULE": "gateways.jetstream", "MUSTER_NATS_URL": urls["nats"],
        "MUSTER_EVENTS_STREAM": f"BENCH_{tag}", "MUSTER_EVENTS_SUBJECT_PREFIX": f"b{tag}",
    }  # fmt: skip
    schema = f"bench_{tag}"
    await migrate(urls["postgres"], schema, MIGRATIONS)
    app = MusterApp(env=env)
    port = InProcessCommands(app, max_workers=8)
    redis = Redis.from_url(urls["redis"])
    import nats

    nc = await nats.connect(urls["nats"])
    figures: dict[str, Any] = {}
    from deploy.emulator.ratelimit import RateLimits

    async with DiscordEmulator(rate_limits=RateLimits(global_window=args.global_window)) as emu:
        guild = emu.people.guild("Bench")
        channel = guild.text_channel("games")
        host = guild.member("host", permissions=0x20)
        users = [str(guild.member(f"u{i}").id) for i in range(args.users)]
        config = DiscordConfig(token=emu.bot_token, api_base=emu.api_base, key_prefix=f"b{tag}")
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            outbound = await open_outbound(rest)
            # steady state: DM channels already open (cached for a day)
            emu.limiter.limits.routes[DM_OPEN] = (10**9, 1.0)

            opening = asyncio.Semaphore(16)

            async def open_dm(user: str) -> None:
                async with opening:
                    await rest.cache.get(
                        Kind.DM_CHANNEL, [user], lambda: rest.http.start_private_message(user), "dm"
                    )

            await asyncio.gather(*(open_dm(u) for u in users))
            emu.limiter.limits.routes[DM_OPEN] = (5, 5.0)
            dm_times: list[float] = []

            def on_event(event: Any) -> None:
                if event.name == "MESSAGE_CREATE" and event.guild_id is None:
                    dm_times.append(time.time())

            emu.world.listeners.append(on_event)
            metrics = SchedulerMetrics()
            scheduler = Scheduler(
                port,
                DiscordMailbox(rest, outbound),
                metrics=metrics,
                concurrency=args.concurrency,
            )
            stop = asyncio.Event()
            layout = Layout(env["MUSTER_EVENTS_STREAM"], env["MUSTER_EVENTS_SUBJECT_PREFIX"])
            runner = asyncio.create_task(
                run_scheduler(
                    scheduler,
                    nc=nc,
                    layout=layout,
                    database_url=urls["postgres"],
                    schema=schema,
                    stop=stop,
                )
            )
            lead = 8.0 if args.smoke else 30.0
            due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
            n = args.games * args.players
            game_ids: list[str] = []
            created = time.perf_counter()
            sem = asyncio.Semaphore(16)

            async def create(i: int) -> None:
                players = tuple(
                    users[(i * args.players + k) % len(users)] for k in range(args.players)
                )
                async with sem:
                    outcome = await port.send(
                        CreateGame(
                            command_id=f"bench-{tag}-{i}",
                            user_id=str(host.id),
                            permissions=0x20,
                            guild_id=str(guild.id),
                            channel_id=str(channel.id),
                            title=f"Game {i}",
                            scheduled_at=due + timedelta(minutes=15),
                            reminder_minutes=(15,),
                            players=players,
                            max_players=args.players,
                        )
                    )
                game_ids.append(str(outcome.game_id))

            await asyncio.gather(*(create(i) for i in range(args.games)))
            print(
                f"  created {args.games} games in {time.perf_counter() - created:.1f} s", flush=True
            )
            if datetime.now(UTC) >= due:
                print("  WARNING: creating the games took past their due time", flush=True)
            emu.requests.clear()
            deadline = time.monotonic() + lead + n / 20 + 60
            last_print = time.monotonic()

            def done() -> float:
                return sum(
                    metrics.value("muster_scheduler_reminders_total", status=status)
                    for status in ("sent", "skipped", "failed")
                )

            while (sent := done()) < n:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the burst did not finish: {sent:.0f} of {n} recorded")

                if time.monotonic() - last_print > 10:
                    last_print = time.monotonic()
                    print(
                        f"  ... {len(dm_times)} DMs, {sent:.0f} recorded, "
                        f"{scheduler.in_flight} in flight, "
                        f"{metrics.value('muster_scheduler_retries_total'):.0f} retries, "
                        f"{emu.requests.total_429} 429s",
                        flush=True,
                    )
                await asyncio.sleep(0.2)
            due_ts = due.timestamp()
            recorded: list[float] = []
            for game_id in game_ids:
                history = await asyncio.to_thread(app.history, f"game.{game_id}")
                recorded += [
                    e.occurred_at.timestamp() - due_ts
                    for e in history
                    if isinstance(e, ReminderRecorded)
                ]
            dm_lag = [t - due_ts for t in dm_times]
            span = max(dm_times) - min(dm_times) if len(dm_times) > 1 else 0.0
            figures.update(
                reminders=n, dms=len(dm_times), recorded=len(recorded),
                recorded_p50=pct(recorded, 50), recorded_p99=pct(recorded, 99),
                dm_p50=pct(dm_lag, 50), dm_p99=pct(dm_lag, 99),
                dm_rate=len(dm_times) / span if span else 0.0,
                burst_s=max(dm_lag), r429=emu.requests.total_429,
                r429_routes=dict(emu.requests.rate_limited),
                retries=metrics.value("muster_scheduler_retries_total"),
                skipped=metrics.value("muster_scheduler_reminders_total", status="skipped"),
            )  # fmt: skip
            # part 3: CPU while idle, then the polling baseline
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(args.idle)
            figures["idle_cpu"] = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
            stop.set()
            await runner
            conn = await connect(urls["postgres"], schema)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            end = time.perf_counter() + args.idle
            while time.perf_counter() < end:
                await upcoming_reminders(conn, datetime.now(UTC), timedelta(minutes=1))
                await conn.rollback()
                await asyncio.sleep(1.0)
            figures["poll_cpu"] = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
            await conn.close()
            # baseline: the same DMs straight through the REST client, as many at once as
            # the scheduler handles (more exhausts the Redis client's connection pool)
            if not args.skip_baseline:
                dm_times.clear()
                emu.requests.clear()
                started = time.time()
                slots = asyncio.Semaphore(args.concurrency)

                async def raw(i: int) -> None:
                    async with slots:
                        await outbound.send_dm(
                            users[i % len(users)], Body(content=f"raw {i}"), op_id=f"raw{tag}{i}"
                        )

                await asyncio.gather(*(raw(i) for i in range(n)))
                figures["raw_s"] = max(dm_times) - started
                figures["raw_rate"] = n / (max(dm_times) - min(dm_times)) if n > 1 else 0.0
                figures["raw_429"] = emu.requests.total_429
            await outbound.close()
    await port.aclose()
    app.close()
    await redis.aclose()
    await nc.close()
    figures["peak_mib"] = peak_rss_mib()
    return figures


def memory_child(pending: int, players: int) -> None:
    """In a fresh process: RSS before and after holding ``pending`` due times."""
    from domain.events import GameCreated, GameDetails, PlayerJoined
    from projections.scheduler import Scheduler  # noqa: F401 - what the process imports
    from projections.scheduler.board import Board

    def rss() -> float:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    before = rss()
    board = Board()
    per_game = players + 2  # reminders, start, complete
    now = datetime.now(UTC)
    stamp = {"command_id": "c", "actor_id": "1", "occurred_at": now}
    for g in range(pending // per_game + 1):
        game_id = str(uuid.UUID(int=g + 1))
        agg = f"game.{game_id}"
        board.apply(agg, GameCreated(
            **stamp, guild_id="1", channel_id="2", host_id="3",
            scheduled_at=now + timedelta(days=1, minutes=g % 1440),
            details=GameDetails(title=f"Game {g}", reminder_minutes=(60,), max_players=players),
        ))  # fmt: skip
        for k in range(players):
            user = str(10_000 + (g * players + k) % 50_000)
            board.apply(
                agg, PlayerJoined(**stamp, user_id=user, joined_count=k + 1, max_players=players)
            )
    board.refresh_all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"pending": len(board.agenda), "before": before, "after": rss(), "peak": peak})
    )


def part2(args: argparse.Namespace) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.scheduler", "--memory-child", str(args.pending),
         "--players", str(args.players)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes, a quick check")
    p.add_argument("--games", type=int, default=1000)
    p.add_argument("--players", type=int, default=5)
    p.add_argument("--users", type=int, default=250)
    p.add_argument("--pending", type=int, default=100_000)
    p.add_argument("--idle", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=64, help="due times handled at once")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument(
        "--global-window",
        choices=("fixed", "sliding"),
        default="fixed",
        help="how the emulator counts Discord's global 50/s (docs/emulator.md)",
    )
    p.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.players)
        return
    if args.smoke:
        args.games, args.users, args.pending, args.idle = 20, 20, 2_000, 2.0
    started = time.perf_counter()
    print(
        f"Part 1: {args.games} games x {args.players} players x 1 offset, due at once "
        f"(emulator's global window: {args.global_window})",
        flush=True,
    )
    with bench_stack() as stack:
        urls = {k: stack.url(k) for k in ("nats", "postgres", "redis")}
        f = asyncio.run(part1_and_3(urls, args))
    rows = [
        ("due -> recorded", f"{f['recorded_p50']:.2f}", f"{f['recorded_p99']:.2f}", "", ""),
        ("due -> DM'd", f"{f['dm_p50']:.2f}", f"{f['dm_p99']:.2f}", "", ""),
        ("DM throughput (DMs/s)", "", "", f"{f['dm_rate']:.1f} ({f['dm_rate'] / 50:.2f} of 50/s)",
         f"429s: {f['r429']}"),
    ]  # fmt: skip
    if "raw_s" in f:
        rows.append((
            "baseline: same DMs sent directly", "", "",
            f"{f['raw_rate']:.1f} ({f['raw_rate'] / 50:.2f} of 50/s)",
            f"burst {f['burst_s']:.1f} s vs {f['raw_s']:.1f} s = {f['burst_s'] / f['raw_s']:.2f}x; "
            f"429s: {f['raw_429']}",
        ))  # fmt: skip
    print(table(rows, ("measure", "p50 s", "p99 s", "rate", "notes")))
    print(f"  {f['dms']} DMs, {f['recorded']} records for {f['reminders']} reminders, "
          f"{f['retries']:.0f} retries, {f['skipped']:.0f} skipped; "
          f"peak RSS of the bench process {f['peak_mib']:.0f} MiB")  # fmt: skip
    if f["r429_routes"]:
        print(f"  429s by route during the burst: {f['r429_routes']}")
    print(f"\nPart 2: memory with {args.pending:,} pending due times", flush=True)
    m = part2(args)
    row = (
        f"{m['pending']:,}", f"{m['before']:.0f}", f"{m['after']:.0f}", f"{m['peak']:.0f}",
        f"{m['after'] / m['before']:.2f}x", "<= 150 MiB" if m["peak"] <= 150 else "OVER 150 MiB",
    )  # fmt: skip
    header = ("pending due times", "RSS before MiB", "RSS after MiB", "peak MiB", "vs before")
    print(table([row], (*header, "goal")))
    print(f"\nPart 3: CPU while idle, {args.idle:g} s")
    ratio = f["idle_cpu"] / f["poll_cpu"] if f["poll_cpu"] else float("inf")
    print(table([(
        f"{100 * f['idle_cpu']:.2f}%", f"{100 * f['poll_cpu']:.2f}%", f"{ratio:.2f}x",
    )], ("scheduler (one core)", "baseline: polling every 1 s", "ratio")))  # fmt: skip
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    summary("scheduler", [*rows, ("CPU while idle", f"{100 * f['idle_cpu']:.2f}%", "", "",
                                  f"{ratio:.2f}x polling")], (0, (1, 2), (3, 4)))  # fmt: skip


if __name__ == "__main__":
    main()
