"""The bot's command path alone: ``JoinGame`` through ``InProcessCommands`` on embedded JetStream.

Run: ``python -m tests.bench.join_path [--joins N] [--warm W]``, best under callgrind, twice with
two sizes, and subtract (what start-up costs cancels out)::

    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=/tmp/j100.%p \\
        .venv/bin/python -m tests.bench.join_path --joins 100
    valgrind ... --joins 600   # (instructions(600) - instructions(100)) / 500 per join

One game, one join per member, awaited one at a time from an event loop (as the bot's
responder awaits ``send``), so each thread's count is the command thread's, the NATS bridge's
and the caller's loop's share of a join. Without valgrind it prints CPU seconds per join by
thread kind (``thread_time``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from domain.commands import CreateGame, JoinGame
from tests.bench.bot_cpu import thread_cpu
from tests.bench.bot_ports import in_process_port
from tests.bench.common import bench_stack


async def joins(nats_url: str, count: int, warm: int, switch: float | None = None) -> None:
    port, close = in_process_port(nats_url)
    if switch is not None:
        sys.setswitchinterval(switch)
    created = await port.send(
        CreateGame(
            command_id=f"bench:{uuid.uuid4().hex[:8]}", user_id="1", permissions=0x20,
            guild_id="2", channel_id="3", title="Bench",
            scheduled_at=datetime.now(UTC) + timedelta(days=1), max_players=100,
            waitlist_cap="unlimited",
        )
    )  # fmt: skip
    game_id = created.game_id or ""

    async def join(user: int) -> None:
        await port.send(
            JoinGame(command_id=f"j:{game_id}:{user}", user_id=str(user), game_id=game_id)
        )

    for user in range(1000, 1000 + warm):
        await join(user)
    before = thread_cpu()
    for user in range(10_000, 10_000 + count):
        await join(user)
    after = thread_cpu()
    print(
        f"{count} joins: "
        + "  ".join(f"{k} {(after[k] - before[k]) / max(count, 1) * 1e6:7.1f}" for k in before)
        + f"  µs per join ({threading.active_count()} threads)",
        flush=True,
    )
    await close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.join_path", description=__doc__)
    parser.add_argument("--joins", type=int, default=500)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument(
        "--switch-interval", type=float, default=None, metavar="SECONDS",
        help="sys.setswitchinterval after the port set its own (under callgrind, 0.005: the "
        "port's 50 µs of wall time is a few thousand instructions there, and the forced GIL "
        "hand-offs it causes make the counts vary from run to run)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    with bench_stack() as stack:
        started = time.perf_counter()
        asyncio.run(joins(stack.url("nats"), args.joins, args.warm, args.switch_interval))
        print(f"done in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
