"""``create_app``: the FastAPI application (JSON API, pages, live updates, feeds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.limits import BodyLimit
from api.live import LiveHub
from api.services import Web

DESCRIPTION = """Muster's JSON API. Log in at `/auth/login` (Discord OAuth2); the session cookie
authenticates requests, and every state-changing request carries `X-CSRF-Token` (from
`/auth/me`). Writes accept `Idempotency-Key`. Every 4xx has one shape:
`{"error": {"code", "message", "field", "fix"}}`."""


def create_app(web: Web, *, live: bool = True) -> FastAPI:
    """The web application over ``web``'s ports; ``live`` follows the log for SSE."""
    from api import pages, pages_more, streams
    from api.routers import analytics, auth, feeds, games, guilds, reminders, status

    hub = LiveHub(web)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if live:
            await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(
        title="Muster",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    app.state.web = web
    app.state.hub = hub
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    for module in (auth, games, guilds, analytics, reminders, feeds, status):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.include_router(pages_more.router)
    app.include_router(streams.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    @app.get("/api/v1/ping", tags=["status"], summary="Trivial endpoint (benchmark baseline)")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return app
