"""Benchmark of the sharded bot: time to ready and memory of Muster's bot with 1 and 2 gateway
shards as its guilds grow, against the same bot with no guilds (the baseline, same run).

Run: ``python -m tests.bench.shards [--guilds N ...] [--members M]`` (``--smoke``: tiny sizes,
seconds). The emulator runs in this process with N guilds of M members each (drawn from one pool
of people, as communities overlap); each bot runs in a child process of its own
(``--child API_BASE TOKEN SHARDS``), so the memory it reports is the bot's alone: resident after
READY and every GUILD_CREATE were handled, and its peak.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
import warnings
from typing import Any

from deploy.emulator import DiscordEmulator
from tests.bench.common import peak_rss_mib, summary, table

SIZES, SMOKE_SIZES = (0, 1000, 5000), (0, 20)


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory now (``VmHWM``: its peak), in MiB. Read from /proc, as
    ``getrusage``'s peak would include the parent's memory from before ``exec``."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


class _NoCommands:
    """The bot is only connected here; nothing clicks, so nothing is sent."""

    async def send(self, command: Any) -> Any:
        raise AssertionError(f"unexpected command {command!r}")


async def child(api_base: str, token: str, shards: int) -> None:
    """Start the bot, wait until it is ready, print its figures as one JSON line."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord  # noqa: F401

    from bot.client import BotParts, make_bot
    from deploy.emulator import point_discord_py_at

    await point_discord_py_at(api_base)
    started = time.perf_counter()
    bot = make_bot(BotParts(commands=_NoCommands(), sync_commands=False), shards=shards)  # type: ignore[arg-type]
    await bot.login(token)
    running = asyncio.create_task(bot.connect(reconnect=False))
    await bot.wait_until_ready()
    ready = time.perf_counter() - started
    gc.collect()
    figures = {
        "ready_s": ready,
        "rss_mib": rss_mib(),
        "peak_mib": rss_mib("VmHWM"),
        "guilds": len(bot.guilds),
        "members": sum(len(g.members) for g in bot.guilds),
        "shards": sorted(getattr(bot, "shards", {})) or [0],
    }
    print(json.dumps(figures), flush=True)
    await bot.close()
    await asyncio.wait({running}, timeout=5)


def populate(emu: DiscordEmulator, guilds: int, members: int, pool: int) -> None:
    world = emu.world
    people = [world.create_user(f"person{i}").id for i in range(min(pool, guilds * members))]
    for n in range(guilds):
        guild = world.create_guild(f"Guild {n}")
        world.create_channel(guild.id, "games")
        for k in range(members):
            world.add_member(guild.id, people[(n * members + k) % len(people)])


async def measure(guilds: int, members: int, shards: int) -> dict[str, Any]:
    async with DiscordEmulator() as emu:
        populate(emu, guilds, members, pool=2000)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench.shards", "--child", emu.api_base,
            emu.bot_token, str(shards), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 600)
        await asyncio.wait_for(proc.wait(), 30)
        if not line:
            raise RuntimeError(f"the bot ({shards} shards, {guilds} guilds) printed nothing")
        figures: dict[str, Any] = json.loads(line)
        assert figures["guilds"] == guilds, figures  # every guild arrived, on some shard
        return figures


async def run(sizes: tuple[int, ...], members: int) -> None:
    rows = []
    for shards in (1, 2):
        base: dict[str, Any] | None = None
        for guilds in sizes:
            f = await measure(guilds, members, shards)
            base = base or f
            extra = f["rss_mib"] - base["rss_mib"]
            per_k = f"{extra / guilds * 1000:.1f}" if guilds else "—"
            print(f"  {shards} shard(s), {guilds:>5} guilds: ready {f['ready_s']:.2f} s, "
                  f"RSS {f['rss_mib']:.0f} MiB (peak {f['peak_mib']:.0f})", flush=True)  # fmt: skip
            rows.append((
                str(shards), f"{guilds:,}", f"{f['members']:,}", f"{f['ready_s']:.2f} s",
                f"{f['rss_mib']:.0f}", f"{f['peak_mib']:.0f}",
                f"{f['rss_mib'] / base['rss_mib']:.2f}x", per_k,
            ))  # fmt: skip
    header = ("shards", "guilds", "members cached", "start → ready", "RSS MiB", "peak MiB",
              "RSS / no guilds", "MiB per 1,000 guilds")  # fmt: skip
    print()
    print(table(rows, header))
    print(f"\nthis process (the emulator) peak RSS {peak_rss_mib():.0f} MiB")
    summary("shards", [(f"{r[0]} shard(s), {r[1]} guilds: ready, RSS", f"{r[3]}, {r[4]} MiB", r[6])
                       for r in rows])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--guilds", type=int, nargs="+", help=f"guild counts (default {SIZES})")
    parser.add_argument("--members", type=int, default=25, help="members per guild")
    parser.add_argument("--child", nargs=3, metavar=("API_BASE", "TOKEN", "SHARDS"))
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(child(args.child[0], args.child[1], int(args.child[2])))
        return 0
    sizes = tuple(args.guilds) if args.guilds else SMOKE_SIZES if args.smoke else SIZES
    if 0 not in sizes:
        sizes = (0, *sizes)  # the baseline
    asyncio.run(run(tuple(sorted(sizes)), 5 if args.smoke else args.members))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
