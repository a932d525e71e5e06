"""The sandbox page in a real headless Chromium, driven over the DevTools protocol."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from deploy.emulator import DiscordEmulator
from deploy.emulator.sandbox import Demo
from tests.e2e.emulator.bots import EchoBot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)"),
]


class Page:
    """Just enough of the Chrome DevTools Protocol: navigate and evaluate JavaScript."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json()
            if msg.get("id") == call_id:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg["result"]  # type: ignore[no-any-return]

    async def js(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        return result["result"].get("value")

    async def wait_for(self, expression: str, within: float = 10.0) -> Any:
        async with asyncio.timeout(within):
            # The page lives in another process: polling it is the only way to observe it.
            while not (value := await self.js(expression)):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            return value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    port = _free_port()
    # Chromium's helpers may still write to the profile while it exits.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = await asyncio.create_subprocess_exec(
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as http:
                targets: list[dict[str, Any]] = []
                async with asyncio.timeout(20):
                    while not targets:
                        with contextlib.suppress(aiohttp.ClientError):
                            async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                                targets = [t for t in await resp.json() if t["type"] == "page"]
                        await asyncio.sleep(0.1)
                async with http.ws_connect(
                    targets[0]["webSocketDebuggerUrl"], max_msg_size=0
                ) as ws:
                    yield Page(ws)
        finally:
            proc.terminate()
            await proc.wait()


async def test_clicking_join_in_the_browser_reaches_the_bot(
    sandbox: tuple[DiscordEmulator, Demo], page: Page
) -> None:
    emu, demo = sandbox
    bot = EchoBot(demo.games.id)
    async with bot:
        await bot.login(emu.bot_token)
        runner = asyncio.create_task(bot.connect())
        await emu.until(lambda: emu.channel_messages(demo.games))
        await page.call("Page.navigate", url=emu.sandbox_url)
        await page.wait_for("!!document.querySelector('button.c[data-cid=\"echo:join\"]')")
        assert await page.js("document.querySelector('#title').textContent") == "# games"
        picker = await page.js("[...document.querySelectorAll('#who option')].map(o => o.text)")
        assert "Chen (@chen.wei)" in picker
        assert "Ali the Bold (@alice)" in picker

        chen = demo.people["chen"]
        await page.js(f"document.querySelector('#who').value = '{chen.id}'")
        await page.js("document.querySelector('button.c[data-cid=\"echo:join\"]').click()")
        text = await page.wait_for(
            "document.querySelector('#log').innerText.includes('Chen joined!')"
            " && document.querySelector('#log').innerText"
        )
        assert "Board games tonight" in text
        [it] = emu.world.interactions.values()
        assert it.user_id == chen.id
        assert it.response_type == 4
        await bot.close()
        await runner
