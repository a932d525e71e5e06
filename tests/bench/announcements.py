"""Announcement benchmark: how soon Discord shows a change, and what a burst costs.

Run: ``.venv/bin/python -m tests.bench.announcements [--joins 200 --rate 20 --games 5]``
(``--smoke`` for tiny sizes).

In one run, on embedded servers and the Discord emulator (Discord's rate limits: 5 message
writes per 5 s per channel), with the read models and the Discord projection as tasks:
  (a) baseline: joins paced at ``--rate``/s over ``--games`` games (one channel each); from the
      command's answer to the read models having applied it, p50/p95;
  (b) the same joins: from the command's answer to the announcement showing the player, p50/p95,
      and the ratio to (a);
  (c) a burst of 50 joins at once on one game: edits made, time until the final content shows,
      429s;
  (d) promotions: a player leaves each of ``--promotions`` full games at once, the head of each
      waitlist is promoted; from the answer to the DM, p50/p95 (each DM opens a DM channel:
      Discord's limit for that is 5 per 5 s, so more at once measure the limit, not Muster).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import nats
import psycopg
from redis.asyncio import Redis

from domain.commands import JoinGame, LeaveGame
from gateways.postgres import connect, migrate
from projections.freshness import wait_for_position
from projections.replay import MIGRATIONS
from tests.bench.common import bench_stack, peak_rss_mib, summary, table
from tests.conftest import fresh_log_env
from tests.integration.discord_projection.discord_world import EDIT_ROUTE, World, field_named, world


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def shows(w: World, game_id: str, user: str, channel: Any) -> bool:
    [message] = w.announcements(game_id, channel) or [None]
    if message is None:
        return False
    players = field_named(message, "Players")
    return players is not None and f"<@{user}>" in players["value"]


async def paced_joins(w: World, games: list[tuple[str, Any]], joins: int, rate: float
                      ) -> tuple[list[float], list[float]]:  # fmt: skip
    """(read-model lags, announcement lags) in seconds, one per join."""
    read_lags: list[float] = []
    shown_lags: list[float] = []
    conn = await connect(w.database_url, w.schema)
    await conn.set_autocommit(True)

    async def one(n: int) -> None:
        game_id, channel = games[n % len(games)]
        person = w.members[n // len(games)]
        outcome = await w.send(JoinGame(command_id=f"bench-{n}", user_id=str(person.id),
                                        game_id=game_id))  # fmt: skip
        answered = time.perf_counter()
        watch = asyncio.create_task(
            w.emu.until(lambda: shows(w, game_id, str(person.id), channel), within=30)
        )
        read_lags.append(await read_lag(outcome.notification_ids[-1], answered))
        await watch
        shown_lags.append(time.perf_counter() - answered)

    async def read_lag(position: int, answered: float) -> float:
        async with lock:
            await wait_for_position(conn, position, timeout=30)
        return time.perf_counter() - answered

    lock = asyncio.Lock()
    started = time.perf_counter()
    tasks = []
    for n in range(joins):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    await conn.close()
    return read_lags, shown_lags


async def burst(w: World) -> tuple[int, float, int]:
    """(edits, seconds until the final content shows, 429s) for 50 joins at once."""
    game_id = await w.create("Burst", max_players=50)
    await w.emu.until(lambda: w.announcements(game_id), within=30)
    await w.settled(60)
    edits, limited = w.emu.requests.count(EDIT_ROUTE), w.emu.requests.total_429
    started = time.perf_counter()
    await asyncio.gather(*(
        w.send(JoinGame(command_id=f"burst-{p.id}", user_id=str(p.id), game_id=game_id))
        for p in w.members[:50]
    ))  # fmt: skip
    await w.emu.until(
        lambda: field_named(w.announcement(game_id), "Players (50/50)") is not None, within=30
    )
    shown = time.perf_counter() - started
    await w.settled(60)
    await w.outbound.flush()
    return (w.emu.requests.count(EDIT_ROUTE) - edits, shown,
            w.emu.requests.total_429 - limited)  # fmt: skip


async def promotions(w: World, count: int) -> list[float]:
    """DM lags of ``count`` promotions (one per game in a channel of its own, each game full
    with one player waiting)."""
    lags: list[float] = []

    async def one(n: int) -> None:
        seated, waiting = w.members[2 * n], w.members[2 * n + 1]
        channel = w.guild.text_channel(f"promo-{n}")  # each channel may post 5 per 5 s
        game_id = await w.create(f"Promo {n}", max_players=1, channel_id=str(channel.id),
                                 players=(str(seated.id), str(waiting.id)))  # fmt: skip
        await w.emu.until(lambda: w.announcements(game_id, channel), within=30)
        await w.send(LeaveGame(command_id=f"promo-{n}", user_id=str(seated.id), game_id=game_id))
        answered = time.perf_counter()
        await w.emu.until(lambda: w.dms(waiting), within=30)
        lags.append(time.perf_counter() - answered)

    await asyncio.gather(*(one(n) for n in range(count)))
    return lags


async def run(args: argparse.Namespace) -> None:
    with bench_stack() as stack:
        env = fresh_log_env(stack.url("nats"))
        database_url = stack.url("postgres")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        await migrate(database_url, schema, MIGRATIONS)
        nc = await nats.connect(env["MUSTER_NATS_URL"])
        redis = Redis.from_url(stack.url("redis"))
        players = max(50, args.joins // args.games + 1, 2 * args.promotions)
        try:
            async with world(nc, redis, env, database_url, schema, players=players) as w:
                w.start_read_models()
                w.start_projector()
                games = []
                for g in range(args.games):
                    channel = w.games if g == 0 else w.guild.text_channel(f"bench-{g}")
                    game_id = await w.create(f"Paced {g}", max_players=100,
                                             channel_id=str(channel.id))  # fmt: skip
                    games.append((game_id, channel))
                await w.settled(60)
                read_lags, shown_lags = await paced_joins(w, games, args.joins, args.rate)
                edits, burst_seconds, limited = await burst(w)
                dm_lags = await promotions(w, args.promotions)
                total_429 = w.emu.requests.total_429
        finally:
            await redis.aclose()
            await nc.close()
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    rm50, rm95 = statistics.median(read_lags), pct(read_lags, 0.95)
    an50, an95 = statistics.median(shown_lags), pct(shown_lags, 0.95)
    dm50, dm95 = statistics.median(dm_lags), pct(dm_lags, 0.95)
    rows = [
        (f"(a) read models, {args.joins} joins at {args.rate:g}/s over {args.games} games",
         f"{rm50 * 1000:.0f} ms", f"{rm95 * 1000:.0f} ms", "1.00x"),
        ("(b) announcement shows the player", f"{an50 * 1000:.0f} ms", f"{an95 * 1000:.0f} ms",
         f"{an50 / rm50:.1f}x"),
        (f"(d) promotion DM ({args.promotions} games)", f"{dm50 * 1000:.0f} ms",
         f"{dm95 * 1000:.0f} ms", f"{dm50 / rm50:.1f}x"),
    ]  # fmt: skip
    print(table(rows, ("lag from the command's answer", "p50", "p95", "p50 vs (a)")))
    print(f"\n(c) burst of 50 joins: {edits} edits, final content shown after "
          f"{burst_seconds:.2f} s, {limited} x 429 (whole run: {total_429} x 429)")  # fmt: skip
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    summary("announcements", rows, ((0,), 1, 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--games", type=int, default=5)
    parser.add_argument(
        "--promotions",
        type=int,
        default=4,
        help="at once; past 4, the DM-channel open limit (5 per 5 s, a margin kept) paces them",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check it runs")
    args = parser.parse_args()
    if args.smoke:
        args.joins, args.rate, args.games, args.promotions = 10, 10.0, 2, 3
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
