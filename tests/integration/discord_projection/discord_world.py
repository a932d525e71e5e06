"""A small Muster for the Discord projection's tests: the log (JetStream), the read models
(PostgreSQL), the Discord emulator with a guild, the command port, the outbound client, and the
read-model and Discord projectors running as tasks that a test can stop and restart."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from deploy.emulator import DiscordEmulator
from deploy.emulator.model import Channel
from deploy.emulator.people import GuildScript, Person
from domain.app import MusterApp
from domain.commands import AnyCommand, CreateGame
from domain.outcome import Outcome
from gateways.commands import InProcessCommands
from gateways.discord import DiscordConfig, DiscordRest, open_outbound
from gateways.discord.metrics import Metrics
from gateways.postgres import connect, migrate
from projections.discord.projector import DiscordProjector
from projections.discord.store import MIGRATIONS as DISCORD_MIGRATIONS
from projections.runner import ProjectionRunner
from tests.integration.conftest import layout_of

MANAGE_GUILD = 0x20
CREATE_ROUTE = "POST /channels/{channel_id}/messages"
EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"


@dataclass
class World:
    emu: DiscordEmulator
    guild: GuildScript
    games: Channel
    host: Person
    members: list[Person]
    eve: Person  # blocks DMs
    app: MusterApp
    port: InProcessCommands
    outbound: Any  # Outbound, or the in-memory fake
    nc: NATS
    env: dict[str, str]
    database_url: str
    schema: str
    projector: DiscordProjector | None = None
    config: DiscordConfig | None = None  # the REST client's (None with a fake outbound)
    _tasks: dict[str, tuple[asyncio.Event, asyncio.Task[Any]]] = field(default_factory=dict)

    # -- commands ------------------------------------------------------------------------
    async def send(self, command: AnyCommand) -> Outcome:
        return await self.port.send(command)

    async def create(self, title: str = "Catan night", **fields: Any) -> str:
        outcome = await self.send(CreateGame(
            command_id=f"create-{uuid.uuid4().hex}", user_id=str(self.host.id),
            permissions=MANAGE_GUILD, guild_id=str(self.guild.id),
            channel_id=str(fields.pop("channel_id", self.games.id)), title=title,
            scheduled_at=fields.pop("scheduled_at", datetime.now(UTC) + timedelta(days=1)),
            **fields,
        ))  # fmt: skip
        assert outcome.game_id is not None
        return outcome.game_id

    # -- projectors ----------------------------------------------------------------------
    def start_read_models(self) -> None:
        runner = ProjectionRunner(self.nc, layout_of(self.env), self.database_url, self.schema)
        self._start("read_models", runner.run)

    def start_projector(self, outbound: Any = None, **options: Any) -> DiscordProjector:
        self.projector = DiscordProjector(
            self.nc, layout_of(self.env), self.database_url, self.schema,
            outbound=outbound or self.outbound, commands=self.port, **options,
        )  # fmt: skip
        self._start("discord", self.projector.run)
        return self.projector

    def _start(self, name: str, run: Any) -> None:
        stop = asyncio.Event()
        self._tasks[name] = (stop, asyncio.create_task(run(stop)))

    async def stop(self, name: str = "discord", *, abruptly: bool = False) -> None:
        """Stop a projector (cancel its task when ``abruptly``); its failure is not raised."""
        stop, task = self._tasks.pop(name)
        if abruptly:
            task.cancel()
        stop.set()
        await asyncio.wait({task}, timeout=20)
        assert task.done(), f"{name} did not stop"

    async def failed(self, name: str = "discord", within: float = 10) -> BaseException:
        """Wait for a projector to fail; its error."""
        _, task = self._tasks[name]
        await asyncio.wait({task}, timeout=within)
        error = task.exception() if task.done() else None
        assert error is not None, f"{name} did not fail"
        return error

    def failure(self, name: str = "discord") -> BaseException | None:
        _, task = self._tasks[name]
        return task.exception() if task.done() else None

    async def last_position(self) -> int:
        last = await asyncio.to_thread(self.app.recorder.max_notification_id)  # type: ignore[attr-defined]
        return int(last or 0)

    async def settled(self, within: float = 20.0) -> int:
        """Wait until the Discord projector has done everything the log asks (twice the same
        end of the log: its own records are appended too); the log's end."""
        assert self.projector is not None
        async with asyncio.timeout(within):
            seen = -1
            while True:
                last = await self.last_position()
                while self.projector.progress.position < last:
                    if self.failure() is not None:
                        raise AssertionError(f"the projector failed: {self.failure()!r}")
                    await asyncio.sleep(0.02)
                if last == seen:
                    return last
                seen = last
                await asyncio.sleep(0.05)

    # -- what Discord shows --------------------------------------------------------------
    def announcements(self, game_id: str, channel: Any = None) -> list[dict[str, Any]]:
        """Messages of the channel that carry this game's Join button."""
        wanted = f"muster:join:{game_id}"
        return [
            m for m in self.emu.channel_messages(channel or self.games)
            if any(c.get("custom_id") == wanted
                   for row in m.get("components") or [] for c in row["components"])
        ]  # fmt: skip

    def announcement(self, game_id: str) -> dict[str, Any]:
        [message] = self.announcements(game_id)
        return message

    def dms(self, person: Person) -> list[str]:
        return [m["content"] for m in self.emu.inspect.dms(person.id)]

    async def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = await connect(self.database_url, self.schema)
        try:
            cur = await conn.execute(query, args)
            rows = list(await cur.fetchall()) if cur.description else []
            await conn.commit()
            return rows
        finally:
            await conn.close()


def field_named(message: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    return next((f for f in message["embeds"][0]["fields"] if f["name"].startswith(prefix)), None)


def button(message: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for row in message["components"] for c in row["components"]
                if c["custom_id"].startswith(f"muster:{kind}:"))  # fmt: skip


@contextlib.asynccontextmanager
async def world(
    nc: NATS, redis: Redis, env: dict[str, str], database_url: str, schema: str, *,
    players: int = 6, outbound: Any = None,
) -> AsyncIterator[World]:  # fmt: skip
    """Everything running; the projectors are started by the caller."""
    await migrate(database_url, schema, DISCORD_MIGRATIONS)
    given = outbound
    config = None
    async with contextlib.AsyncExitStack() as stack:
        emu = await stack.enter_async_context(DiscordEmulator())
        guild = emu.people.guild("Projection Guild")
        games = guild.text_channel("games")
        host = guild.member("hana", global_name="Hana", permissions=MANAGE_GUILD)
        members = [guild.member(f"player{i}", global_name=f"Player {i}") for i in range(players)]
        eve = guild.member("eve", global_name="Eve", accepts_dms=False)
        if outbound is None:
            config = DiscordConfig(
                token=emu.bot_token, api_base=emu.api_base,
                key_prefix=f"test:{uuid.uuid4().hex[:12]}", backoff=(0.1, 0.2, 0.4),
            )  # fmt: skip
            rest = await stack.enter_async_context(DiscordRest(config, redis, metrics=Metrics()))
            outbound = await open_outbound(rest)
            stack.push_async_callback(outbound.close)
        app = MusterApp(env=env)
        stack.callback(app.close)
        port = InProcessCommands(app)
        stack.push_async_callback(port.aclose)
        w = World(emu, guild, games, host, members, eve, app, port, outbound, nc, env,
                  database_url, schema)  # fmt: skip
        w.config = config if outbound is not given else None

        async def stop_all() -> None:
            for name in list(w._tasks):
                await w.stop(name, abruptly=True)

        stack.push_async_callback(stop_all)
        yield w
