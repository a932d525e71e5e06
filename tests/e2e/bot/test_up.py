"""``muster up`` without a token, as a person on the sandbox page would use it: the services
(projectors and the bot) against the emulator's demo guild, driven over its control API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from deploy.bootstrap import Container
from deploy.bot_cmd import bot_services
from deploy.commands_cmd import worker_services
from deploy.projector_cmd import projector_services
from deploy.settings import Settings
from deploy.supervise import supervise
from deploy.up import running_emulator
from gateways.health import read_health
from tests.integration.conftest import read_schema

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
__all__ = ["read_schema"]  # the fixture: a fresh read-model schema


@dataclass
class Sandbox:
    session: aiohttp.ClientSession
    root: str
    guild: dict[str, Any]
    games: str
    people: dict[str, str]
    services: asyncio.Task[None]

    async def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        method = self.session.post if body is not None else self.session.get
        async with method(self.root + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def answer(self, who: str, interaction: dict[str, Any]) -> str:
        """The ephemeral text ``who`` sees for an interaction, once the bot filled it in."""
        async with asyncio.timeout(20):
            while True:
                shown = await self.call(
                    f"/channels/{self.games}/messages?as_user={self.people[who]}"
                )
                mine = [
                    m for m in shown
                    if (m.get("interaction_metadata") or {}).get("id") == interaction["id"]
                    and not m["flags"] & 128
                ]  # fmt: skip
                if mine:
                    return str(mine[0]["content"])
                assert not self.services.done(), self.services
                await asyncio.sleep(0.05)


@pytest.fixture(params=[0, 2], ids=["in-process commands", "2 command workers"])
async def sandbox(
    request: pytest.FixtureRequest, event_log_env: dict[str, str], read_schema: str,
    nats_url: str, database_url: str, redis_url: str,
) -> AsyncIterator[Sandbox]:  # fmt: skip
    workers: int = request.param  # as `muster up --command-workers N`: child processes
    settings = Settings(
        events_stream=event_log_env["MUSTER_EVENTS_STREAM"],
        events_subject_prefix=event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        database_schema=read_schema, sandbox_port=0, discord_token=None,
        bot_health_interval=0.5, command_subject=f"cmd{event_log_env['MUSTER_EVENTS_STREAM']}",
        commands="nats" if workers else "local", command_workers=max(workers, 1),
    )  # fmt: skip
    urls = {"nats": nats_url, "postgres": database_url, "redis": redis_url}
    stop = asyncio.Event()
    async with running_emulator(settings) as pointed, Container.open(pointed, urls) as container:
        children = worker_services(settings, urls, workers) if workers else []
        services = asyncio.create_task(
            supervise(children + projector_services(container) + bot_services(container), stop)
        )
        root = pointed.discord_api_base.removesuffix("/api/v10") + "/_emulator"
        try:
            async with aiohttp.ClientSession() as session:
                box = Sandbox(session, root, {}, "", {}, services)
                state = await box.call("/state")
                [box.guild] = [g for g in state["guilds"] if g["name"] == "Muster Sandbox"]
                box.games = next(c["id"] for c in box.guild["channels"] if c["name"] == "games")
                box.people = {m["user"]["username"]: m["user"]["id"] for m in box.guild["members"]}
                nc = await container.nats()
                async with asyncio.timeout(30):  # the bot says it is ready (health bucket)
                    while not _ready(await read_health(nc)):
                        assert not services.done(), services
                        await asyncio.sleep(0.1)
                names = sorted(c["name"] for c in await box.call("/commands"))
                assert names == ["config", "game", "reminders"]
                yield box
        finally:
            stop.set()
            await asyncio.wait_for(services, 30)


def _ready(health: dict[str, Any]) -> bool:
    bot = health.get("bot")
    return bot is not None and bot.state == "running" and bot.figures.get("ready") is True


async def create(box: Sandbox, who: str, values: dict[str, str]) -> tuple[dict[str, Any], str]:
    opened = await box.call(
        "/interactions/command",
        {"user_id": box.people[who], "channel_id": box.games, "name": "game create"},
    )
    assert opened["response_type"] == 9, opened
    submitted = await box.call(
        f"/interactions/{opened['id']}/modal", {"user_id": box.people[who], "values": values}
    )
    return submitted, await box.answer(who, submitted)


async def test_a_member_creates_a_game_from_the_sandbox(sandbox: Sandbox) -> None:
    _, text = await create(
        sandbox, "alice", {"title": "Catan", "when": "tomorrow 20:00", "max_players": "4"}
    )
    assert text.startswith("**Catan** is on for <t:"), text
    listed = await sandbox.call(
        "/interactions/command",
        {"user_id": sandbox.people["bob"], "channel_id": sandbox.games, "name": "game list"},
    )
    async with asyncio.timeout(20):  # the read model catches up
        while "Catan" not in (answer := await sandbox.answer("bob", listed)):
            listed = await sandbox.call(
                "/interactions/command",
                {"user_id": sandbox.people["bob"], "channel_id": sandbox.games,
                 "name": "game list"},
            )  # fmt: skip
    assert "**Catan** — <t:" in answer


async def test_announcement_join_from_the_sandbox(sandbox: Sandbox) -> None:
    pytest.importorskip("projections.discord")  # the announcement projection (merged later)
    await create(sandbox, "hana", {"title": "Azul", "when": "in 3 hours", "max_players": "1"})
    async with asyncio.timeout(20):
        while not (shown := await sandbox.call(f"/channels/{sandbox.games}/messages")):
            assert not sandbox.services.done(), sandbox.services
            await asyncio.sleep(0.05)
    [announcement] = shown
    join = next(
        c["custom_id"] for row in announcement["components"] for c in row["components"]
        if c["custom_id"].startswith("muster:join:")
    )  # fmt: skip
    for who, expected in (
        ("bob", "You're in — 1/1."), ("chen.wei", "The game is full: you are #1 on the waitlist."),
    ):  # fmt: skip
        click = await sandbox.call(
            "/interactions/click",
            {"user_id": sandbox.people[who], "message_id": announcement["id"], "custom_id": join},
        )
        assert await sandbox.answer(who, click) == expected
    async with asyncio.timeout(20):  # the announcement shows the player
        while "1/1" not in str(await sandbox.call(f"/channels/{sandbox.games}/messages")):
            assert not sandbox.services.done(), sandbox.services
            await asyncio.sleep(0.1)
