"""The whole web stack on free ports, in a thread of its own: emulator (demo guild), command
port on a fresh log, projectors into a fresh schema, and the web served by uvicorn.

Tests drive it over HTTP (httpx, schemathesis, Playwright); ``call`` runs a coroutine on the
stack's loop (e.g. to script the emulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from deploy.api_cmd import emulated, listen, serve_web
from deploy.bootstrap import Container
from deploy.emulator.sandbox import Demo, populate_demo
from deploy.emulator.server import DiscordEmulator
from deploy.projector_cmd import projector_services
from deploy.settings import Settings
from deploy.supervise import Service, supervise


class WebStack:
    def __init__(
        self, urls: dict[str, str], env: dict[str, str], schema: str, data: Path, *,
        bot: bool = False,
    ) -> None:  # fmt: skip
        self.bot = bot
        self.settings = Settings(
            bot_health_interval=0.2,
            events_stream=env["MUSTER_EVENTS_STREAM"],
            events_subject_prefix=env["MUSTER_EVENTS_SUBJECT_PREFIX"],
            database_schema=schema, data_dir=data, web_port=0, nats_url=urls["nats"],
            database_url=urls["postgres"], redis_url=urls["redis"],
        )  # fmt: skip
        self.urls = urls
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.stop_event: asyncio.Event | None = None
        self.emu: DiscordEmulator
        self.demo: Demo
        self.url = ""
        self.container: Container
        self.clients: list[httpx.Client] = []
        self._thread = threading.Thread(target=self._run, name="web-stack", daemon=True)

    def __enter__(self) -> WebStack:
        self._thread.start()
        if not self.ready.wait(60) or self.error:
            raise RuntimeError(f"web stack did not start: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as error:
            self.error = error
            self.ready.set()
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self.stop_event = stop = asyncio.Event()
        sock = listen(self.settings)
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        async with DiscordEmulator("127.0.0.1", 0) as emu:
            self.emu = emu
            self.demo = populate_demo(emu)
            settings = emulated(self.settings, emu)
            async with Container.open(settings, self.urls) as container:
                self.container = container
                services = projector_services(container)
                if self.bot:
                    from deploy.bot_cmd import bot_services

                    services += bot_services(container)
                services.append(
                    Service("web", lambda s: serve_web(container, s, sock, announce=False), False)
                )
                task = asyncio.ensure_future(supervise(services, stop))
                await self._until_up()
                if self.bot:
                    await self._until_bot_ready()
                self.ready.set()
                await task

    async def _until_up(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/api/v1/ping")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError("the web did not answer")

    def close_clients(self) -> None:
        while self.clients:
            self.clients.pop().close()

    async def _until_bot_ready(self) -> None:
        from gateways.health import read_health

        nc = await self.container.nats()
        for _ in range(600):
            bot = (await read_health(nc)).get("bot")
            if bot is not None and bot.figures.get("ready"):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the bot did not become ready")

    async def announcement(self, game_id: str, timeout: float = 20) -> int:
        """The id of the game's announcement in #games, once Muster's Discord projection
        (``projections/discord``) has posted it with its Join button."""
        join = f"muster:join:{game_id}"
        async with asyncio.timeout(timeout):
            while True:
                for message in list(self.demo.games.messages.values()):
                    ids = [c.get("custom_id") for row in message.components
                           for c in row.get("components", [])]  # fmt: skip
                    if join in ids:
                        return int(message.id)
                await asyncio.sleep(0.05)

    def click_join(self, who: str, game_id: str) -> None:
        """``who`` clicks Join on the game's announcement in the emulated Discord."""

        async def click() -> None:
            message = await self.announcement(game_id)
            interaction = await self.demo.people[who].click(message, f"muster:join:{game_id}")
            assert interaction.response_type is not None, "the bot did not answer the click"

        self.call(click())

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        """Run ``coro`` on the stack's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # -- people -------------------------------------------------------------------------
    @property
    def guild_id(self) -> str:
        return str(self.demo.guild.id)

    @property
    def channel_id(self) -> str:
        return str(self.demo.games.id)

    def user_id(self, name: str) -> str:
        return str(self.demo.people[name].id)

    def login(self, name: str) -> httpx.Client:
        """An HTTP client logged in as a demo member (through the emulated OAuth2 page)."""
        client = httpx.Client(base_url=self.url, timeout=30)
        self.clients.append(client)
        start = client.get("/auth/login")
        assert start.status_code == 307, start.text
        authorize = start.headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        answer = httpx.post(
            authorize.split("?")[0],
            data={**query, "user_id": self.user_id(name), "decision": "authorize"},
        )
        assert answer.status_code == 302, answer.text
        done = client.get(answer.headers["location"])
        assert done.status_code == 303, done.text
        me = client.get("/auth/me").json()
        client.headers["X-CSRF-Token"] = me["csrf_token"]
        return client


def game_id_from(url: str) -> str:
    found = re.search(r"/games/([0-9a-f-]{36})", url)
    assert found, url
    return found.group(1)
