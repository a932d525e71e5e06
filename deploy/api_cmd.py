"""``muster api``: the web and JSON API (also one of ``muster up``'s services)."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

from deploy.bootstrap import Container
from deploy.settings import Settings
from deploy.supervise import stop_on_signals


class PortTaken(RuntimeError):
    """The web's port is in use; the message says what to change."""


def public_url(settings: Settings, port: int) -> str:
    return settings.public_url or f"http://{settings.web_host}:{port}"


def listen(settings: Settings) -> socket.socket:
    """Bind the web's port now, so a taken port is reported clearly (not by uvicorn exiting)."""
    sock = socket.socket(socket.AF_INET6 if ":" in settings.web_host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without, a keep-alive response written in two parts
    # waits for the client's delayed ACK (~40 ms per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((settings.web_host, settings.web_port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortTaken(
                f"port {settings.web_port} on {settings.web_host} is already taken (another "
                "Muster, or another program); stop it or set MUSTER_WEB_PORT to a free port"
            ) from error
        raise PortTaken(
            f"cannot listen on {settings.web_host}:{settings.web_port}: {error}"
        ) from error
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def build_web(container: Container, port: int) -> Any:
    """The web's ports from the composition root."""
    from api.config import WebConfig, session_secret
    from api.nearby import NearbyReads
    from api.oauth import DiscordOAuth
    from api.services import Web
    from projections.names import DisplayNames

    settings = container.settings
    rest = await container.discord_rest()
    secret = (settings.session_secret.get_secret_value() if settings.session_secret
              else session_secret(settings.data_dir))  # fmt: skip
    config = WebConfig(
        public_url=public_url(settings, port),
        discord_api_base=settings.discord_api_base,
        client_id=settings.discord_client_id or "",
        client_secret=(
            settings.discord_client_secret.get_secret_value()
            if settings.discord_client_secret
            else ""
        ),
        session_secret=secret,
        session_seconds=settings.session_days * 86400,
    )
    oauth = DiscordOAuth(config)
    container._stack.push_async_callback(oauth.aclose)
    return Web(
        config=config, commands=container.commands, pool=await container.read_pool(),
        redis=container.redis, nc=await container.nats(), discord=NearbyReads(rest.reads),
        oauth=oauth,
        layout=container.layout, names=DisplayNames(container.redis, source=rest),
        extras={"ops_stream": settings.discord_ops_stream},
    )  # fmt: skip


async def serve_web(container: Container, stop: asyncio.Event, sock: socket.socket | None = None,
                    *, announce: bool = True) -> None:  # fmt: skip
    """Serve the web until ``stop`` is set, reporting health as ``api``."""
    import uvicorn

    from api import create_app
    from gateways.health import HealthReporter
    from gateways.postgres import migrate
    from projections.replay import MIGRATIONS

    sock = sock or listen(container.settings)
    port = sock.getsockname()[1]
    await migrate(container.database_url, container.settings.database_schema, MIGRATIONS)
    web = await build_web(container, port)
    app = create_app(web)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    health = HealthReporter(web.nc, "api", lambda: {"live_viewers": app.state.hub.viewers})
    if announce:
        print(f"  web             {web.config.public_url}/  (log in with Discord; "
              f"API docs {web.config.public_url}/api/docs)", flush=True)  # fmt: skip

    async def stopper() -> None:
        await stop.wait()
        app.state.hub.close_streams()  # endless SSE responses would hold the shutdown
        server.should_exit = True

    if not web.config.client_id or not web.config.client_secret:
        print("  web             login disabled: set MUSTER_DISCORD_CLIENT_ID and "
              "MUSTER_DISCORD_CLIENT_SECRET", flush=True)  # fmt: skip
    health.state = "running"
    async with asyncio.TaskGroup() as group:
        group.create_task(stopper())
        group.create_task(health.run(stop))
        await server.serve(sockets=[sock])
        stop.set()


def emulated(settings: Settings, emulator: Any) -> Settings:
    """Settings pointing the Discord client and web login at an in-process emulator."""
    from pydantic import SecretStr

    return settings.model_copy(update={
        "discord_token": SecretStr(emulator.bot_token),
        "discord_api_base": emulator.api_base,
        "discord_client_id": str(emulator.application_id),
        "discord_client_secret": SecretStr(emulator.world.application.client_secret),
    })  # fmt: skip


def main(settings: Settings) -> int:
    """``muster api`` with the servers from the settings (or a running ``muster up``)."""
    from deploy.endpoints import resolve_urls

    if not settings.discord_token or not settings.discord_client_id:
        print(
            "muster api: set MUSTER_DISCORD_TOKEN, MUSTER_DISCORD_CLIENT_ID and "
            "MUSTER_DISCORD_CLIENT_SECRET (or run `muster up`, which uses the emulator)"
        )
        return 1
    urls = resolve_urls(settings)
    sock = listen(settings)

    async def run() -> None:
        stop = stop_on_signals()
        async with Container.open(settings, urls) as container:
            await serve_web(container, stop, sock)

    asyncio.run(run())
    return 0
