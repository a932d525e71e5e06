"""The composition root: every adapter Muster's processes use is built here, from the settings.

``muster up``, ``muster projector``, ``muster worker`` (and the bot, the API and the scheduler)
open one :class:`Container` and take what they need from it; nothing else constructs a NATS
connection, a Redis client, the command-side application or the Discord REST client, and
nothing reaches for a singleton. Each part is built on first use and closed, newest first,
when the container closes.

    async with Container.open(settings, urls) as container:
        outcome = await container.commands.send(command)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from deploy.settings import Settings, log_env
from domain.ports import CommandPort
from gateways.jetstream.layout import Layout

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from psycopg_pool import AsyncConnectionPool
    from redis.asyncio import Redis

    from domain.app import MusterApp
    from gateways.discord import DiscordConfig, DiscordRest, Outbound

log = logging.getLogger("muster.bootstrap")


def layout_of(settings: Settings) -> Layout:
    """Where the log is: the stream and its subject prefix."""
    return Layout(stream=settings.events_stream, prefix=settings.events_subject_prefix)


def discord_config(settings: Settings, **overrides: Any) -> DiscordConfig:
    """The Discord REST client's configuration from the settings (``overrides`` win)."""
    from gateways.discord import DiscordConfig, Freshness, Kind

    token = settings.discord_token.get_secret_value() if settings.discord_token else ""
    config = DiscordConfig(
        token=token,
        api_base=settings.discord_api_base,
        outbound=settings.discord_outbound,
        global_per_second=settings.discord_global_per_second,
        ack_wait=settings.discord_ack_wait,
        max_attempts=settings.discord_max_attempts,
        reply_timeout=settings.discord_reply_timeout,
        ops_stream=settings.discord_ops_stream,
    )
    if settings.discord_cache_ttls:
        table = dict(config.ttls)
        for kind, (fresh, stale) in settings.discord_cache_ttls.items():
            table[Kind(kind)] = Freshness(float(fresh), float(stale))
        config = dataclasses.replace(config, ttls=table)
    changes = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(config, **changes)


def ensure_event_log(settings: Settings, nats_url: str) -> str:
    """Create (or validate) the EVENTS stream; returns a one-line description."""
    from gateways.jetstream import Factory

    factory = Factory(log_env(settings, nats_url))
    try:
        recorder = factory.application_recorder()
        last = recorder.max_notification_id()
    finally:
        factory.close()
    return f"stream {factory.layout.stream}: {last or 0} events"


class NatsEvents:
    """One log line per connection event (nats-py's default logs a traceback per retry)."""

    def __init__(self) -> None:
        self.connected = True
        self.reported = False

    async def error(self, error: Exception) -> None:
        if self.connected or not self.reported:
            log.warning("NATS: %s: %s", type(error).__name__, error)
            self.reported = not self.connected

    async def disconnected(self) -> None:
        if self.connected:
            log.warning("NATS: disconnected; reconnecting")
        self.connected, self.reported = False, False

    async def reconnected(self) -> None:
        self.connected = True
        log.warning("NATS: reconnected")


class Container:
    """Every adapter of one process, built from ``settings`` and the servers' ``urls``
    (keys ``nats``, ``postgres``, ``redis``) on first use."""

    def __init__(self, settings: Settings, urls: dict[str, str], stack: AsyncExitStack) -> None:
        self.settings, self.urls = settings, urls
        self._stack = stack
        self._nats: NATS | None = None
        self._rest: DiscordRest | None = None
        self._outbound: Outbound | None = None
        self._read_pool: AsyncConnectionPool[Any] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, urls: dict[str, str]) -> AsyncIterator[Container]:
        """A container whose parts are closed when the block ends."""
        async with AsyncExitStack() as stack:
            yield cls(settings, urls, stack)

    @cached_property
    def layout(self) -> Layout:
        return layout_of(self.settings)

    @property
    def database_url(self) -> str:
        return self.urls["postgres"]

    async def nats(self) -> NATS:
        """This process's NATS connection (reconnects for as long as the process runs)."""
        if self._nats is None:
            import nats

            events = NatsEvents()
            nc = await nats.connect(
                [u.strip() for u in self.urls["nats"].split(",")],
                connect_timeout=max(1, round(self.settings.nats_timeout)),
                max_reconnect_attempts=-1,
                error_cb=events.error,
                disconnected_cb=events.disconnected,
                reconnected_cb=events.reconnected,
            )
            self._stack.push_async_callback(nc.close)
            self._nats = nc
        return self._nats

    @cached_property
    def redis(self) -> Redis:
        """This process's Redis client (a connection pool)."""
        from redis.asyncio import BlockingConnectionPool, Redis

        # Blocking: past 256 connections a caller waits for one (up to 10 s) instead of failing
        # at once with "Too many connections" (redis-py's default pool holds only 100).
        pool = BlockingConnectionPool.from_url(self.urls["redis"], max_connections=256, timeout=10)
        client = Redis.from_pool(pool)  # closing the client closes its pool
        self._stack.push_async_callback(client.aclose)
        return client

    @cached_property
    def app(self) -> MusterApp:
        """The command side on the log (JetStream); entry points use :attr:`commands`."""
        from domain.app import MusterApp

        app = MusterApp(env=log_env(self.settings, self.urls["nats"]))
        self._stack.callback(app.close)
        return app

    @cached_property
    def commands(self) -> CommandPort:
        """The port entry points send commands through (in-process: a bounded thread pool)."""
        from gateways.commands import InProcessCommands

        port = InProcessCommands(self.app, max_workers=self.settings.command_threads)
        self._stack.push_async_callback(port.aclose)
        return port

    async def discord_rest(self, **overrides: Any) -> DiscordRest:
        """The one Discord REST client of this process (cached reads, rate limits)."""
        if self._rest is None:
            from gateways.discord import DiscordRest

            config = discord_config(self.settings, **overrides)
            rest = DiscordRest(config, self.redis, await self.nats())
            await rest.start()
            self._stack.push_async_callback(rest.close)
            self._rest = rest
        return self._rest

    async def outbound(self) -> Outbound:
        """Outbound Discord operations in the configured mode (direct, in_process, external)."""
        if self._outbound is None:
            from gateways.discord import open_outbound

            outbound = await open_outbound(await self.discord_rest(), await self.nats())
            self._stack.push_async_callback(outbound.close)
            self._outbound = outbound
        return self._outbound

    async def read_pool(self, max_size: int = 10) -> AsyncConnectionPool[Any]:
        """A pool of connections to the read models (their schema first on the search path)."""
        if self._read_pool is None:
            from psycopg_pool import AsyncConnectionPool

            from gateways.postgres import checked_schema

            schema = checked_schema(self.settings.database_schema)
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                self.database_url,
                min_size=1,
                max_size=max_size,
                kwargs={"options": f"-c search_path={schema},public", "autocommit": True},
                open=False,
            )
            await pool.open(wait=True, timeout=self.settings.nats_timeout * 2)
            self._stack.push_async_callback(pool.close)
            self._read_pool = pool
        return self._read_pool
