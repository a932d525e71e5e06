"""Dispatches and REST reads through discord.py: members, messages, content intent, chunking."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest

from tests.e2e.emulator.bots import AckBot
from tests.e2e.emulator.conftest import StartClient, World, intents

pytestmark = pytest.mark.e2e


class Recorder(AckBot):
    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.seen: list[tuple[str, object]] = []

    async def on_member_join(self, member: discord.Member) -> None:
        self.seen.append(("join", member.id))  # the Member object may be updated already

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        self.seen.append(("update", (before.nick, after.nick)))

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.seen.append(("remove", payload.user.id))

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(("message", message.content))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.seen.append(("edit", payload.data["content"]))

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.seen.append(("delete", payload.message_id))


async def test_member_and_message_events(world: World, start_client: StartClient) -> None:
    emu = world.emu
    bot = await start_client(Recorder())
    carol = world.guild.member("carol", global_name="Carol", nick="Caz")
    carol.set_nick("Carol C")
    world.alice.say("anyone up for Catan?", channel=world.games)
    carol.leave()
    sent = await bot.post_buttons(world.games.id)
    await sent.edit(content="Click me (edited)")
    await sent.delete()
    await emu.until(lambda: ("delete", sent.id) in bot.seen)
    assert bot.seen == [
        ("join", carol.id),
        ("update", ("Caz", "Carol C")),
        ("message", "anyone up for Catan?"),
        ("remove", carol.id),
        ("message", "Click me"),
        ("edit", "Click me (edited)"),
        ("delete", sent.id),
    ]
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    assert guild.get_member(carol.id) is None
    assert emu.channel_messages(world.games)[-1]["content"] == "anyone up for Catan?"


async def test_message_content_needs_the_intent(world: World, start_client: StartClient) -> None:
    no_content = intents()
    no_content.message_content = False
    bot = await start_client(Recorder(intents=no_content))
    world.alice.say("secret plans", channel=world.games)
    world.alice.say(f"<@{bot.user.id}> hello bot", channel=world.games)  # type: ignore[union-attr]
    await world.emu.until(lambda: len(bot.seen) == 2)
    assert bot.seen == [("message", ""), ("message", f"<@{bot.user.id}> hello bot")]  # type: ignore[union-attr]


async def test_rest_reads_and_member_chunking(world: World, start_client: StartClient) -> None:
    bot = await start_client(Recorder())
    guild = bot.get_guild(world.guild.id)
    channel = bot.get_channel(world.games.id)
    assert guild is not None
    assert isinstance(channel, discord.TextChannel)
    for n in range(3):
        world.bob.say(f"line {n}", channel=world.games)
    history = [m.content async for m in channel.history(limit=2)]
    assert history == ["line 2", "line 1"]
    older = [m.content async for m in channel.history(limit=5, before=discord.Object(id=10**19))]
    assert older == ["line 2", "line 1", "line 0"]

    fetched = await guild.fetch_member(world.alice.id)
    assert fetched.nick == "Ali"
    assert fetched.global_name == "Alice"
    listed = [m.name async for m in guild.fetch_members(limit=None)]
    assert sorted(listed) == sorted(["app-owner", "muster", "alice", "bob"])
    chunk = await asyncio.wait_for(guild.query_members("ali"), 5)  # gateway op 8
    assert [m.id for m in chunk] == [world.alice.id]
    user = await bot.fetch_user(world.bob.id)
    assert user.global_name == "Bob"
    with pytest.raises(discord.NotFound) as caught:
        await bot.fetch_user(42)
    assert caught.value.code == 10013


async def test_file_upload_is_recorded_as_an_attachment(
    world: World, start_client: StartClient
) -> None:
    bot = await start_client(Recorder())
    channel = bot.get_channel(world.games.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send(
        "the rules", file=discord.File(io.BytesIO(b"no cheating"), "rules.txt")
    )
    assert [(a.filename, a.size) for a in sent.attachments] == [("rules.txt", 11)]
    [shown] = world.emu.channel_messages(world.games)
    assert shown["attachments"][0]["filename"] == "rules.txt"


async def test_guild_channel_role_fetches_and_member_search(
    world: World, start_client: StartClient
) -> None:
    hosts = world.guild.role("Game Hosts", permissions=1 << 5)
    bot = await start_client(Recorder())
    guild = await bot.fetch_guild(world.guild.id, with_counts=True)
    assert guild.name == "Muster Test Guild"
    assert guild.approximate_member_count == 4
    channels = await guild.fetch_channels()
    assert [c.name for c in channels] == ["games"]
    roles = {r.name: r for r in await guild.fetch_roles()}
    assert roles["Game Hosts"].permissions.manage_guild
    assert roles["Muster"].managed
    assert hosts.id == roles["Game Hosts"].id

    emu = world.emu
    url = f"{emu.api_base}/guilds/{world.guild.id}/members/search"
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(url, params={"query": "al", "limit": "10"}) as resp:
            found = await resp.json()
        async with http.get(url, params={"query": "al", "limit": "0"}) as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == 50035
    assert [m["user"]["username"] for m in found] == ["alice"]
