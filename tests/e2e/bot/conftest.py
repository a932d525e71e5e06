"""The whole bot side on one loop: the emulator, the real discord.py client running Muster's
bot, the domain on a fresh JetStream log, read models projected into a fresh schema, the
Discord REST client on Redis, and PROFILES on NATS."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord.gateway
    import discord.http

from bot.client import BotParts, MusterBot
from bot.limits import PerUserLimit
from bot.profiles import ProfileObserver
from bot.readside import ReadModels
from deploy.emulator import DiscordEmulator, point_discord_py_at
from deploy.emulator.model import Channel
from deploy.emulator.people import GuildScript, Person
from deploy.emulator.permissions import Permission
from domain.app import MusterApp
from domain.commands import CreateGame
from domain.events import Event
from gateways.commands import InProcessCommands
from gateways.discord import DiscordConfig, DiscordRest, open_outbound
from gateways.postgres import migrate
from gateways.profiles import Profile, ensure_profiles_stream, publish_profile
from projections.discord.projector import DiscordProjector
from projections.discord.store import MIGRATIONS as DISCORD_MIGRATIONS
from projections.freshness import wait_for_position
from projections.runner import ProjectionRunner
from tests.integration.conftest import layout_of, read_schema  # noqa: F401 (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Muster:
    emu: DiscordEmulator
    guild: GuildScript
    games: Channel
    host: Person
    members: list[Person]
    app: MusterApp
    port: InProcessCommands
    bot: MusterBot
    reads: ReadModels
    nc: NATS
    profiles_prefix: str
    clock: FakeClock
    runner: ProjectionRunner
    running: asyncio.Task[None] | None = None
    posted: list[int] = field(default_factory=list)
    rest: DiscordRest | None = None
    wiring: dict[str, Any] = field(default_factory=dict)  # env, database_url, schema
    background: list[tuple[asyncio.Event, asyncio.Task[None], Any]] = field(default_factory=list)

    async def start_announcements(self) -> None:
        """Run the real Discord projection (projections/discord) on this log: games created
        from now on are announced by it, and kept true by its edits."""
        assert self.rest is not None
        env, url, schema = self.wiring["env"], self.wiring["database_url"], self.wiring["schema"]
        await migrate(url, schema, DISCORD_MIGRATIONS)
        outbound = await open_outbound(self.rest)
        projector = DiscordProjector(
            self.nc, layout_of(env), url, schema, outbound=outbound, commands=self.port
        )
        stop = asyncio.Event()
        self.background.append((stop, asyncio.create_task(projector.run(stop)), outbound))

    async def stop_background(self) -> None:
        for stop, task, outbound in reversed(self.background):
            stop.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            await outbound.close()
        self.background.clear()

    def announcement(self, game_id: str) -> dict[str, Any] | None:
        """The game's announcement as the channel shows it (the message with its Join)."""
        wanted = f"muster:join:{game_id}"
        for message in self.emu.channel_messages(self.games):
            ids = [c.get("custom_id") for row in message.get("components") or []
                   for c in row["components"]]  # fmt: skip
            if wanted in ids:
                return message
        return None

    async def announced_game(self, title: str = "Catan", max_players: int = 2) -> str:
        """A game created through the port and announced by the real projection."""
        game_id = await self.new_game(title, max_players, announce=False)
        message = await self.emu.until(lambda: self.announcement(game_id), within=15)
        self.posted.append(int(message["id"]))
        return game_id

    def shown_players(self, game_id: str) -> list[str] | None:
        """The lines of the announcement's "Players (n/max)" field."""
        message = self.announcement(game_id)
        if message is None:
            return None
        for f in message["embeds"][0]["fields"]:
            if f["name"].startswith("Players ("):
                return [line for line in f["value"].splitlines() if line != "—"]
        return None

    def _changed(self, game_id: str, before: list[str] | None) -> Predicate:
        return lambda: self.shown_players(game_id) != before

    async def converged(self, game_id: str, within: float = 20) -> list[str]:
        """Wait until the announcement's Players list equals the read model's joined players
        (in seat order; past Discord's field limit, the shown ones then "+N more"); the
        joined players' ids. Raises AssertionError naming both when it does not."""
        joined: list[str] = []
        shown: list[str] | None = None
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.projected()
                    detail = await self.reads.game(game_id)
                    assert detail is not None
                    joined = [p.user_id or "" for p in detail.participants if p.kind == "joined"]
                    shown = self.shown_players(game_id)
                    if shown is not None and _same_players(shown, joined):
                        return joined
                    await self.emu.until(self._changed(game_id, shown), within)
        except TimeoutError:
            raise AssertionError(f"announcement shows {shown}, read model has {joined}") from None

    async def new_game(
        self, title: str = "Catan", max_players: int = 2, *, announce: bool = True, **extra: Any
    ) -> str:
        """A game created through the port (as the host), with its announcement posted."""
        outcome = await self.port.send(
            CreateGame(
                command_id=f"test:{uuid.uuid4()}",
                user_id=str(self.host.id),
                permissions=int(Permission.MANAGE_GUILD),
                guild_id=str(self.guild.id),
                channel_id=str(self.games.id),
                title=title,
                scheduled_at=datetime.now(UTC) + timedelta(days=1),
                max_players=max_players,
                **extra,
            )
        )
        assert outcome.game_id is not None
        if announce:
            self.announce(outcome.game_id, title)
        return outcome.game_id

    def announce(self, game_id: str, title: str) -> int:
        """Post an announcement with Join and Leave, as projections/discord does."""
        buttons = [
            {"type": 2, "style": 3, "label": "Join", "custom_id": f"muster:join:{game_id}"},
            {"type": 2, "style": 2, "label": "Leave", "custom_id": f"muster:leave:{game_id}"},
        ]
        msg = self.emu.messages.create(
            self.games,
            self.emu.world.application.bot_user_id,
            {"content": f"**{title}**", "components": [{"type": 1, "components": buttons}]},
        )
        self.posted.append(msg.id)
        return msg.id

    async def restart_bot(self) -> None:
        """Close the bot and start a fresh one with the same parts (a process restart)."""
        await self.bot.close()
        await self.emu.until(lambda: not any(s.conn for s in self.emu.gateway.sessions.values()))
        self.bot = MusterBot(self.bot.parts)
        self.running = asyncio.create_task(self.bot.start(self.emu.bot_token))
        await _ready(self.bot, self.running)

    def events(self, game_id: str) -> list[Event]:
        return self.app.history(f"game.{game_id}")

    def game_ids(self) -> list[str]:
        """Games created in this test's log, oldest first."""
        found = []
        for n in self.app.recorder.select_notifications(1, 10_000):
            aggregate = str(n.originator_id)
            if aggregate.startswith("game.") and n.originator_version == 1:
                found.append(aggregate.removeprefix("game."))
        return found

    def events_of_guild(self) -> list[Event]:
        """The first event of every game, in log order."""
        return [self.events(g)[0] for g in self.game_ids()]

    def reply(self, it: Any) -> str:
        """The ephemeral answer the person saw for an interaction."""
        mid = it.original_message_id
        msg = self.emu.world.messages.get(mid)
        assert msg is not None, f"interaction {it.id} has no reply"
        return str(msg.content)

    async def answered(self, it: Any, within: float = 10) -> str:
        """Wait until the deferred reply is filled in; its text."""

        def filled() -> bool:
            msg = self.emu.world.messages.get(it.original_message_id or 0)
            return msg is not None and not msg.flags & 128

        await self.emu.until(filled, within=within)
        return self.reply(it)

    async def projected(self) -> None:
        """Wait until the read models have applied everything in the log."""
        last = self.app.recorder.max_notification_id() or 0
        async with self.reads.pool.connection() as conn:
            await wait_for_position(conn, last, timeout=20)


@pytest.fixture
async def muster(
    event_log_env: dict[str, str], database_url: str, redis_url: str, nats_url: str,
    read_schema: str,  # noqa: F811
) -> AsyncIterator[Muster]:  # fmt: skip
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        emu = await stack.enter_async_context(DiscordEmulator())
        guild = emu.people.guild("Bot Test Guild")
        games = guild.text_channel("games")
        host = guild.member(
            "hana",
            global_name="Hana",
            permissions=int(Permission.MANAGE_GUILD | Permission.MANAGE_CHANNELS),
        )
        members = [guild.member(f"player{i}", global_name=f"Player {i}") for i in range(3)]
        await point_discord_py_at(emu.api_base)
        stack.callback(_restore, base, gateway)

        app = MusterApp(env=event_log_env)
        stack.callback(app.close)
        port = InProcessCommands(app)
        stack.push_async_callback(port.aclose)
        nc = await nats.connect(nats_url)
        stack.push_async_callback(nc.close)
        prefix = f"p{uuid.uuid4().hex[:10]}"
        stream = prefix.upper()
        await ensure_profiles_stream(nc, stream, prefix)
        stack.push_async_callback(_drop_stream, nc, stream)

        runner = ProjectionRunner(nc, layout_of(event_log_env), database_url, read_schema)
        projecting = asyncio.create_task(runner.run(stop))
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            database_url, min_size=1, max_size=4, open=False,
            kwargs={"options": f"-c search_path={read_schema},public", "autocommit": True},
        )  # fmt: skip
        await pool.open(wait=True)
        stack.push_async_callback(pool.close)
        redis = Redis.from_url(redis_url)
        stack.push_async_callback(redis.aclose)
        rest = DiscordRest(
            DiscordConfig(token=emu.bot_token, api_base=emu.api_base,
                          key_prefix=f"t{uuid.uuid4().hex[:8]}", profiles_prefix=prefix),
            redis, nc,
        )  # fmt: skip
        await rest.start()
        stack.push_async_callback(rest.close)

        async def publish(guild_id: str, user_id: str, profile: Profile) -> None:
            await publish_profile(nc, guild_id, user_id, profile, prefix)

        clock = FakeClock()
        parts = BotParts(
            commands=port, reads=ReadModels(pool), members=rest.reads,
            profiles=ProfileObserver(publish), limit=PerUserLimit(5, 10, clock=clock),
        )  # fmt: skip
        bot = MusterBot(parts)
        running = asyncio.create_task(bot.start(emu.bot_token))
        await _ready(bot, running)
        harness = Muster(
            emu, guild, games, host, members, app, port, bot, ReadModels(pool), nc, prefix,
            clock, runner, running, rest=rest,
            wiring={"env": event_log_env, "database_url": database_url, "schema": read_schema},
        )  # fmt: skip
        try:
            yield harness
        finally:
            await harness.stop_background()
            await harness.bot.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(harness.running or running, 5)
            stop.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(projecting, 10)


def _same_players(shown: list[str], joined: list[str]) -> bool:
    mentions = [f"<@{user}>" for user in joined]
    if shown and shown[-1].startswith("+") and shown[-1].endswith(" more"):
        head = shown[:-1]
        return head == mentions[: len(head)] and shown[-1] == f"+{len(joined) - len(head)} more"
    return shown == mentions


async def _ready(bot: MusterBot, running: asyncio.Task[None]) -> None:
    waiter = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({running, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        if running in done:
            running.result()
        raise TimeoutError("the bot did not become ready")


def _restore(base: str, gateway: Any) -> None:
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


async def _drop_stream(nc: NATS, stream: str) -> None:
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(stream)


Predicate = Callable[[], bool]
