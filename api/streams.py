"""Live updates of pages: server-sent events fed by :class:`~api.live.LiveHub` (from the log).

Each stream first sends ``ready`` (the page knows it is subscribed), then one fragment per change,
rendered once for every viewer of the same topic. Stopping the web ends every stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse

from api.access import member_or_404
from api.live import LiveHub
from api.pages import guild_games, user
from api.render import fragment
from api.sessions import MaybeSession, WebDep
from api.views import cached_game, game_or_404

router = APIRouter(include_in_schema=False)


def hub_of(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


def updates(hub: LiveHub, topic: str, event: str, render: Callable[[], Awaitable[str]]) -> Response:
    """The SSE response: ``ready``, then ``render()`` as ``event`` at each change of ``topic``
    (rendered once per change for all its viewers)."""

    async def stream() -> Any:
        async with hub.listen(topic) as listener:
            yield {"event": "ready", "data": "listening"}
            while True:
                position = await listener.next()
                if position is None:
                    return
                html = await hub.render_once(topic, position, render)
                yield {"event": event, "data": html, "id": str(position)}

    return EventSourceResponse(stream(), ping=15)


@router.get("/live/games/{game_id}")
async def live_game(request: Request, game_id: str, web: WebDep,
                    session: MaybeSession) -> Response:  # fmt: skip
    """SSE: the game's roster fragment each time the game's events change it."""
    session = await user(request, session)
    game, _ = await game_or_404(web, game_id, session.user_id)
    hub = hub_of(request)
    topic = f"game:{game.game_id}"

    async def render() -> str:
        cached = await cached_game(web, game.game_id)  # shared by all viewers: no per-user check
        if cached is None:
            raise RuntimeError(f"game {game.game_id} vanished from the read models")
        return fragment("game.html", "roster", game=cached.view)

    return updates(hub, topic, "roster", render)


@router.get("/live/guilds/{guild_id}")
async def live_guild(request: Request, guild_id: str, web: WebDep,
                     session: MaybeSession) -> Response:  # fmt: skip
    """SSE: the guild's open games list whenever one of its games changes."""
    session = await user(request, session)
    await member_or_404(web, guild_id, session.user_id)
    hub = hub_of(request)
    topic = f"guild:{guild_id}"

    async def render() -> str:
        games = await guild_games(web, guild_id, "open", None, None)
        return fragment("guild.html", "games", games=games, guild_id=guild_id)

    return updates(hub, topic, "games", render)
