"""Discord-shaped 50035 errors for bodies that break limits, and 50007 for blocked DMs."""

from __future__ import annotations

from typing import Any

import aiohttp
import discord
import pytest

from tests.e2e.emulator.bots import AckBot
from tests.e2e.emulator.conftest import StartClient, World

pytestmark = pytest.mark.e2e


def _button(n: int, custom_id: str | None = None) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": f"B{n}", "custom_id": custom_id or f"b{n}"}


async def _post(world: World, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    emu = world.emu
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{emu.api_base}/channels/{world.games.id}/messages", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_content_over_2000_chars_through_discord_py(
    world: World, channel: discord.TextChannel
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("x" * 2001)
    assert (caught.value.status, caught.value.code) == (400, 50035)
    assert "In content: Must be 2000 or fewer in length." in caught.value.text
    await channel.send("x" * 2000)  # the limit itself is fine


async def test_invalid_form_body_shapes(world: World) -> None:
    world.emu.limiter.limits.messages_per_channel = (50, 1.0)  # rejected bodies count too
    status, body = await _post(world, {"content": "x" * 2001})
    assert status == 400
    assert body == {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {
            "content": {
                "_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                ]
            }
        },
    }

    six = {
        "content": "x",
        "components": [{"type": 1, "components": [_button(n) for n in range(6)]}],
    }
    status, body = await _post(world, six)
    assert (status, body["code"]) == (400, 50035)
    assert body["errors"]["components"]["0"]["components"]["_errors"][0] == {
        "code": "BASE_TYPE_BAD_LENGTH",
        "message": "Must be between 1 and 5 in length.",
    }

    rows = {
        "content": "x",
        "components": [{"type": 1, "components": [_button(n)]} for n in range(6)],
    }
    status, body = await _post(world, rows)
    assert body["errors"]["components"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"

    long_id = {"content": "x", "components": [{"type": 1, "components": [_button(0, "c" * 101)]}]}
    status, body = await _post(world, long_id)
    error = body["errors"]["components"]["0"]["components"]["0"]["custom_id"]["_errors"][0]
    assert error == {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 100 or fewer in length."}

    embed = {"embeds": [{"title": "t", "fields": [{"name": "n", "value": "v" * 1025}]}]}
    status, body = await _post(world, embed)
    field_error = body["errors"]["embeds"]["0"]["fields"]["0"]["value"]["_errors"][0]
    assert field_error["message"] == "Must be 1024 or fewer in length."

    huge = {
        "embeds": [{"description": "d" * 4000, "fields": [{"name": "n", "value": "v" * 1000}] * 3}]
    }
    status, body = await _post(world, huge)
    assert body["errors"]["embeds"]["0"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"

    status, body = await _post(world, {"content": ""})
    assert (status, body) == (400, {"message": "Cannot send an empty message", "code": 50006})
    assert world.emu.channel_messages(world.games) == []


async def test_dm_to_a_user_who_blocks_dms_is_50007(
    world: World, start_client: StartClient
) -> None:
    shy = world.guild.member("shy", global_name="Shy", accepts_dms=False)
    bot = await start_client(AckBot())
    member = bot.get_guild(world.guild.id).get_member(shy.id)  # type: ignore[union-attr]
    assert member is not None
    with pytest.raises(discord.Forbidden) as caught:
        await member.send("Your game starts in 15 minutes")
    assert (caught.value.status, caught.value.code) == (403, 50007)
    assert caught.value.text == "Cannot send messages to this user"

    alice = bot.get_guild(world.guild.id).get_member(world.alice.id)  # type: ignore[union-attr]
    assert alice is not None
    await alice.send("Your game starts in 15 minutes")
    assert [m["content"] for m in world.alice.dms()] == ["Your game starts in 15 minutes"]
    assert world.emu.inspect.all_dms()[world.alice.id][0]["author"]["id"] == str(bot.user.id)  # type: ignore[union-attr]


async def test_enforce_nonce_returns_the_first_message(world: World) -> None:
    first = await _post(world, {"content": "once", "nonce": "n-1", "enforce_nonce": True})
    again = await _post(world, {"content": "once", "nonce": "n-1", "enforce_nonce": True})
    loose = await _post(world, {"content": "twice", "nonce": "n-2"})
    loose_again = await _post(world, {"content": "twice", "nonce": "n-2"})
    assert first[1]["id"] == again[1]["id"]
    assert first[1]["nonce"] == "n-1"
    assert loose[1]["id"] != loose_again[1]["id"]
    contents = [m["content"] for m in world.emu.channel_messages(world.games)]
    assert contents == ["once", "twice", "twice"]
