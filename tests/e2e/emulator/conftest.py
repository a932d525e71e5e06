"""Fixtures: a running emulator with a small guild, and real discord.py clients against it."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

with warnings.catch_warnings():
    # discord.py imports the stdlib's deprecated ``audioop`` (voice support) at import time.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

from deploy.emulator import DiscordEmulator, point_discord_py_at
from deploy.emulator.model import Channel
from deploy.emulator.people import GuildScript, Person
from deploy.emulator.sandbox import Demo, populate_demo


@dataclass
class World:
    emu: DiscordEmulator
    guild: GuildScript
    games: Channel
    alice: Person
    bob: Person


@pytest.fixture
async def world() -> AsyncIterator[World]:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with DiscordEmulator() as emu:
        guild = emu.people.guild("Muster Test Guild")
        games = guild.text_channel("games", topic="Game nights")
        alice = guild.member("alice", global_name="Alice", nick="Ali")
        bob = guild.member("bob", global_name="Bob")
        await point_discord_py_at(emu.api_base)
        yield World(emu, guild, games, alice, bob)
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


StartClient = Callable[[discord.Client], Awaitable[discord.Client]]


@pytest.fixture
async def start_client(world: World) -> AsyncIterator[StartClient]:
    """Start discord.py clients (``client.start(token)``) and wait for on_ready; closes them."""
    running: list[tuple[discord.Client, asyncio.Task[None]]] = []

    async def start(client: discord.Client) -> discord.Client:
        task = asyncio.create_task(client.start(world.emu.bot_token))
        running.append((client, task))
        waiter = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            if task in done:
                task.result()  # re-raise the login/connect failure
            raise TimeoutError("discord.py did not become ready")
        return client

    yield start
    for client, task in running:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def channel(world: World, start_client: StartClient) -> discord.TextChannel:
    """The games channel as a running discord.py bot (:class:`AckBot`) sees it."""
    from tests.e2e.emulator.bots import AckBot  # bots imports this module

    bot = await start_client(AckBot())
    found = bot.get_channel(world.games.id)
    assert isinstance(found, discord.TextChannel)
    return found


SEND = "POST /channels/{channel_id}/messages"


def intents() -> discord.Intents:
    wanted = discord.Intents.default()
    wanted.members = True
    wanted.message_content = True
    return wanted


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[DiscordEmulator, Demo]]:
    async with DiscordEmulator() as emu:
        demo = populate_demo(emu)
        await point_discord_py_at(emu.api_base)
        yield emu, demo
