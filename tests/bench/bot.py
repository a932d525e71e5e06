"""Benchmark of the bot: click → deferred ack, paced, against the emulator's echo-bot floor.

Run: ``python -m tests.bench.bot [--clicks N] [--rounds R] [--rates 50,200]
[--commands local|nats|both] [--smoke]``. For each rate it measures a bare discord.py bot that
only defers and answers "ok" (the floor: emulator + discord.py on this machine) and Muster's bot
on a real JetStream log (limit, defer, JoinGame through the command port, follow-up), with the
same pacing, the same discord.py client and the same emulator. The bot runs twice, side by side
in the same run: with its commands decided in this process (``muster bot``'s default, a thread
pool) and in a ``muster commands`` worker process (``MUSTER_COMMANDS=nats``), whose CPU is
reported too. Prints p50/p90/p99 of click → deferred ack and p50/p99 of click → answer, the
ratio of the p99s, peak RSS, and markdown rows. Emulator and bot share this process and its
event loop (as in ``muster up``).

Fairness on a busy machine: the ``N`` clicks of each side are split into ``R`` blocks taken in
turns (floor, bot, bot, floor, …; with more sides, shifted every two rounds: ``turns()``), so
all sides see the same stretch of the machine's load; before every block the heap is collected
and frozen (``gc.collect(); gc.freeze()``, as the bot does once ready), so a full collection of
what earlier blocks and the emulator left behind lands on neither side; the gateway sessions of
clients that have gone are dropped, so no block pays for encoding events to earlier ones; each
side's p50/p99 are over all its clicks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import statistics
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import nats

from deploy.emulator import DiscordEmulator, RateLimits, point_discord_py_at
from deploy.emulator.model import Interaction
from deploy.emulator.requestlog import percentile
from tests.bench.bot_ports import bench_game, in_process_port, worker_port, worker_process
from tests.bench.common import bench_stack, peak_rss_mib, summary, table

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

from bot.client import BotParts, MusterBot
from bot.limits import PerUserLimit
from domain.commands import CreateGame
from domain.ports import CommandPort


class EchoBot(discord.Client):
    """The floor: defers every ``muster:`` click and answers "ok", nothing else."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.1)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("ok", ephemeral=True)


async def start(client: discord.Client, token: str) -> asyncio.Task[None]:
    task = asyncio.create_task(client.start(token))
    await asyncio.wait_for(client.wait_until_ready(), 60)
    return task


ANSWERED: dict[int, float] = {}
WAITING: set[int] = set()  # clicks of the current block not answered yet


def record_answers(emu: DiscordEmulator) -> None:
    """Note when the emulator receives each interaction's follow-up (its answer)."""
    followup = emu.responses.followup

    def noted(it: Interaction, data: dict[str, Any]) -> Any:
        ANSWERED.setdefault(it.id, emu.world.clock.time())
        WAITING.discard(it.id)
        return followup(it, data)

    emu.responses.followup = noted  # type: ignore[method-assign]


async def paced(
    emu: DiscordEmulator, users: list[int], message_id: int, custom_id: Callable[[], str],
    rate: float,
) -> tuple[list[float], list[float]]:  # fmt: skip
    """One click per user at ``rate``/s; (click → ack ms, click → answer ms)."""
    message = emu.world.messages[message_id]
    clicks: list[Interaction] = []
    t0 = time.perf_counter()
    for n, user in enumerate(users):
        delay = t0 + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        it = emu.interactions.click(user, message, custom_id())
        clicks.append(it)
        WAITING.add(it.id)
    # A count, not a scan of every click on each world change: the wait costs both sides alike.
    await emu.until(lambda: not WAITING, within=60)
    acks = [((it.responded_at or 0) - it.created_at) * 1000 for it in clicks]
    answers = [(ANSWERED[it.id] - it.created_at) * 1000 for it in clicks]
    return acks, answers


@dataclass
class Side:
    """One side of a comparison: how to make its client and what its clicks press."""

    name: str
    client: Callable[[], discord.Client]
    custom_id: str
    message_id: int = 0
    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    block_p99s: list[float] = field(default_factory=list)
    loop_cpu: float = 0.0  # seconds of CPU of this thread (the event loop's) during its blocks
    all_cpu: float = 0.0  # seconds of CPU of the whole process (every thread) during its blocks
    full_gc: list[float] = field(default_factory=list)  # ms of each full collection in its blocks
    workers: Callable[[], float] | None = None  # CPU seconds used so far by its command workers
    workers_cpu: float = 0.0  # seconds of CPU of those processes during its blocks


class FullCollections:
    """Times every full (generation 2) garbage collection while active."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def block(emu: DiscordEmulator, side: Side, users: list[int], rate: float) -> None:
    """Start the side's client, settle the heap, click ``users`` at ``rate``/s, stop it."""
    client = side.client()
    task = await start(client, emu.bot_token)
    gc.collect()
    gc.freeze()
    workers = side.workers or (lambda: 0.0)
    loop_cpu, all_cpu, workers_cpu = time.thread_time(), time.process_time(), workers()
    with FullCollections() as full:
        acks, answers = await paced(emu, users, side.message_id, lambda: side.custom_id, rate)
    side.loop_cpu += time.thread_time() - loop_cpu
    side.all_cpu += time.process_time() - all_cpu
    side.workers_cpu += workers() - workers_cpu
    side.full_gc += full.pauses
    side.acks += acks
    side.answers += answers
    side.block_p99s.append(percentile(acks, 99))
    gc.unfreeze()  # what this block's client leaves behind is collected as usual
    await client.close()
    await task
    forget_ended_sessions(emu)


def forget_ended_sessions(emu: DiscordEmulator) -> None:
    """Drop the gateway sessions of clients that have gone.

    discord.py's ``close()`` ends with close code 4000 (aiohttp answers the close handshake
    first), so the emulator, like Discord, keeps the session for a RESUME that never comes and
    encodes and buffers every later event for it too: each later block would pay for every
    earlier client.
    """
    sessions = emu.gateway.sessions
    for session_id in [sid for sid, session in sessions.items() if session.conn is None]:
        del sessions[session_id]


def row(side: Side, rate: int, floor_side: Side) -> tuple[str, ...]:
    """Print the side's figures; its table row. Besides the pooled p99s, the ratio of its p99 to
    the floor's in each round (adjacent blocks, so the same stretch of the machine's load)."""
    acks, answers = side.acks, side.answers
    p50, p99 = percentile(acks, 50), percentile(acks, 99)
    floor = percentile(floor_side.acks, 99)
    blocks = " ".join(f"{p:.0f}" for p in side.block_p99s)
    rounds = sorted(
        mine / max(theirs, 1e-6)
        for mine, theirs in zip(side.block_p99s, floor_side.block_p99s, strict=True)
    )
    loop_ms, all_ms = (side.loop_cpu / len(acks) * 1000, side.all_cpu / len(acks) * 1000)
    others = f" + worker {side.workers_cpu / len(acks) * 1000:.2f} ms" if side.workers else ""
    print(
        f"  {side.name:<12} {rate:>4}/s  ack p50 {p50:6.1f} ms  "
        f"p90 {percentile(acks, 90):6.1f} ms  p99 {p99:6.1f} ms  "
        f"answer p50 {percentile(answers, 50):6.1f} ms  p99 {percentile(answers, 99):6.1f} ms  "
        f"p99 vs floor {p99 / floor if floor else 0:4.2f}x\n"
        f"  {'':<12} {'':>6}  block p99s {blocks} ms (vs the floor's in the same round: median "
        f"{statistics.median(rounds):.2f}x, {rounds[0]:.2f} to {rounds[-1]:.2f}x);\n"
        f"  {'':<12} {'':>6}  CPU per click: event loop {loop_ms:.2f} ms, "
        f"process {all_ms:.2f} ms{others}; full GCs {len(side.full_gc)}, "
        f"longest {max(side.full_gc, default=0):.0f} ms",
        flush=True,
    )
    return (
        side.name, f"{rate}/s", f"{p50:.1f} ms", f"{p99:.1f} ms",
        f"{percentile(answers, 99):.1f} ms", f"{p99 / floor if floor else 0:.2f}x",
        f"{peak_rss_mib():.0f} MiB",
    )  # fmt: skip


def turns(sides: list[Side], n: int) -> list[Side]:
    """The order of the sides in round ``n``: forwards and backwards in turn, shifted by one
    every two rounds, so that no side always runs first or always right after another."""
    shift = (n // 2) % len(sides)
    order = sides[shift:] + sides[:shift]
    return order if n % 2 == 0 else order[::-1]


async def run(
    clicks: int, rates: list[int], port: CommandPort | Mapping[str, CommandPort], rounds: int = 4,
    workers_cpu: Mapping[str, Callable[[], float]] | None = None,
) -> list[tuple[str, ...]]:  # fmt: skip
    """Floor and bot at each rate, ``rounds`` blocks each, in turns; ``port`` is the bot's
    command port (any :class:`~domain.ports.CommandPort`, e.g. one to command workers), or
    several by name: one bot side each, all against the same floor in the same run.
    ``workers_cpu[name]`` gives the CPU seconds that side's command worker processes used so
    far (reported per click beside the bot process's own)."""
    ports = dict(port) if isinstance(port, Mapping) else {"muster bot": port}
    rows: list[tuple[str, ...]] = []
    limits = RateLimits(global_per_second=10_000, default=(10_000, 1.0))
    async with DiscordEmulator(rate_limits=limits) as emu:
        guild = emu.people.guild("Bench")
        games = guild.text_channel("games")
        host = guild.member("host", permissions=0x20)
        people = [guild.member(f"m{n}").id for n in range(clicks)]
        await point_discord_py_at(emu.api_base)
        record_answers(emu)
        bot_id = emu.world.application.bot_user_id

        def button(label: str, custom_id: str) -> int:
            components = [{"type": 2, "style": 1, "label": label, "custom_id": custom_id}]
            body = {"content": label, "components": [{"type": 1, "components": components}]}
            return emu.messages.create(games, bot_id, body).id

        def muster_bot(port: CommandPort) -> Callable[[], discord.Client]:
            parts = BotParts(commands=port, limit=PerUserLimit(1000, 1), sync_commands=False)
            return lambda: MusterBot(parts)

        async def game(port: CommandPort, rate: int) -> str:
            return await bench_game(port, f"bench:{rate}", host.id, guild.id, games.id)

        for rate in rates:
            sides = [Side("echo floor", EchoBot, "muster:echo")]
            for name, bot_port in ports.items():
                side = Side(name, muster_bot(bot_port), await game(bot_port, rate))
                side.workers = (workers_cpu or {}).get(name)
                sides.append(side)
            for side in sides:
                side.message_id = button(side.name, side.custom_id)
            per = max(1, clicks // rounds)
            for n in range(rounds):
                users = people[n * per : (n + 1) * per]
                for side in turns(sides, n):
                    await block(emu, side, users, rate)
            rows += [row(side, rate, sides[0]) for side in sides]
    return rows


async def announced(clicks: int, rate: int, urls: dict[str, str]) -> tuple[str, ...] | None:
    """Click → the announcement shows the player (needs ``projections.discord``): the whole
    ``muster up`` pipeline (bot, log, read models, Discord projection with coalesced edits)."""
    import importlib.util

    if importlib.util.find_spec("projections.discord") is None:
        print("  announcement: skipped (projections.discord is not in this tree)", flush=True)
        return None
    from pydantic import SecretStr

    from deploy.bootstrap import Container
    from deploy.projector_cmd import projector_services
    from deploy.settings import Settings
    from deploy.supervise import supervise

    tag = uuid.uuid4().hex[:8]
    stop = asyncio.Event()
    async with DiscordEmulator() as emu:
        guild = emu.people.guild("Bench")
        games = guild.text_channel("games")
        host = guild.member("host", permissions=0x20)
        people = [guild.member(f"a{n}").id for n in range(clicks)]
        await point_discord_py_at(emu.api_base)
        settings = Settings(
            events_stream=f"BENCH_{tag}", events_subject_prefix=f"b{tag}",
            database_schema=f"bench_{tag}", discord_token=SecretStr(emu.bot_token),
            discord_api_base=emu.api_base,
        )  # fmt: skip
        shown_at: dict[int, float] = {}
        apply_edit = emu.messages.apply_edit

        def noted(msg: Any, payload: dict[str, Any]) -> Any:
            text = str(payload)
            now = emu.world.clock.time()
            for user in people:
                if user not in shown_at and str(user) in text:
                    shown_at[user] = now
            return apply_edit(msg, payload)

        emu.messages.apply_edit = noted  # type: ignore[method-assign]
        async with Container.open(settings, urls) as container:
            services = asyncio.create_task(supervise(projector_services(container), stop))
            bot = MusterBot(
                BotParts(commands=container.commands, limit=PerUserLimit(1000, 1),
                         sync_commands=False)
            )  # fmt: skip
            task = await start(bot, emu.bot_token)
            await container.commands.send(
                CreateGame(
                    command_id=f"bench:announce:{tag}",
                    user_id=str(host.id),
                    permissions=0x20,
                    guild_id=str(guild.id),
                    channel_id=str(games.id),
                    title="Bench",
                    scheduled_at=datetime.now(UTC) + timedelta(days=1),
                    max_players=clicks,
                    waitlist_cap="unlimited",
                )
            )
            await emu.until(lambda: emu.channel_messages(games), within=30)
            [message] = emu.channel_messages(games)
            join = next(
                c["custom_id"] for row in message["components"] for c in row["components"]
                if c["custom_id"].startswith("muster:join:")
            )  # fmt: skip
            its: list[Interaction] = []
            t0 = time.perf_counter()
            for n, user in enumerate(people):
                delay = t0 + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                its.append(
                    emu.interactions.click(user, emu.world.messages[int(message["id"])], join)
                )
            await emu.until(lambda: len(shown_at) == len(people), within=60)
            lags = [(shown_at[it.user_id] - it.created_at) * 1000 for it in its]
            edits = emu.requests.count("PATCH /channels/{channel_id}/messages/{message_id}")
            stop.set()
            await bot.close()
            await task
            await services
    p95 = percentile(lags, 95)
    print(
        f"  announcement {rate:>4}/s  click → shown p50 {percentile(lags, 50):6.0f} ms  "
        f"p95 {p95:6.0f} ms  ({edits} edits for {clicks} joins)",
        flush=True,
    )
    return ("click → announcement", f"{rate}/s", f"{percentile(lags, 50):.0f} ms",
            f"p95 {p95:.0f} ms", f"{edits} edits", "", f"{peak_rss_mib():.0f} MiB")  # fmt: skip


LOCAL, WORKER = "muster bot", "bot+worker"  # the bot sides: commands in process, or in a worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bot", description=__doc__)
    parser.add_argument("--clicks", type=int, default=600, help="clicks per side and rate")
    parser.add_argument(
        "--rates", default="50,200", help="paced clicks per second, comma-separated (50,200)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="blocks per side, taken in turns")
    parser.add_argument(
        "--commands", choices=("local", "nats", "both"), default="both",
        help="the bot's command port: in its process (MUSTER_COMMANDS=local), a `muster "
        "commands` worker process (nats), or both side by side (default)",
    )  # fmt: skip
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a check, not a figure)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    clicks, rounds = (20, 2) if args.smoke else (args.clicks, args.rounds)
    rates = [int(rate) for rate in args.rates.split(",")]
    print(
        f"bot benchmark: {clicks} clicks per side and rate in {rounds} blocks each, "
        "one member per click",
        flush=True,
    )
    with bench_stack() as stack, contextlib.ExitStack() as processes:
        nats_url = stack.url("nats")
        worker = (
            None if args.commands == "local" else processes.enter_context(worker_process(nats_url))
        )

        async def compare() -> list[tuple[str, ...]]:
            ports: dict[str, CommandPort] = {}
            async with contextlib.AsyncExitStack() as closing:
                if args.commands != "nats":
                    ports[LOCAL], close = in_process_port(nats_url)
                    closing.push_async_callback(close)
                if worker is not None:
                    nc = await nats.connect(nats_url)
                    closing.push_async_callback(nc.close)
                    ports[WORKER] = port = worker_port(nc, worker.subject)
                    closing.push_async_callback(port.aclose)
                cpu = {WORKER: worker.cpu_seconds} if worker else {}
                return await run(clicks, rates, ports, rounds, cpu)

        rows = asyncio.run(compare())
        urls = {key: stack.url(key) for key in ("nats", "postgres", "redis")}
        shown = asyncio.run(announced(min(clicks, 40), 50, urls))
        if shown:
            rows.append(shown)
    header = ("bot", "paced", "ack p50", "ack p99", "answer p99", "ack p99 / floor", "peak RSS")
    print(table(rows, header))
    summary("bot", rows, ((0, 1), 3, 5))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
