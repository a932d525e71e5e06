"""Discord's limits: 429 storms honoured by discord.py, buckets, global limit, token lifetime."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import discord
import pytest

from tests.e2e.emulator.conftest import SEND, World

pytestmark = pytest.mark.e2e


async def test_429_storm_makes_discord_py_wait_retry_after(
    world: World, channel: discord.TextChannel
) -> None:
    emu = world.emu
    emu.faults.rate_limit_storm(SEND, count=2, retry_after=0.4)

    await channel.send("after the storm")

    attempts = emu.requests.entries(SEND)
    assert [r.status for r in attempts] == [429, 429, 200]
    assert [r.scope for r in attempts] == ["user", "user", None]
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 0.4 for gap in gaps), gaps  # nothing was sent before Retry-After
    assert emu.requests.rate_limited[SEND] == 2
    assert [m["content"] for m in emu.channel_messages(world.games)] == ["after the storm"]


async def test_message_bucket_is_respected_without_429(
    world: World, channel: discord.TextChannel
) -> None:
    emu = world.emu
    emu.limiter.limits.messages_per_channel = (5, 1.5)  # Discord: 5 per 5 s; shorter here

    await asyncio.gather(*(channel.send(f"message {n}") for n in range(7)))

    attempts = emu.requests.entries(SEND)
    assert len(attempts) == 7
    assert all(r.status == 200 for r in attempts)
    first, sixth = attempts[0].at, attempts[5].at
    assert sixth - first >= 1.5 - 0.01  # discord.py waited for the bucket to reset
    assert len(emu.channel_messages(world.games)) == 7


async def test_rate_limit_headers_and_429_body_shape(world: World) -> None:
    emu = world.emu
    emu.limiter.limits.messages_per_channel = (2, 5.0)
    url = f"{emu.api_base}/channels/{world.games.id}/messages"
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        statuses = []
        for n in range(3):
            async with http.post(url, json={"content": f"n{n}"}) as resp:
                statuses.append(resp.status)
                last_headers, last_body = resp.headers, await resp.json()
                if n == 0:
                    assert resp.headers["X-RateLimit-Limit"] == "2"
                    assert resp.headers["X-RateLimit-Remaining"] == "1"
                    assert float(resp.headers["X-RateLimit-Reset-After"]) <= 5.0
                    assert float(resp.headers["X-RateLimit-Reset"]) > 1.7e9
                    bucket = resp.headers["X-RateLimit-Bucket"]
    assert statuses == [200, 200, 429]
    assert last_headers["X-RateLimit-Scope"] == "user"
    assert last_headers["X-RateLimit-Bucket"] == bucket
    assert int(last_headers["Retry-After"]) >= 1
    assert set(last_body) == {"message", "retry_after", "global"}
    assert last_body["global"] is False
    assert 0 < last_body["retry_after"] <= 5.0


async def test_global_limit_per_bot_token(world: World) -> None:
    emu = world.emu
    emu.limiter.limits.global_per_second = 10
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def get(path: str) -> tuple[int, dict[str, str], object]:
            async with http.get(f"{emu.api_base}{path}") as resp:
                return resp.status, dict(resp.headers), await resp.json()

        results = [await get(f"/channels/{world.games.id}") for _ in range(12)]
    limited = [r for r in results if r[0] == 429]
    assert len(limited) == 2
    _, headers429, body = limited[0]
    assert headers429["X-RateLimit-Scope"] == "global"
    assert headers429["X-RateLimit-Global"] == "true"
    assert isinstance(body, dict)
    assert body["global"] is True


async def test_interaction_token_lifetime_and_double_ack(world: World) -> None:
    """Raw HTTP, as Muster's REST client calls: 40060 on a second ack, 50027 after 15 min."""
    emu = world.emu
    message = emu.messages.create(
        world.games,
        emu.application_id,
        {
            "content": "x",
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 1, "label": "Go", "custom_id": "go"}],
                }
            ],
        },
    )
    click = await world.alice.click(message, "go", wait=False)
    callback = f"{emu.api_base}/interactions/{click.id}/{click.token}/callback"
    hook = f"{emu.api_base}/webhooks/{emu.application_id}/{click.token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(callback, json={"type": 6}) as resp:
            assert resp.status == 204
        async with http.post(callback, json={"type": 6}) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "message": "Interaction has already been acknowledged.",
                "code": 40060,
            }
        async with http.post(f"{hook}?wait=true", json={"content": "follow-up"}) as resp:
            assert resp.status == 200
            assert (await resp.json())["content"] == "follow-up"
        emu.world.clock.advance(15 * 60 + 1)
        async with http.patch(f"{hook}/messages/@original", json={"content": "late"}) as resp:
            assert resp.status == 401
            assert await resp.json() == {"message": "Invalid Webhook Token", "code": 50027}
