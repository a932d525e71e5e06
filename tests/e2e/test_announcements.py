"""``muster up`` without a bot token: its services (read models, names, the Discord projection)
run against the emulator it starts, and a game created through the command port is announced in
the demo guild's #games, then kept true as people join."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from deploy.bootstrap import Container
from deploy.projector_cmd import projector_services
from deploy.settings import Settings
from deploy.supervise import supervise
from deploy.up import running_emulator
from domain.commands import CreateGame, JoinGame
from gateways.health import read_health
from tests.integration.conftest import read_schema

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
__all__ = ["read_schema"]  # the fixture: a fresh read-model schema


@pytest.fixture
def settings(event_log_env: dict[str, str], read_schema: str) -> Settings:
    return Settings(
        events_stream=event_log_env["MUSTER_EVENTS_STREAM"],
        events_subject_prefix=event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        database_schema=read_schema,
        sandbox_port=0,
        discord_token=None,
    )


async def get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def test_muster_up_announces_games_in_the_emulator(
    settings: Settings, nats_url: str, database_url: str, redis_url: str
) -> None:
    urls = {"nats": nats_url, "postgres": database_url, "redis": redis_url}
    stop = asyncio.Event()
    async with running_emulator(settings) as pointed, Container.open(pointed, urls) as container:
        assert pointed.discord_token is not None
        root = pointed.discord_api_base.removesuffix("/api/v10") + "/_emulator"
        services = asyncio.create_task(supervise(projector_services(container), stop))
        try:
            async with aiohttp.ClientSession() as session:
                state = await get(session, f"{root}/state")
                [guild] = [g for g in state["guilds"] if g["name"] == "Muster Sandbox"]
                games = next(c["id"] for c in guild["channels"] if c["name"] == "games")
                people = {m["user"]["username"]: m["user"]["id"] for m in guild["members"]}
                outcome = await container.commands.send(CreateGame(
                    command_id=f"e2e-{uuid.uuid4().hex}", user_id=people["hana"],
                    permissions=0x20, guild_id=guild["id"], channel_id=games, title="Catan",
                    scheduled_at=datetime.now(UTC) + timedelta(days=1), max_players=4,
                ))  # fmt: skip
                await container.commands.send(JoinGame(
                    command_id=f"e2e-{uuid.uuid4().hex}", user_id=people["bob"],
                    game_id=str(outcome.game_id),
                ))  # fmt: skip
                async with asyncio.timeout(20):
                    while True:
                        shown = await get(session, f"{root}/channels/{games}/messages")
                        fields = (
                            [f for m in shown for f in m["embeds"][0]["fields"]] if shown else []
                        )
                        if any(f["name"] == "Players (1/4)" for f in fields):
                            break
                        assert not services.done(), services
                        await asyncio.sleep(0.1)
                [message] = shown
                assert message["embeds"][0]["title"] == "Catan"
                ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
                assert ids == [f"muster:join:{outcome.game_id}", f"muster:leave:{outcome.game_id}"]
                health = await read_health(await container.nats())
                assert health["projector.discord"].state in ("starting", "running")
        finally:
            stop.set()
            await asyncio.wait_for(services, 20)
