"""Each read returns Discord's payload and is cached under the one key scheme."""

from __future__ import annotations

import aiohttp
import pytest
from redis.asyncio import Redis

from gateways.discord import DiscordRest
from gateways.discord.metrics import Metrics
from tests.integration.discord_rest.conftest import MakeConfig, Stage

pytestmark = pytest.mark.integration


async def bearer_token(stage: Stage, user_id: int) -> str:
    """An OAuth2 access token for ``user_id``, by the authorization-code flow."""
    emu, redirect = stage.emu, "http://localhost/callback"
    code = emu.oauth.authorize(user_id, "identify guilds", redirect)
    app = emu.world.application
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "client_id": str(app.id),
        "client_secret": app.client_secret,
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emu.api_base}/oauth2/token", data=form) as resp,
    ):
        return str((await resp.json())["access_token"])


async def test_every_read_is_served_and_cached(
    stage: Stage, redis: Redis, make_config: MakeConfig
) -> None:
    emu, guild = stage.emu, stage.guild_id
    member = stage.members[1]
    token = await bearer_token(stage, member.id)
    async with DiscordRest(make_config(), redis, metrics=Metrics()) as rest:
        for _ in range(2):
            assert (await rest.reads.guild(guild))["name"] == "REST Test Guild"  # type: ignore[index]
            channels = await rest.reads.guild_channels(guild)
            assert "games" in {c["name"] for c in channels}
            channel = await rest.reads.channel(stage.games.id)
            assert channel is not None
            assert channel["name"] == "games"
            assert {r["name"] for r in await rest.reads.roles(guild)} >= {"@everyone"}
            user = await rest.reads.user(member.id)
            assert user is not None
            assert user["username"] == "user1"
            found = await rest.reads.search_members(guild, "User 29", limit=5)
            assert [m["user"]["username"] for m in found] == ["user29"]
            assert await rest.reads.member(guild, stage.members[29].id)  # filled by the search
            [mine] = await rest.reads.user_guilds(member.id, token)
            assert mine["id"] == guild
    counts = emu.requests.summary()["routes"]
    assert {route: c["count"] for route, c in counts.items()} == {  # type: ignore[attr-defined]
        "POST /oauth2/token": 1,
        "GET /guilds/{guild_id}": 1,
        "GET /guilds/{guild_id}/channels": 1,
        "GET /channels/{channel_id}": 1,
        "GET /guilds/{guild_id}/roles": 1,
        "GET /users/{user_id}": 1,
        "GET /guilds/{guild_id}/members/search": 1,
        "GET /users/@me/guilds": 1,
    }
