"""``DiscordEmulator``: the in-process server that discord.py and Muster's REST client talk to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from deploy.emulator import control, routes
from deploy.emulator.api import Api
from deploy.emulator.faults import Faults
from deploy.emulator.gateway import Gateway
from deploy.emulator.inspection import Inspector
from deploy.emulator.interactions import InteractionFactory
from deploy.emulator.messages import Messages
from deploy.emulator.oauth2 import OAuth2
from deploy.emulator.people import People
from deploy.emulator.ratelimit import RateLimiter, RateLimits
from deploy.emulator.requestlog import RequestLog
from deploy.emulator.responses import Responses
from deploy.emulator.world import Event, World

GUILDS_PER_SHARD = 1000  # Discord's own rule of thumb; it requires sharding past 2,500 guilds


class DiscordEmulator:
    """Discord's REST API v10, Gateway and OAuth2 on one aiohttp server.

    Use as ``async with DiscordEmulator() as emu:``; then point clients at ``emu.api_base``
    (discord.py: see ``deploy.emulator.discordpy.point_discord_py_at``) with ``emu.bot_token``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        app_name: str = "Muster",
        rate_limits: RateLimits | None = None,
        heartbeat_ms: int = 41_250,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 900.0,
        privileged_intents: int | None = None,
        recommended_shards: int | None = None,
    ) -> None:
        self.host = host
        self.recommended_shards = recommended_shards  # None: one per GUILDS_PER_SHARD guilds
        self.port = port
        self.world = World(app_name=app_name)
        if privileged_intents is not None:
            self.world.application.privileged_intents = privileged_intents
        self.faults = Faults()
        self.limiter = RateLimiter(rate_limits or RateLimits())
        self.requests = RequestLog()
        self.messages = Messages(self.world)
        self.interactions = InteractionFactory(self.world, retention=token_lifetime + 60)
        self.responses = Responses(
            self.world,
            self.messages,
            self.interactions.by_token,
            deadline=interaction_deadline,
            token_lifetime=token_lifetime,
        )
        self.oauth = OAuth2(self.world)
        self.gateway = Gateway(self.world, self.faults, lambda: self.gateway_url, heartbeat_ms)
        self.faults.gateway = self.gateway
        self.inspect = Inspector(self.world, interaction_deadline)
        self.people = People(self)
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # -- addresses ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the server (``http://127.0.0.1:PORT``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``MUSTER_DISCORD_API_BASE`` / discord.py's ``Route.BASE`` should be."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def sandbox_url(self) -> str:
        return f"{self.url}/sandbox"

    def shard_count(self) -> int:
        """What ``GET /gateway/bot`` recommends: ``recommended_shards`` if set, else one shard
        per :data:`GUILDS_PER_SHARD` guilds (at least one)."""
        if self.recommended_shards is not None:
            return self.recommended_shards
        return max(1, -(-len(self.world.guilds) // GUILDS_PER_SHARD))

    @property
    def bot_token(self) -> str:
        return self.world.bot_token

    @property
    def application_id(self) -> int:
        return self.world.application.id

    # -- inspection shortcuts -------------------------------------------------------------
    def channel_messages(self, channel: Any, *, as_user: int | None = None) -> list[dict[str, Any]]:
        """Current messages of a channel (model, payload or id), oldest first."""
        cid = (
            int(channel["id"])
            if isinstance(channel, dict)
            else int(getattr(channel, "id", channel))
        )
        return self.inspect.messages(cid, as_user=as_user)

    async def until(self, predicate: Callable[[], Any], within: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on each world change and every 20 ms).

        Raises TimeoutError if it is still false after ``within`` seconds; returns its value.
        """
        changed = asyncio.Event()

        def listener(event: Event) -> None:
            changed.set()

        self.world.listeners.append(listener)
        try:
            async with asyncio.timeout(within):
                while not (result := predicate()):
                    changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), 0.02)
                return result
        finally:
            self.world.listeners.remove(listener)

    # -- lifecycle ------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=25 * 1024 * 1024)
        api = Api(app, self)
        routes.setup(api, self)
        self.oauth.setup(api)
        app.router.add_get("/gateway", self.gateway.handle)
        self.control = control.setup(app, self)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        self._closing.set()
        self.control.close()
        self.gateway.drop_connections(code=1001)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
