"""discord.py logs in to the emulator, gets READY and GUILD_CREATE."""

from __future__ import annotations

import discord
import pytest

from tests.e2e.emulator.conftest import StartClient, World, intents

pytestmark = pytest.mark.e2e


async def test_login_ready_and_guild_create(world: World, start_client: StartClient) -> None:
    client = await start_client(discord.Client(intents=intents(), guild_ready_timeout=0.2))
    assert client.user is not None
    assert client.user.id == world.emu.application_id
    assert client.application_id == world.emu.application_id
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    assert guild.name == "Muster Test Guild"
    channel = guild.get_channel(world.games.id)
    assert isinstance(channel, discord.TextChannel)
    assert channel.topic == "Game nights"
    alice = guild.get_member(world.alice.id)
    assert alice is not None
    assert alice.nick == "Ali"
    assert alice.global_name == "Alice"
    assert alice.display_name == "Ali"
    assert guild.me is not None
    assert guild.me.guild_permissions.send_messages
    assert world.emu.requests.count("GET /users/@me") == 1
    assert world.emu.requests.count("GET /oauth2/applications/@me") == 1
