"""A two-shard bot (``MUSTER_BOT_SHARDS=2``) end to end: the real discord.py client, started by
``bot_services`` as ``muster bot`` starts it, against the emulator, with two guilds, one on each
shard. One process runs both shards, or two processes run one each (``MUSTER_BOT_SHARD_IDS``,
the Kubernetes StatefulSet's shape), or one process runs as many as ``GET /gateway/bot``
recommends (``MUSTER_BOT_SHARDS=0``). In both, games are created and
joined in both guilds, every interaction reaches exactly one shard (its guild's) and is answered
once, and the log holds each command once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from deploy.bootstrap import Container
from deploy.bot_cmd import bot_services
from deploy.emulator import DiscordEmulator
from deploy.emulator.model import Channel, Interaction
from deploy.emulator.people import Person
from deploy.emulator.permissions import Permission
from deploy.projector_cmd import projector_services
from deploy.settings import Settings
from deploy.supervise import supervise
from domain.app import MusterApp
from domain.events import GameCreated, PlayerJoined
from gateways.health import read_health
from tests.e2e.emulator.test_shards import guilds_on_every_shard
from tests.integration.conftest import read_schema

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
__all__ = ["read_schema"]  # the fixture: a fresh read-model schema
SHARDS = 2


@dataclass
class Place:
    """One guild: its shard, its #games, a host and a player."""

    shard: int
    guild_id: int
    games: Channel
    host: Person
    player: Person


@dataclass
class Sharded:
    emu: DiscordEmulator
    places: list[Place]
    env: dict[str, str]
    services: asyncio.Task[None]

    async def answered(self, it: Interaction) -> str:
        """The text of the bot's (deferred, then filled in) answer to ``it``."""

        def filled() -> bool:
            msg = self.emu.world.messages.get(it.original_message_id or 0)
            return msg is not None and not msg.flags & 128

        await self.emu.until(lambda: filled() or self.services.done(), within=20)
        assert not self.services.done(), self.services
        return str(self.emu.world.messages[it.original_message_id or 0].content)

    def deliveries(self, interaction_id: int) -> list[int]:
        """The shards whose sessions were sent INTERACTION_CREATE for this interaction."""
        found = []
        for session in self.emu.gateway.sessions.values():
            for _, frame in session.buffer:
                body = msgspec.json.decode(frame)
                if body["t"] == "INTERACTION_CREATE" and body["d"]["id"] == str(interaction_id):
                    found.append(session.shard[0])
        return found


@pytest.fixture(
    params=["one process, both shards", "two processes, one shard each", "as Discord recommends"]
)
async def sharded(
    request: pytest.FixtureRequest, event_log_env: dict[str, str], read_schema: str,
    nats_url: str, database_url: str, redis_url: str,
) -> AsyncIterator[Sharded]:  # fmt: skip
    plans: list[list[int] | None] = [[0], [1]] if request.param.startswith("two") else [None]
    shards = 0 if request.param == "as Discord recommends" else SHARDS  # 0: GET /gateway/bot
    urls = {"nats": nats_url, "postgres": database_url, "redis": redis_url}
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        emu = await stack.enter_async_context(DiscordEmulator(recommended_shards=SHARDS))
        places = []
        for shard, guild in sorted(guilds_on_every_shard(emu, SHARDS).items()):
            games = guild.text_channel("games")
            host = guild.member(f"host{shard}", permissions=int(Permission.MANAGE_GUILD))
            places.append(Place(shard, guild.id, games, host, guild.member(f"player{shard}")))
        base = Settings(
            events_stream=event_log_env["MUSTER_EVENTS_STREAM"],
            events_subject_prefix=event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
            database_schema=read_schema, discord_token=emu.bot_token,
            discord_api_base=emu.api_base, bot_health_interval=0.2, bot_shards=shards,
        )  # fmt: skip
        services = []
        for n, shard_ids in enumerate(plans):
            settings = base.model_copy(update={"bot_shard_ids": shard_ids})
            container = await stack.enter_async_context(Container.open(settings, urls))
            services += bot_services(container)
            if n == 0:
                services += projector_services(container)
        running = asyncio.create_task(supervise(services, stop))
        harness = Sharded(emu, places, event_log_env, running)
        try:
            await _until_ready(container, plans, running)
            await emu.until(lambda: len(emu.world.commands) == 3, within=10)  # synced once
            yield harness
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)


async def _until_ready(
    container: Container, plans: list[list[int] | None], running: asyncio.Task[None]
) -> None:
    keys = ["bot" if ids is None else f"bot.shards-{ids[0]}" for ids in plans]
    nc = await container.nats()
    async with asyncio.timeout(30):
        while True:
            health = await read_health(nc)
            if all(k in health and health[k].figures.get("ready") for k in keys):
                return
            assert not running.done(), running
            await asyncio.sleep(0.05)


def announcement(emu: DiscordEmulator, games: Channel) -> dict[str, Any] | None:
    for message in emu.channel_messages(games):
        if any(c.get("custom_id", "").startswith("muster:join:")
               for row in message.get("components") or [] for c in row["components"]):  # fmt: skip
            return message
    return None


async def test_games_on_both_shards_are_created_and_joined_once(sharded: Sharded) -> None:
    emu = sharded.emu
    asked: list[tuple[Place, Interaction]] = []
    for place in sharded.places:
        title = f"Shard {place.shard} night"
        opened = await place.host.run_command("game create", channel=place.games)
        assert opened.response_type == 9, opened.failures  # the modal
        submitted = await place.host.submit_modal(
            opened, {"title": title, "when": "tomorrow 20:00", "max_players": "2"}
        )
        assert (await sharded.answered(submitted)).startswith(f"**{title}** is on for <t:")
        shown = await emu.until(lambda p=place: announcement(emu, p.games), within=20)
        join = next(c["custom_id"] for row in shown["components"] for c in row["components"]
                    if c["custom_id"].startswith("muster:join:"))  # fmt: skip
        click = await place.player.click(int(shown["id"]), join)
        assert await sharded.answered(click) == "You're in — 1/2."
        asked += [(place, opened), (place, submitted), (place, click)]

    for place, it in asked:
        assert sharded.deliveries(it.id) == [place.shard], it.data
        assert it.failures == [], (it.data, it.failures)  # answered once, in time

    app = MusterApp(env=sharded.env)
    try:
        aggregates = {str(n.originator_id) for n in app.recorder.select_notifications(1, 10_000)}
        events = [e for a in sorted(aggregates) if a.startswith("game.") for e in app.history(a)]
    finally:
        app.close()
    created = [e for e in events if isinstance(e, GameCreated)]
    joined = [e for e in events if isinstance(e, PlayerJoined)]
    assert sorted(e.command_id for e in created) == sorted(
        f"discord:{it.id}" for _, it in asked[1::3]
    )
    assert sorted(e.command_id for e in joined) == sorted(
        f"discord:{it.id}" for _, it in asked[2::3]
    )
    assert {e.guild_id for e in created} == {str(p.guild_id) for p in sharded.places}
