"""Command benchmark: MusterApp.handle (load, decide, append) on JetStream.

Run: ``.venv/bin/python -m tests.bench.commands [--commands N] [--threads T]`` (``--smoke``: tiny
sizes, seconds)

In one run, on the same embedded servers:
  (a) raw nats-py appends, 200 aggregates, as many in flight as there are threads;
  (b) the JetStream recorder, one event per call, 200 aggregates, from threads;
  (c) the JetStream recorder on one hot aggregate (each append after the previous);
  (1) JoinGame across 200 games from concurrent threads (cap 10, then the waitlist);
  (2) JoinGame on one hot game from concurrent threads;
  (3) cost per command on games with 10, 1,000 and 10,000 events: a join/leave pair
      repeated on a cached game (must stay flat), and the one-off cold load.
The same commands on eventsourcing's in-memory recorder show the domain's own cost.

Then with processes (``tests/bench/cmdservice/``), on the same servers:
  (6) the two-process rush: 1,000 joins to one game from two entry-point processes at once,
      through the in-process adapter (baseline: two writers) and through the command service
      (one ``muster commands`` worker owns the game): p50/p99 per process, conflicts shown to
      users, how often the writer alternated between the processes;
  (7) joins across 200 games from two processes: in-process, then 1 and 2 command workers.
``--multi-only`` runs just (6) and (7).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from domain.aggregates import stage
from domain.app import MusterApp
from domain.commands import CreateGame, JoinGame, LeaveGame
from domain.events import Event, PlayerJoined, PlayerLeft
from gateways.jetstream import Factory
from tests.bench.append import THREADS, hot_aggregate, raw_nats_appends, recorder_appends
from tests.bench.common import Figure, bench_stack, peak_rss_mib, summary, table, timed
from tests.conftest import fresh_log_env

GAMES = 200
SIZES = (10, 1_000, 10_000)
PAIRS = 250  # join/leave pairs timed per game size
BATCH = 500  # events per append when building long histories
counter = itertools.count()


def create_games(
    app: MusterApp, count: int, *, prefix: str = "create", title: str = "Bench night"
) -> list[str]:
    """``count`` games (cap 10, unlimited waitlist), command ids ``<prefix>-<n>``."""
    games = []
    for _ in range(count):
        outcome = app.handle(
            CreateGame(
                command_id=f"{prefix}-{next(counter)}",
                user_id="1",
                permissions=0x20,
                guild_id="10",
                channel_id="20",
                title=title,
                scheduled_at=datetime.now(UTC) + timedelta(days=1),
                max_players=10,
            )
        )
        assert outcome.game_id is not None
        games.append(outcome.game_id)
    return games


def join(game_id: str) -> JoinGame:
    n = next(counter)
    return JoinGame(command_id=f"join-{n}", user_id=str(10**17 + n), game_id=game_id)


def concurrent_joins(
    name: str, app: MusterApp, games: list[str], total: int, threads: int
) -> Figure:
    commands = [join(games[i % len(games)]) for i in range(total)]

    def run() -> None:
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(app.handle, commands))
        assert len(outcomes) == total

    return timed(name, total, run)


def history(game_id: str, size: int) -> Iterator[Event]:
    """``size - 1`` events after creation: a few players joining and leaving in turn."""
    stamp = {"actor_id": "1", "occurred_at": datetime.now(UTC)}
    for n in range(size - 1):
        user = str(10**16 + n // 2 % 7)
        command_id = f"history-{game_id}-{n // 2}"
        if n % 2 == 0:
            yield PlayerJoined(
                command_id=command_id, **stamp, user_id=user, joined_count=1, max_players=10
            )
        else:
            yield PlayerLeft(command_id=command_id, **stamp, user_id=user, from_waitlist=False)


def build_game(app: MusterApp, size: int) -> str:
    """A game whose log holds ``size`` events (appended in batches)."""
    [game_id] = create_games(app, 1)
    version = 1
    events = list(history(game_id, size))
    for start in range(0, len(events), BATCH):
        chunk = events[start : start + BATCH]
        app.save(*stage(f"game.{game_id}", version, chunk))
        version += len(chunk)
    return game_id


def pairs_cost(app: MusterApp, game_id: str, pairs: int) -> float:
    """Seconds per command for join/leave pairs on one (cached) game."""
    started = time.perf_counter()
    for n in range(pairs):
        user = str(10**15 + n)
        app.handle(JoinGame(command_id=f"pj-{game_id}-{n}", user_id=user, game_id=game_id))
        app.handle(LeaveGame(command_id=f"pl-{game_id}-{n}", user_id=user, game_id=game_id))
    return (time.perf_counter() - started) / (2 * pairs)


def cost_by_history(
    env: dict[str, str], sizes: tuple[int, ...], pairs: int = PAIRS
) -> list[tuple[str, ...]]:
    rows = []
    builder = MusterApp(env=env)
    games = {size: build_game(builder, size) for size in sizes}
    builder.close()
    for size, game_id in games.items():
        app = MusterApp(env=env)  # a fresh process: empty cache
        started = time.perf_counter()
        app.game(game_id)
        cold = time.perf_counter() - started
        per_command = pairs_cost(app, game_id, pairs)
        app.close()
        rows.append(
            (
                f"{size:,}",
                f"{per_command * 1e3:.2f}",
                f"{1 / per_command:,.0f}",
                f"{cold * 1e3:.0f}",
            )
        )
        print(
            f"  game with {size:>6,} events: {per_command * 1e3:.2f} ms/command, "
            f"cold load {cold * 1e3:.0f} ms",
            flush=True,
        )
    return rows


def on_popo(total: int, threads: int) -> tuple[Figure, Figure]:
    app = MusterApp()
    games = create_games(app, GAMES)
    across = concurrent_joins(
        "(4) in-memory: JoinGame across 200 games", app, games, total, threads
    )
    [hot] = create_games(app, 1)
    one = concurrent_joins("(5) in-memory: JoinGame on one hot game", app, [hot], total, threads)
    return across, one


def multi_process(url: str, rush_joins: int, games: int, joins: int) -> None:
    """(6) and (7): entry points and command workers in processes of their own."""
    from tests.bench.cmdservice import rush

    env = fresh_log_env(url)
    prefix = env["MUSTER_EVENTS_SUBJECT_PREFIX"]
    log = rush.Log(url, env["MUSTER_EVENTS_STREAM"], prefix, f"cmd{prefix}")
    print(f"two-process rush: {rush_joins} joins to one game; across {games} games: {joins} joins")
    rows, p99s = [], {}
    for service in (False, True):
        run, alternated = rush.rush(log, rush_joins, service=service)
        for c in run.clients:
            errors = c["errors"]
            assert isinstance(errors, dict)
            rows.append((
                run.name, str(c["tag"]), str(c["count"]), f"{float(c['p50']) * 1e3:.0f}",
                f"{float(c['p99']) * 1e3:.0f}", str(errors.get("ConcurrencyConflict", 0)),
                str(sum(n for k, n in errors.items() if k != "ConcurrencyConflict")),
                str(alternated),
            ))  # fmt: skip
        p99 = [float(c["p99"]) for c in run.clients]  # type: ignore[arg-type]
        p99s[service] = (max(p99) / min(p99) if min(p99) else float("inf"), run)
    across = [rush.across_games(log, games, joins, workers) for workers in (0, 1, 2)]
    print()
    print(table(rows, ("run", "process", "joins", "p50 ms", "p99 ms", "conflicts shown",
                       "other errors", "writer alternations")))  # fmt: skip
    print()
    print(
        table(
            [
                (r.name, f"{r.rate:,.0f}", f"{r.seconds:.2f}", str(r.errors()),
                 f"{r.client_cores:.2f}", " + ".join(f"{c:.2f}" for c in r.worker_cores) or "-",
                 "/".join(f"{m:.0f}" for m in r.worker_peak_mib) or "-",
                 f"{r.rate / across[1].rate:.2f}")
                for r in across
            ],
            ("run", "commands/s", "seconds", "errors", "client CPU (cores)",
             "worker CPU (cores)", "worker peak RSS MiB", "/ 1 worker"),
        )
    )  # fmt: skip
    base_ratio, base = p99s[False]
    svc_ratio, svc = p99s[True]
    print()
    print(
        f"rush: conflicts shown baseline {base.errors('ConcurrencyConflict')}, service "
        f"{svc.errors('ConcurrencyConflict')} (goal 0); p99 slower/faster process baseline "
        f"{base_ratio:.2f}, service {svc_ratio:.2f} (goal <= 2); across games 2 workers / 1 "
        f"worker = {across[2].rate / across[1].rate:.2f} (goal > 1), 1 worker / in-process = "
        f"{across[1].rate / across[0].rate:.2f}; peak RSS here {peak_rss_mib():.0f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--commands", type=int, default=10_000, help="commands per throughput run")
    parser.add_argument("--hot", type=int, default=3_000, help="commands on the hot game")
    parser.add_argument("--threads", type=int, default=THREADS, help="as in the append bench")
    parser.add_argument("--rush", type=int, default=1_000, help="joins in the two-process rush")
    parser.add_argument("--across", type=int, default=6_000, help="joins across games, (7)")
    parser.add_argument("--multi-only", action="store_true", help="only (6) and (7)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args(argv)
    sizes, pairs, spread = SIZES, PAIRS, GAMES
    if args.smoke:
        args.commands, args.hot = 2 * GAMES, 50
        sizes, pairs = (10, 200), 20
        args.rush, args.across, spread = 40, 80, 8
    with bench_stack() as stack:
        url = stack.url("nats")
        if args.multi_only:
            multi_process(url, args.rush, spread, args.across)
            return 0
        print(f"command benchmark: {args.commands} commands, {GAMES} games, {args.threads} threads")
        a = raw_nats_appends(url, "cmdraw", args.commands, writers=args.threads)
        factory = Factory({"MUSTER_NATS_URL": url})
        recorder = factory.application_recorder()
        b = recorder_appends("JetStream recorder, 200 aggregates, threads", recorder, args.commands)
        c = hot_aggregate(recorder, args.hot)
        factory.close()

        app = MusterApp(env=fresh_log_env(url))
        games = create_games(app, GAMES)
        one = concurrent_joins(
            "(1) JoinGame across 200 games", app, games, args.commands, args.threads
        )
        [hot] = create_games(app, 1)
        two = concurrent_joins("(2) JoinGame on one hot game", app, [hot], args.hot, args.threads)
        app.close()
        rows = cost_by_history(fresh_log_env(url), sizes, pairs)
        multi_process(url, args.rush, spread, args.across)
    four, five = on_popo(args.commands, args.threads)

    figures = [a, b, c, one, two, four, five]
    print()
    print(
        table(
            [(f.name, f"{f.rate:,.0f}", f"{f.seconds:.2f}", f"{f.peak_mib:.0f}") for f in figures],
            ("run", "per second", "seconds", "peak RSS MiB"),
        )
    )
    print()
    print(table(rows, ("events in game", "ms/command (warm)", "commands/s", "cold load ms")))
    print()
    flat = float(rows[-1][1]) / float(rows[0][1])
    print(
        f"(1)/(a) = {one.rate / a.rate:.2f}   (1)/(b) = {one.rate / b.rate:.2f}   "
        f"(2)/(c) = {two.rate / c.rate:.2f}   "
        f"cost at {sizes[-1]:,} / {sizes[0]} events = {flat:.2f}"
    )
    print(
        f"goals: (1) >= 1,500/s: {one.rate:,.0f}   (2) >= 300/s: {two.rate:,.0f}   "
        f"flat (<= 1.5): {flat:.2f}   peak RSS {peak_rss_mib():.0f} MiB"
    )
    summary("commands", [(f.name, f"{f.rate:,.0f}/s", f"{f.rate / a.rate:.2f}") for f in figures])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
