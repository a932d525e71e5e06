"""Calendar feeds (iCalendar): per guild and per user, behind a secret, revocable URL.

A feed URL holds a random token mapped in Redis to (user, guild or none); revoking issues a new
token and forgets the old one. Fetching a feed checks membership again, so a user who left a
server gets 404 from its feed, as everywhere.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from icalendar import Calendar, Event

from api import models
from api.access import member_or_404, shared_guilds
from api.errors import not_found
from api.routers import ERRORS
from api.services import Web
from api.sessions import Session, SessionDep, WebDep
from projections import queries

router = APIRouter(tags=["feeds"], responses=ERRORS)
Scope = Annotated[str, Query(pattern=r"^(me|\d{1,20})$", description="'me' or a guild id")]


def _feed_key(token: str) -> str:
    return f"muster:web:feed:{token}"


def _owner_key(user_id: str, scope: str) -> str:
    return f"muster:web:feed_of:{user_id}:{scope}"


async def feed_url(web: Web, session: Session, scope: str, *, renew: bool = False) -> str:
    """The user's feed URL for ``scope`` (``me`` or a guild id); ``renew`` revokes the old."""
    owner = _owner_key(session.user_id, scope)
    raw = await web.redis.get(owner)
    token = raw.decode() if isinstance(raw, bytes) else (raw or "")
    if renew and token:
        await web.redis.delete(_feed_key(token))
        token = ""
    if not token:
        token = secrets.token_urlsafe(24)
        await web.redis.set(
            _feed_key(token), msgspec.json.encode({"user_id": session.user_id, "scope": scope})
        )
        await web.redis.set(owner, token)
    return f"{web.config.public_url.rstrip('/')}/feeds/{token}.ics"


@router.get("/api/v1/feeds", response_model=models.FeedUrl, summary="Calendar feed URL")
async def get_feed(scope: Scope, web: WebDep, session: SessionDep) -> Any:
    """Your secret iCalendar URL for your games (``me``) or one server's games."""
    if scope != "me":
        await member_or_404(web, scope, session.user_id)
    return models.FeedUrl(url=await feed_url(web, session, scope))


@router.post("/api/v1/feeds/revoke", response_model=models.FeedUrl, summary="Revoke feed URL")
async def revoke_feed(scope: Scope, web: WebDep, session: SessionDep) -> Any:
    """Stop the old URL working and get a new one."""
    if scope != "me":
        await member_or_404(web, scope, session.user_id)
    return models.FeedUrl(url=await feed_url(web, session, scope, renew=True))


def calendar(name: str, games: list[queries.GameSummary], public_url: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Muster//Game sessions//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for game in games:
        event = Event()
        event.add("uid", f"{game.game_id}@muster")
        event.add("summary", game.title)
        event.add("dtstart", game.scheduled_at)
        event.add("dtend", game.scheduled_at + timedelta(hours=2))
        event.add("dtstamp", datetime.now(UTC))
        event.add("status", "CANCELLED" if game.status == "cancelled" else "CONFIRMED")
        event.add("url", f"{public_url.rstrip('/')}/games/{game.game_id}")
        event.add("description", f"{game.joined_count}/{game.max_players} players")
        cal.add_component(event)
    body: bytes = cal.to_ical()
    return body


@router.get("/feeds/{token}.ics", summary="iCalendar feed", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})  # fmt: skip
async def feed(token: Annotated[str, Path(max_length=64)], web: WebDep) -> Response:
    stored = await web.redis.get(_feed_key(token))
    if stored is None:
        raise not_found("feed")
    owner = msgspec.json.decode(stored)
    user_id, scope = owner["user_id"], owner["scope"]
    now = datetime.now(UTC)
    async with web.pool.connection() as conn:
        if scope == "me":
            mine = await queries.games_of_user(conn, user_id)
            seen: dict[str, queries.GameSummary] = {}
            for games in mine.values():
                seen.update({g.game_id: g for g in games})
            guild_ok = {g.guild_id for g in seen.values()}
            allowed = {g for g in guild_ok if await _member(web, g, user_id)}
            games = [g for g in seen.values() if g.guild_id in allowed]
            name = "My Muster games"
        else:
            if not await _member(web, scope, user_id):
                raise not_found("feed")
            games = await queries.games_in_guild(conn, scope, now - timedelta(days=30),
                                                 now + timedelta(days=365))  # fmt: skip
            guild = await web.discord.guild(scope) or {}
            name = f"{guild.get('name', 'Server')} games"
    body = calendar(name, sorted(games, key=lambda g: g.scheduled_at), web.config.public_url)
    return Response(body, media_type="text/calendar; charset=utf-8")


async def _member(web: Web, guild_id: str, user_id: str) -> bool:
    from api.access import membership

    return await membership(web, guild_id, user_id) is not None


__all__ = ["feed_url", "shared_guilds"]
