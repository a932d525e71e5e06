"""Benchmark of the bot: click → deferred ack, paced, against the emulator's echo-bot floor.

Run: ``python -m tests.bench.bot [--clicks N] [--smoke]``. For each rate (50 and 200 clicks/s)
it first measures a bare discord.py bot that only defers (the floor: emulator + discord.py on
this machine), then Muster's bot on a real JetStream log (limit, defer, JoinGame through the
command port, follow-up), with the same pacing in the same run. Prints p50/p99 of click →
deferred ack and of click → answer, the ratio to the floor, peak RSS, and markdown rows.
Emulator and bot share this process and its event loop (as in ``muster up``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from deploy.emulator import DiscordEmulator, RateLimits, point_discord_py_at
from deploy.emulator.model import Interaction
from deploy.emulator.requestlog import percentile
from tests.bench.common import bench_stack, peak_rss_mib, summary, table

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

from bot.client import BotParts, MusterBot
from bot.limits import PerUserLimit
from domain.app import MusterApp
from domain.commands import CreateGame
from gateways.commands import InProcessCommands


class EchoBot(discord.Client):
    """The floor: defers every ``muster:`` click, nothing else."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.1)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("ok", ephemeral=True)


async def start(client: discord.Client, token: str) -> asyncio.Task[None]:
    task = asyncio.create_task(client.start(token))
    await asyncio.wait_for(client.wait_until_ready(), 20)
    return task


ANSWERED: dict[int, float] = {}


def record_answers(emu: DiscordEmulator) -> None:
    """Note when the emulator receives each interaction's follow-up (its answer)."""
    followup = emu.responses.followup

    def noted(it: Interaction, data: dict[str, Any]) -> Any:
        ANSWERED.setdefault(it.id, emu.world.clock.time())
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
        clicks.append(emu.interactions.click(user, message, custom_id()))

    seen = ANSWERED

    def answered() -> bool:
        return all(it.id in seen for it in clicks)

    await emu.until(answered, within=60)
    acks = [((it.responded_at or 0) - it.created_at) * 1000 for it in clicks]
    answers = [(seen[it.id] - it.created_at) * 1000 for it in clicks]
    return acks, answers


def row(name: str, rate: int, acks: list[float], answers: list[float], floor: float) -> tuple:
    p50, p99 = percentile(acks, 50), percentile(acks, 99)
    print(
        f"  {name:<12} {rate:>4}/s  ack p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
        f"answer p50 {percentile(answers, 50):6.1f} ms  p99 {percentile(answers, 99):6.1f} ms  "
        f"p99 vs floor {p99 / floor if floor else 0:4.2f}x",
        flush=True,
    )
    return (
        name, f"{rate}/s", f"{p50:.1f} ms", f"{p99:.1f} ms",
        f"{percentile(answers, 99):.1f} ms", f"{p99 / floor if floor else 0:.2f}x",
        f"{peak_rss_mib():.0f} MiB",
    )  # fmt: skip


async def run(clicks: int, rates: list[int], nats_url: str) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    env = {
        "PERSISTENCE_MODULE": "gateways.jetstream", "MUSTER_NATS_URL": nats_url,
        "MUSTER_EVENTS_STREAM": f"BENCH_{uuid.uuid4().hex[:8]}",
        "MUSTER_EVENTS_SUBJECT_PREFIX": f"b{uuid.uuid4().hex[:8]}",
    }  # fmt: skip
    app = MusterApp(env=env)
    port = InProcessCommands(app)
    limits = RateLimits(global_per_second=10_000, default=(10_000, 1.0))
    async with DiscordEmulator(rate_limits=limits) as emu:
        guild = emu.people.guild("Bench")
        games = guild.text_channel("games")
        host = guild.member("host", permissions=0x20)
        people = [guild.member(f"m{n}").id for n in range(clicks)]
        await point_discord_py_at(emu.api_base)
        record_answers(emu)
        for rate in rates:
            echo = EchoBot()
            task = await start(echo, emu.bot_token)
            msg = emu.messages.create(
                games, emu.world.application.bot_user_id,
                {"content": "echo", "components": [{"type": 1, "components": [
                    {"type": 2, "style": 1, "label": "Echo", "custom_id": "muster:echo"}]}]},
            )  # fmt: skip
            acks, answers = await paced(emu, people, msg.id, lambda: "muster:echo", rate)
            floor = percentile(acks, 99)
            rows.append(row("echo floor", rate, acks, answers, floor))
            await echo.close()
            await task

            bot = MusterBot(
                BotParts(commands=port, limit=PerUserLimit(1000, 1), sync_commands=False)
            )
            task = await start(bot, emu.bot_token)
            outcome = await port.send(
                CreateGame(
                    command_id=f"bench:{rate}",
                    user_id=str(host.id),
                    permissions=0x20,
                    guild_id=str(guild.id),
                    channel_id=str(games.id),
                    title="Bench",
                    scheduled_at=datetime.now(UTC) + timedelta(days=1),
                    max_players=100,
                    waitlist_cap="unlimited",
                )
            )
            custom = f"muster:join:{outcome.game_id}"
            msg = emu.messages.create(
                games, emu.world.application.bot_user_id,
                {"content": "game", "components": [{"type": 1, "components": [
                    {"type": 2, "style": 3, "label": "Join", "custom_id": custom}]}]},
            )  # fmt: skip
            acks, answers = await paced(emu, people, msg.id, lambda c=custom: c, rate)
            rows.append(row("muster bot", rate, acks, answers, floor))
            await bot.close()
            await task
    await port.aclose()
    app.close()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bot", description=__doc__)
    parser.add_argument("--clicks", type=int, default=600, help="clicks per rate")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a check, not a figure)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    clicks = 20 if args.smoke else args.clicks
    print(f"bot benchmark: {clicks} clicks per rate, one member per click", flush=True)
    with bench_stack() as stack:
        rows = asyncio.run(run(clicks, [50, 200], stack.url("nats")))
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
