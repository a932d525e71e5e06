"""Sharding: IDENTIFY's ``shard`` routes each guild's events to shard ``(guild_id >> 22) % n``
only, DMs to shard 0; ``GET /gateway/bot`` recommends a shard count; a bad shard is 4010."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from deploy.emulator import DiscordEmulator
from deploy.emulator.model import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MEMBERS, INTENT_GUILDS
from deploy.emulator.people import GuildScript
from deploy.emulator.server import GUILDS_PER_SHARD

pytestmark = pytest.mark.e2e
INTENTS = INTENT_GUILDS | INTENT_GUILD_MEMBERS | INTENT_DIRECT_MESSAGES


def guilds_on_every_shard(emu: DiscordEmulator, count: int) -> dict[int, GuildScript]:
    """One guild per shard: ids are snowflakes, so a millisecond later is another shard."""
    found: dict[int, GuildScript] = {}
    for n in range(50 * count):
        guild = emu.people.guild(f"Guild {n}")
        found.setdefault((guild.id >> 22) % count, guild)
        if len(found) == count:
            return found
        emu.world.clock.advance(0.001)
    raise AssertionError("no guild landed on some shard")


@contextlib.asynccontextmanager
async def identified(emu: DiscordEmulator, shard: list[int]) -> AsyncIterator[dict[str, Any]]:
    """A raw gateway connection identified as ``shard``; yields READY (or the close code)."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{emu.gateway_url}?v=10") as ws:
        assert (await ws.receive_json())["op"] == 10
        identify = {"token": emu.bot_token, "intents": INTENTS, "properties": {}, "shard": shard}
        await ws.send_json({"op": 2, "d": identify})
        msg = await ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            yield {"close_code": ws.close_code}
            return
        ready = msg.json()
        assert ready["t"] == "READY"
        yield ready["d"]


def dispatched(emu: DiscordEmulator, session_id: str) -> list[tuple[str, Any]]:
    """(event name, guild id or None) of everything a session was sent, in order."""
    out = []
    for _, frame in emu.gateway.sessions[session_id].buffer:
        body = msgspec.json.decode(frame)
        data = body["d"] or {}
        guild = data.get("guild_id") or (data.get("id") if body["t"] == "GUILD_CREATE" else None)
        out.append((body["t"], guild))
    return out


async def test_each_guild_is_sent_to_its_shard_only_and_dms_to_shard_zero() -> None:
    async with DiscordEmulator() as emu:
        guilds = guilds_on_every_shard(emu, 2)
        async with identified(emu, [0, 2]) as zero, identified(emu, [1, 2]) as one:
            for shard, ready in ((0, zero), (1, one)):
                assert ready["shard"] == [shard, 2]
                assert [g["id"] for g in ready["guilds"]] == [
                    str(gid) for gid in emu.world.guilds if (gid >> 22) % 2 == shard
                ]
            dora = emu.people.user("dora")
            for guild in guilds.values():
                guild.add(dora)
            emu.messages.create(emu.world.dm_channel(dora.id), dora.id, {"content": "hi"})

            for shard, ready in ((0, zero), (1, one)):
                got = dispatched(emu, ready["session_id"])
                own = str(guilds[shard].id)
                assert ("GUILD_MEMBER_ADD", own) in got
                guild_ids = {g for name, g in got if g is not None}
                assert all((int(g) >> 22) % 2 == shard for g in guild_ids), (shard, guild_ids)
                dms = [name for name, g in got if name == "MESSAGE_CREATE" and g is None]
                assert dms == (["MESSAGE_CREATE"] if shard == 0 else [])


async def test_a_shard_outside_the_count_is_refused() -> None:
    async with DiscordEmulator() as emu, identified(emu, [2, 2]) as refused:
        assert refused == {"close_code": 4010}


async def test_gateway_bot_recommends_a_shard_count() -> None:
    async with DiscordEmulator() as emu, aiohttp.ClientSession() as http:

        async def recommended() -> int:
            auth = {"Authorization": f"Bot {emu.bot_token}"}
            async with http.get(f"{emu.api_base}/gateway/bot", headers=auth) as response:
                body = await response.json()
                assert body["url"] == emu.gateway_url
                return int(body["shards"])

        assert await recommended() == 1
        for n in range(GUILDS_PER_SHARD + 1 - len(emu.world.guilds)):
            emu.world.create_guild(f"g{n}")
        assert await recommended() == 2  # one shard per 1,000 guilds, rounded up
        emu.recommended_shards = 4
        assert await recommended() == 4
