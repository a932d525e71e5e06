"""The bot benchmark with the emulator in a process of its own (``--emulator process``).

In the default layout (``tests.bench.bot``) the emulator, the echo floor and Muster's bot share
one event loop, as in ``muster up``: every click's work for the emulator (building the
interaction, the gateway frame, answering the defer and the follow-up) queues on the loop where
the bot's acks wait, and the bot's own later work (its follow-ups) delays the emulator's next
click. Against Discord the bot's process holds only the bot. Here the emulator and its pacer run
in a child process and the bot under test, with its command threads, in this one, so the ratio
of the p99s compares what each bot adds on its own loop. The clicks, the timestamps (taken by
the emulator, in its process) and the turns are the same as in the default layout.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from deploy.emulator import DiscordEmulator, RateLimits, point_discord_py_at
from deploy.emulator.requestlog import percentile
from domain.commands import CreateGame
from domain.ports import CommandPort
from tests.bench.cmdservice.rush import cpu_seconds

# -- the child: the emulator and the pacer ------------------------------------------------------


def serve(conn: Connection, clicks: int) -> None:
    """Child process: run the emulator with a bench guild of ``clicks`` members; do what the
    parent asks over ``conn`` until it says ``stop``."""
    asyncio.run(_serve(conn, clicks))


async def _serve(conn: Connection, clicks: int) -> None:
    from tests.bench import bot as bench

    loop = asyncio.get_running_loop()
    limits = RateLimits(global_per_second=10_000, default=(10_000, 1.0))
    async with DiscordEmulator(rate_limits=limits) as emu:
        guild = emu.people.guild("Bench")
        games = guild.text_channel("games")
        host = guild.member("host", permissions=0x20)
        people = [guild.member(f"m{n}").id for n in range(clicks)]
        bench.record_answers(emu)
        bot_id = emu.world.application.bot_user_id
        conn.send(
            {
                "api_base": emu.api_base, "token": emu.bot_token, "guild": guild.id,
                "channel": games.id, "host": host.id, "people": people,
            }
        )  # fmt: skip
        while True:
            ask, *args = await loop.run_in_executor(None, conn.recv)
            if ask == "stop":
                conn.send(None)
                return
            if ask == "button":
                label, custom_id = args
                components = [{"type": 2, "style": 1, "label": label, "custom_id": custom_id}]
                body = {"content": label, "components": [{"type": 1, "components": components}]}
                conn.send(emu.messages.create(games, bot_id, body).id)
            elif ask == "pace":
                users, message_id, custom_id, rate = args
                acks, answers = await bench.paced(
                    emu, users, message_id, lambda cid=custom_id: cid, rate
                )
                bench.forget_ended_sessions(emu)
                conn.send((acks, answers))


# -- the parent: the bots -------------------------------------------------------------------------


class Emulator:
    """The child process, seen from the bench."""

    def __init__(self, clicks: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child, clicks), daemon=True)
        self.proc.start()
        self.info: dict[str, Any] = self.conn.recv()

    async def ask(self, *message: Any) -> Any:
        loop = asyncio.get_running_loop()
        self.conn.send(message)
        return await loop.run_in_executor(None, self.conn.recv)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid or 0)

    async def stop(self) -> None:
        await self.ask("stop")
        self.proc.join(10)


async def block(
    emu: Emulator, side: Any, users: list[int], rate: float, emulator_cpu: dict[str, float]
) -> None:
    """As ``tests.bench.bot.block``, with the clicks paced in the emulator's process; adds the
    emulator process's CPU during the block to ``emulator_cpu[side.name]``."""
    from tests.bench import bot as bench

    client = side.client()
    task = await bench.start(client, emu.info["token"])
    gc.collect()
    gc.freeze()
    workers = side.workers or (lambda: 0.0)
    loop_cpu, all_cpu, workers_cpu = time.thread_time(), time.process_time(), workers()
    emu_cpu = emu.cpu()
    acks, answers = await emu.ask("pace", users, side.message_id, side.custom_id, rate)
    side.loop_cpu += time.thread_time() - loop_cpu
    side.all_cpu += time.process_time() - all_cpu
    side.workers_cpu += workers() - workers_cpu
    emulator_cpu[side.name] = emulator_cpu.get(side.name, 0.0) + emu.cpu() - emu_cpu
    side.acks += acks
    side.answers += answers
    side.block_p99s.append(percentile(acks, 99))
    gc.unfreeze()
    await client.close()
    await task


async def run(
    clicks: int, rates: list[int], ports: Mapping[str, CommandPort], rounds: int,
    workers_cpu: Mapping[str, Callable[[], float]] | None = None,
) -> list[tuple[str, ...]]:  # fmt: skip
    """``tests.bench.bot.run`` with the emulator in its own process; the rows are marked
    "(emulator apart)" and each side's emulator CPU per click is printed too."""
    from bot.client import BotParts, MusterBot
    from bot.limits import PerUserLimit
    from tests.bench import bot as bench

    emu = Emulator(clicks)
    info = emu.info
    await point_discord_py_at(info["api_base"])
    rows: list[tuple[str, ...]] = []

    def muster_bot(port: CommandPort) -> Callable[[], Any]:
        parts = BotParts(commands=port, limit=PerUserLimit(1000, 1), sync_commands=False)
        return lambda: MusterBot(parts)

    async def game(port: CommandPort, rate: int) -> str:
        outcome = await port.send(
            CreateGame(
                command_id=f"bench:{rate}:{time.time_ns()}", user_id=str(info["host"]),
                permissions=0x20, guild_id=str(info["guild"]), channel_id=str(info["channel"]),
                title="Bench", scheduled_at=datetime.now(UTC) + timedelta(days=1),
                max_players=100, waitlist_cap="unlimited",
            )
        )  # fmt: skip
        return f"muster:join:{outcome.game_id}"

    try:
        for rate in rates:
            sides = [bench.Side("echo floor", bench.EchoBot, "muster:echo")]
            for name, port in ports.items():
                side = bench.Side(name, muster_bot(port), await game(port, rate))
                side.workers = (workers_cpu or {}).get(name)
                sides.append(side)
            for side in sides:
                side.message_id = await emu.ask("button", side.name, side.custom_id)
            per = max(1, clicks // rounds)
            emulator_cpu: dict[str, float] = {}
            for n in range(rounds):
                users = info["people"][n * per : (n + 1) * per]
                for side in bench.turns(sides, n):
                    await block(emu, side, users, rate, emulator_cpu)
            for side in sides:
                row = bench.row(side, rate, sides[0])
                print(
                    f"  {'':<12} {'':>6}  the emulator's process: "
                    f"{emulator_cpu[side.name] / len(side.acks) * 1000:.2f} ms of CPU per click",
                    flush=True,
                )
                rows.append((f"{row[0]} (emulator apart)", *row[1:]))
    finally:
        await emu.stop()
    return rows
