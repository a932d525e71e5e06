"""Faults on demand: 5xx bursts retried by discord.py, added latency, slow reads, slow gateway."""

from __future__ import annotations

import time

import aiohttp
import discord
import pytest

from tests.e2e.emulator.bots import AckBot
from tests.e2e.emulator.conftest import SEND, StartClient, World

pytestmark = pytest.mark.e2e


async def test_server_error_burst_is_retried_by_discord_py(
    world: World, channel: discord.TextChannel
) -> None:
    emu = world.emu
    emu.faults.server_errors(SEND, count=1, status=502)
    await channel.send("survives a 502")
    attempts = emu.requests.entries(SEND)
    assert [r.status for r in attempts] == [502, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # discord.py backs off 1 s on a 5xx
    assert [m["content"] for m in emu.channel_messages(world.games)] == ["survives a 502"]


async def test_added_latency_and_gateway_latency(world: World, start_client: StartClient) -> None:
    emu = world.emu
    bot = await start_client(AckBot())
    emu.faults.latency(0.25, "GET /users/{user_id}")
    started = time.perf_counter()
    user = await bot.fetch_user(world.bob.id)
    assert time.perf_counter() - started >= 0.25
    assert user.name == "bob"
    [record] = emu.requests.entries("GET /users/{user_id}")
    assert record.duration >= 0.25

    message = await bot.post_buttons(world.games.id)
    emu.faults.gateway_latency = 0.3
    click = await world.alice.click(message.id, "ack:0")
    assert click.response_type == 6
    assert emu.inspect.interaction(click)["latency_ms"] >= 300


async def test_slow_reads_trickle_the_body(world: World) -> None:
    emu = world.emu
    emu.faults.slow_reads(2000, "GET /guilds/{guild_id}")
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        started = time.perf_counter()
        async with http.get(f"{emu.api_base}/guilds/{world.guild.id}") as resp:
            body = await resp.read()
        elapsed = time.perf_counter() - started
        guild = await resp.json()
    assert guild["name"] == "Muster Test Guild"
    chunks = -(-len(body) // 200)  # 200-byte chunks, 100 ms apart, at 2000 B/s
    assert chunks >= 3
    assert elapsed >= 0.1 * (chunks - 1) - 0.01
