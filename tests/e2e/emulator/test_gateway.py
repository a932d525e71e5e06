"""Gateway faults: dropped sockets resumed without loss, refused resume, RECONNECT, close codes."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from deploy.emulator import DiscordEmulator
from deploy.emulator.model import INTENT_GUILD_MEMBERS, INTENT_MESSAGE_CONTENT
from tests.e2e.emulator.bots import AckBot
from tests.e2e.emulator.conftest import StartClient, World, intents

pytestmark = pytest.mark.e2e


async def test_dropped_websocket_resumes_without_losing_an_interaction(
    world: World, start_client: StartClient
) -> None:
    emu = world.emu
    bot = await start_client(AckBot())
    message = await bot.post_buttons(world.games.id)
    [session] = emu.gateway.sessions.values()

    assert emu.faults.drop_websocket() == 1
    click = await world.alice.click(message.id, "ack:0", wait=False)  # dispatched while down
    assert await emu.until(lambda: click.response_type, within=3.0) == 6
    await emu.until(bot.resumed.is_set)  # replayed events come first, then RESUMED
    assert list(emu.gateway.sessions.values()) == [session]  # same session, resumed
    await emu.until(lambda: bot.acked)
    assert bot.acked == [click.id]
    assert bot.ready_count == 1


async def test_refused_resume_makes_discord_py_identify_again(
    world: World, start_client: StartClient
) -> None:
    emu = world.emu
    bot = await start_client(AckBot())
    message = await bot.post_buttons(world.games.id)
    emu.faults.refuse_next_resume()
    emu.faults.drop_websocket()
    await emu.until(lambda: len(emu.gateway.sessions) == 2 and bot.is_ready())
    assert not bot.resumed.is_set()
    click = await world.bob.click(message.id, "ack:0")
    assert click.response_type == 6


async def test_reconnect_opcode_is_followed_by_resume(
    world: World, start_client: StartClient
) -> None:
    bot = await start_client(AckBot())
    world.emu.faults.send_reconnect()
    await world.emu.until(bot.resumed.is_set)
    assert len(world.emu.gateway.sessions) == 1


async def _identify(emu: DiscordEmulator, token: str, intents_value: int) -> int | None:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{emu.gateway_url}?v=10") as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        assert hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 1, "d": None})
        assert (await ws.receive_json())["op"] == 11
        await ws.send_json(
            {"op": 2, "d": {"token": token, "intents": intents_value, "properties": {}}}
        )
        msg = await ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            assert msg.json()["t"] == "READY"
            return None
        return ws.close_code


async def test_close_codes_for_bad_token_and_disallowed_intents() -> None:
    async with DiscordEmulator(privileged_intents=INTENT_GUILD_MEMBERS) as emu:
        assert await _identify(emu, "not-the-token", 513) == 4004
        assert await _identify(emu, emu.bot_token, INTENT_MESSAGE_CONTENT | 513) == 4014
        assert await _identify(emu, emu.bot_token, INTENT_GUILD_MEMBERS | 513) is None


async def test_discord_py_reports_privileged_intents_required(world: World) -> None:
    world.emu.world.application.privileged_intents = 0
    client = discord.Client(intents=intents())
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with client:
            await client.start(world.emu.bot_token)


async def test_bad_token_fails_login(world: World) -> None:
    client = discord.Client(intents=intents())
    with pytest.raises(discord.LoginFailure):
        async with client:
            await client.login("bogus-token")


async def test_interaction_answered_after_three_seconds_is_unknown(
    world: World, start_client: StartClient
) -> None:
    bot = await start_client(AckBot(delay=3.2))
    message = await bot.post_buttons(world.games.id)
    click = await world.alice.click(message.id, "ack:0", wait=False)
    await world.emu.until(lambda: bot.errors, within=5.0)
    [error] = bot.errors
    assert isinstance(error, discord.NotFound)
    assert (error.status, error.code, error.text) == (404, 10062, "Unknown interaction")
    assert click.response_type is None
    assert click.failures == [10062]
    assert world.emu.inspect.interaction(click)["failed"] is True
