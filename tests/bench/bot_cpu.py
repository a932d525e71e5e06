"""CPU per click of the bot's process, by thread: the event loop, the command threads, the NATS
bridge's thread. A side harness to ``tests.bench.bot`` for measuring one change at a time.

Run: ``python -m tests.bench.bot_cpu [--clicks N] [--warm W] [--rate R] [--repeat K]``. One
emulator, one ``MusterBot`` with the in-process command port on embedded JetStream (as the
benchmark's ``muster bot`` side), ``W`` clicks to warm up, then ``K`` times ``N`` paced clicks on
one game's Join button, one member each. Prints µs of CPU per click (``thread_time`` of each
thread, so other processes' load moves them less than wall time) for: the event loop (bot and
emulator together, as in the benchmark), the command pool's threads, the bridge's thread, and the
whole process. Each repeat is printed; compare medians of old and new code.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import statistics
import threading
import time
import warnings
from typing import Any

from deploy.emulator import DiscordEmulator, RateLimits, point_discord_py_at
from tests.bench.bot import ANSWERED, WAITING, record_answers, start
from tests.bench.bot_ports import bench_game, in_process_port
from tests.bench.common import bench_stack

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401 (imported before the bot, as the benchmark does)

from bot.client import BotParts, MusterBot
from bot.limits import PerUserLimit


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of each live thread, by kind (``loop`` is the calling thread)."""
    totals = {"loop": time.thread_time(), "commands": 0.0, "bridge": 0.0, "other": 0.0}
    me = threading.get_ident()
    for thread in threading.enumerate():
        if thread.ident is None or thread.ident == me:
            continue
        try:
            spent = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (OSError, ProcessLookupError):  # the thread ended meanwhile
            continue
        if thread.name.startswith("muster-cmd"):
            totals["commands"] += spent
        elif thread.name == "muster-nats-bridge":
            totals["bridge"] += spent
        else:
            totals["other"] += spent
    return totals


class Profiles:
    """cProfile (CPU clock) of the loop, the command threads and the bridge's thread."""

    def __init__(self) -> None:
        self.loop = cProfile.Profile(time.thread_time)
        self.bridge = cProfile.Profile(time.thread_time)
        self.commands: list[cProfile.Profile] = []
        self.local = threading.local()
        self.on = False

    def wrap_commands(self, port: Any) -> None:
        handle = port.app.handle

        def profiled(command: Any) -> Any:
            if not self.on:
                return handle(command)
            profile = getattr(self.local, "profile", None)
            if profile is None:
                profile = self.local.profile = cProfile.Profile(time.thread_time)
                self.commands.append(profile)
            profile.enable()
            try:
                return handle(command)
            finally:
                profile.disable()

        port.app.handle = profiled

    def start(self, port: Any) -> None:
        self.on = True
        bridge = port.app.recorder.bridge
        bridge._loop.call_soon_threadsafe(self.bridge.enable)
        self.loop.enable()

    def stop(self, port: Any) -> None:
        self.loop.disable()
        self.on = False
        done = threading.Event()

        def off() -> None:
            self.bridge.disable()
            done.set()

        port.app.recorder.bridge._loop.call_soon_threadsafe(off)
        done.wait(5)

    def dump(self, prefix: str) -> None:
        self.loop.dump_stats(f"{prefix}.loop.pstats")
        self.bridge.dump_stats(f"{prefix}.bridge.pstats")
        if self.commands:
            import pstats

            stats = pstats.Stats(self.commands[0])
            for profile in self.commands[1:]:
                stats.add(profile)
            stats.dump_stats(f"{prefix}.commands.pstats")


async def measure(
    clicks: int, warm: int, rate: float, repeat: int, nats_url: str, profile: str | None = None
) -> None:
    port, close = in_process_port(nats_url)
    profiles = Profiles() if profile else None
    if profiles:
        profiles.wrap_commands(port)
    limits = RateLimits(global_per_second=10_000, default=(10_000, 1.0))
    async with DiscordEmulator(rate_limits=limits) as emu:
        guild = emu.people.guild("Bench")
        games = guild.text_channel("games")
        host = guild.member("host", permissions=0x20)
        people = [guild.member(f"m{n}").id for n in range(warm + clicks * repeat)]
        await point_discord_py_at(emu.api_base)
        record_answers(emu)
        custom_id = await bench_game(port, "bench:cpu", host.id, guild.id, games.id)
        components = [{"type": 2, "style": 1, "label": "Join", "custom_id": custom_id}]
        body = {"content": "Join", "components": [{"type": 1, "components": components}]}
        message = emu.messages.create(games, emu.world.application.bot_user_id, body)
        parts = BotParts(commands=port, limit=PerUserLimit(1000, 1), sync_commands=False)
        bot = MusterBot(parts)
        task = await start(bot, emu.bot_token)

        async def click(users: list[int]) -> None:
            t0 = time.perf_counter()
            for n, user in enumerate(users):
                delay = t0 + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                it = emu.interactions.click(user, message, custom_id)
                WAITING.add(it.id)
            await emu.until(lambda: not WAITING, within=120)

        await click(people[:warm])
        rows: list[dict[str, float]] = []
        for n in range(repeat):
            users = people[warm + n * clicks : warm + (n + 1) * clicks]
            gc.collect()
            gc.freeze()
            before, process = thread_cpu(), time.process_time()
            if profiles:
                profiles.start(port)
            await click(users)
            if profiles:
                profiles.stop(port)
            after, process = thread_cpu(), time.process_time() - process
            gc.unfreeze()
            row = {k: (after[k] - before[k]) / clicks * 1e6 for k in before}
            row["process"] = process / clicks * 1e6
            rows.append(row)
            print(
                "  " + "  ".join(f"{k} {v:7.1f}" for k, v in row.items()) + "  µs per click",
                flush=True,
            )
        keys = list(rows[0])
        print(
            "median  "
            + "  ".join(f"{k} {statistics.median(r[k] for r in rows):7.1f}" for k in keys)
            + "  µs per click",
            flush=True,
        )
        await bot.close()
        await task
    if profiles and profile:
        profiles.dump(profile)
    await close()
    ANSWERED.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bot_cpu", description=__doc__)
    parser.add_argument("--clicks", type=int, default=500, help="clicks per repeat")
    parser.add_argument("--warm", type=int, default=200, help="clicks before measuring")
    parser.add_argument("--rate", type=float, default=200.0, help="paced clicks per second")
    parser.add_argument("--repeat", type=int, default=5, help="measured repeats")
    parser.add_argument(
        "--profile", metavar="PREFIX", help="cProfile each kind of thread into PREFIX.*.pstats"
    )
    args = parser.parse_args(argv)
    with bench_stack() as stack:
        asyncio.run(
            measure(args.clicks, args.warm, args.rate, args.repeat, stack.url("nats"), args.profile)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
