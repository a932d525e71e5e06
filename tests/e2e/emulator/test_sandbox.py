"""The sandbox: an echo bot; a click on the page's button as a member reaches it and shows."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from deploy.emulator import DiscordEmulator
from deploy.emulator.inspection import buttons
from deploy.emulator.sandbox import Demo, main
from tests.e2e.emulator.bots import EchoBot

pytestmark = pytest.mark.e2e


async def test_click_on_sandbox_page_reaches_the_bot(sandbox: tuple[DiscordEmulator, Demo]) -> None:
    emu, demo = sandbox
    bot = EchoBot(demo.games.id)
    async with bot, aiohttp.ClientSession(emu.url) as http:
        await bot.login(emu.bot_token)
        runner = asyncio.create_task(bot.connect())
        await emu.until(lambda: emu.channel_messages(demo.games))

        async with http.get("/sandbox") as page:
            html = await page.text()
        assert page.status == 200
        assert 'data-testid="member-picker"' in html
        async with http.get("/_emulator/state") as resp:
            state = await resp.json()
        names = [
            m.get("nick") or m["user"]["global_name"] or m["user"]["username"]
            for m in state["guilds"][0]["members"]
        ]
        assert "Ali the Bold" in names
        assert "Chen" in names

        async with http.get(f"/_emulator/channels/{demo.games.id}/messages") as resp:
            [announcement] = await resp.json()
        [join] = buttons(announcement)
        chen = demo.people["chen"]
        click = {
            "user_id": str(chen.id),
            "message_id": announcement["id"],
            "custom_id": join["custom_id"],
        }
        async with http.post("/_emulator/interactions/click", json=click) as resp:
            result = await resp.json()
        assert result["response_type"] == 4
        assert not result["failed"]

        async with http.get(
            f"/_emulator/channels/{demo.games.id}/messages?as_user={chen.id}"
        ) as resp:
            shown = await resp.json()
        assert [m["content"] for m in shown] == ["Board games tonight", "Chen joined!"]
        assert shown[1]["interaction_metadata"]["user"]["id"] == str(chen.id)
        await bot.close()
        await runner


async def test_control_api_builds_people_and_injects_faults(
    sandbox: tuple[DiscordEmulator, Demo],
) -> None:
    emu, demo = sandbox
    async with aiohttp.ClientSession(emu.url) as http:
        async with http.post(
            f"/_emulator/guilds/{demo.guild.id}/members", json={"username": "zoe", "nick": "Zo"}
        ) as resp:
            zoe = await resp.json()
        assert zoe["nick"] == "Zo"
        assert zoe["user"]["username"] == "zoe"
        uid = zoe["user"]["id"]
        async with http.patch(
            f"/_emulator/guilds/{demo.guild.id}/members/{uid}", json={"nick": "Zoe!"}
        ) as resp:
            assert (await resp.json())["nick"] == "Zoe!"
        async with http.delete(f"/_emulator/guilds/{demo.guild.id}/members/{uid}") as resp:
            assert resp.status == 200
        assert int(uid) not in demo.guild.model.members

        fault = {"kind": "error", "route": "GET /users/@me", "count": 1, "status": 502}
        async with http.post("/_emulator/faults", json=fault) as resp:
            assert (await resp.json())["routes"][0]["status"] == 502
        auth = {"Authorization": f"Bot {emu.bot_token}"}
        async with http.get("/api/v10/users/@me", headers=auth) as resp:
            assert resp.status == 502
        async with http.get("/api/v10/users/@me", headers=auth) as resp:
            assert resp.status == 200
        async with http.get("/_emulator/requests") as resp:
            summary = await resp.json()
        assert summary["routes"]["GET /users/@me"]["count"] == 2
        async with http.post(
            "/_emulator/interactions/click",
            json={"user_id": "1", "message_id": "2", "custom_id": "x"},
        ) as resp:
            assert resp.status == 400
            assert "unknown message" in (await resp.json())["error"]


def test_main_rejects_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
