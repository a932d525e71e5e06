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
    return Layout(
        stream=settings.events_stream,
        prefix=settings.events_subject_prefix,
        replicas=settings.events_replicas,
    )


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
    copies = f", {factory.layout.replicas} replicas" if factory.layout.replicas > 1 else ""
    return f"stream {factory.layout.stream}: {last or 0} events{copies}"


async def discard(client: NATS) -> None:
    """Release a connection that failed to open (its socket stays open otherwise)."""
    import contextlib

    import nats.errors

    with contextlib.suppress(nats.errors.Error, OSError):
        await client.close()
    transport = getattr(client, "_transport", None)
    if transport is not None:
        transport.close()


def describe_error(error: BaseException) -> str:
    """An exception in one short phrase (its type when it has no message)."""
    text = str(error).strip()
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return text or type(error).__name__


class ServerUnreachable(RuntimeError):
    """A server did not accept a connection within its timeout (the message says which)."""


class Container:
    """Every adapter of one process, built from ``settings`` and the servers' ``urls``
    (keys ``nats``, ``postgres``, ``redis``) on first use.

    Connecting to NATS gives up after ``MUSTER_NATS_TIMEOUT`` with :class:`ServerUnreachable`
    (one clear message, not a traceback per try). Once connected, a long-running process's
    connection reconnects for as long as it runs; a ``one_shot`` tool's (``muster audit``,
    ``replay``...) never reconnects, so the tool ends instead of hanging.
    """

    def __init__(
        self,
        settings: Settings,
        urls: dict[str, str],
        stack: AsyncExitStack,
        *,
        one_shot: bool = False,
    ) -> None:
        self.settings, self.urls = settings, urls
        self.one_shot = one_shot
        self._stack = stack
        self._nats: NATS | None = None
        self._rest: DiscordRest | None = None
        self._outbound: Outbound | None = None
        self._read_pool: AsyncConnectionPool[Any] | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, urls: dict[str, str], *, one_shot: bool = False
    ) -> AsyncIterator[Container]:
        """A container whose parts are closed when the block ends."""
        async with AsyncExitStack() as stack:
            yield cls(settings, urls, stack, one_shot=one_shot)

    @cached_property
    def layout(self) -> Layout:
        return layout_of(self.settings)

    @property
    def database_url(self) -> str:
        return self.urls["postgres"]

    async def nats(self) -> NATS:
        """This process's NATS connection: the first connect fails after ``MUSTER_NATS_TIMEOUT``
        with :class:`ServerUnreachable`; then it reconnects for as long as the process runs
        (a ``one_shot`` tool's fails at once instead)."""
        if self._nats is None:
            nc = await self._connect_nats()
            self._stack.push_async_callback(nc.close)
            self._nats = nc
        return self._nats

    def _servers(self) -> list[str]:
        return [u.strip() for u in self.urls["nats"].split(",") if u.strip()]

    async def _connect_nats(self) -> NATS:
        """Connect within ``MUSTER_NATS_TIMEOUT`` or raise :class:`ServerUnreachable`; then
        (services only) reconnect forever, logging one line per event, not a traceback."""
        import asyncio

        import nats

        from deploy.redact import masked
        from gateways.jetstream.headers import Client as NATSClient  # faster header parsing

        failures: list[Exception] = []
        connected = False
        told = False  # the current outage's first error is logged, not every retry's

        async def on_error(error: Exception) -> None:
            nonlocal told
            if not connected:  # quiet while connecting: one message at the end, not one per try
                failures.append(error)
            elif not told:
                told = True
                log.warning("NATS: %s", describe_error(error))

        async def on_disconnected() -> None:
            if connected and not self.one_shot and not nc.is_closed:
                log.warning("NATS connection lost; reconnecting")

        async def on_reconnected() -> None:
            nonlocal told
            told = False
            log.warning("NATS reconnected")

        timeout = self.settings.nats_timeout
        nc = NATSClient()
        try:
            await asyncio.wait_for(
                nc.connect(
                    self._servers(),
                    connect_timeout=max(1, round(timeout)),
                    allow_reconnect=not self.one_shot,
                    max_reconnect_attempts=1 if self.one_shot else -1,
                    reconnect_time_wait=0.2 if self.one_shot else 1,
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    reconnected_cb=on_reconnected,
                ),
                timeout,
            )
        except (TimeoutError, OSError, nats.errors.Error) as error:
            await discard(nc)
            refused = [e for e in [*failures, error] if "Authorization" in str(e)]
            cause = refused[0] if refused else failures[-1] if failures else error
            hint = (
                "Check the user and password in MUSTER_NATS_URL"
                if refused
                else "Is the server (or `muster up`) running?"
            )
            raise ServerUnreachable(
                f"cannot reach NATS at {masked(self.urls['nats'])} within {timeout:g}s "
                f"(MUSTER_NATS_TIMEOUT): {describe_error(cause)}. {hint} "
                "`muster doctor` checks every dependency."
            ) from error
        connected = True
        return nc

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
        """The port entry points send commands through: in this process (a bounded thread
        pool) or, with ``MUSTER_COMMANDS=nats``, request-reply to ``muster commands`` workers."""
        if self.settings.commands == "local":
            return self.local_commands
        from gateways.command_service import NatsCommands

        port = NatsCommands(
            self.nats,
            prefix=self.settings.command_subject,
            workers=self.settings.command_workers,
            timeout=self.settings.command_timeout,
        )
        self._stack.push_async_callback(port.aclose)
        return port

    @cached_property
    def local_commands(self) -> CommandPort:
        """The in-process port (what a command worker serves; entry points use :attr:`commands`)."""
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

    @property
    def database_read_url(self) -> str:
        """Where queries go: the replica (``MUSTER_DATABASE_READ_URL``) or the primary."""
        return self.settings.database_read_url or self.database_url

    async def read_pool(self, max_size: int = 10) -> AsyncConnectionPool[Any]:
        """A pool of connections to the read models (their schema first on the search path),
        on the replica when ``MUSTER_DATABASE_READ_URL`` is set. Read-your-writes holds there
        too: waiting for a position reads the projector's position as the replica has it."""
        if self._read_pool is None:
            from psycopg_pool import AsyncConnectionPool

            from gateways.postgres import checked_schema

            schema = checked_schema(self.settings.database_schema)
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                self.database_read_url,
                min_size=1,
                max_size=max_size,
                kwargs={"options": f"-c search_path={schema},public", "autocommit": True},
                open=False,
            )
            await pool.open(wait=True, timeout=self.settings.nats_timeout * 2)
            self._stack.push_async_callback(pool.close)
            self._read_pool = pool
        return self._read_pool
