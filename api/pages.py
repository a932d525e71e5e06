"""Server-rendered pages (Jinja2 + HTMX) and their live updates (SSE)."""

from __future__ import annotations

import calendar as calmod
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api import models
from api.access import Membership, member_or_404, shared_guilds
from api.errors import ApiError
from api.history import game_as_of
from api.render import page
from api.routers.feeds import feed_url
from api.routers.games import _create_command
from api.routers.guilds import ALL_SETTINGS, settings_view, text_channels
from api.routers.status import gather_status
from api.services import Web
from api.sessions import MaybeSession, Session, WebDep, check_csrf
from api.views import game_or_404, sources, visible_game
from api.writes import command_id, send, told
from domain import commands
from domain.errors import DomainError
from projections import queries

router = APIRouter(include_in_schema=False)


def _number(text: str) -> int | None:
    """A whole number typed in a form: ASCII digits only ("²".isdigit() is true, int("²")
    fails) and at most 9 of them (int() refuses thousands); None otherwise."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def login_redirect(request: Request) -> RedirectResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/auth/login?next={path}", status_code=303)


async def user(request: Request, session: Session | None) -> Session:
    if session is None:
        raise ApiError(401, "not_logged_in", "Please log in with Discord to see this page.",
                       fix="Log in at /auth/login.")  # fmt: skip
    if request.method == "POST":
        await check_csrf(request, session)
    return session


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, web: WebDep, session: MaybeSession) -> Response:
    if session is None:
        return page(request, "home.html", guilds=[], mine={})
    guilds = await shared_guilds(web, session)
    async with web.pool.connection() as conn:
        mine = await queries.games_of_user(conn, session.user_id)
    allowed = {g["id"] for g in guilds}
    mine = {k: [g for g in v if g.guild_id in allowed] for k, v in mine.items()}
    return page(request, "home.html", guilds=guilds, mine=mine,
                feed=await feed_url(web, session, "me"))  # fmt: skip


@router.post("/logout")
async def logout_page(request: Request, web: WebDep, session: MaybeSession) -> Response:
    from api.routers.auth import logout

    await logout(request, web)
    return RedirectResponse("/", status_code=303)


async def guild_games(
    web: Web, guild_id: str, status: str, category: str | None, channel_id: str | None,
    since: datetime | None = None, until: datetime | None = None,
) -> list[queries.GameSummary]:  # fmt: skip
    statuses = {"open": ("scheduled", "in_progress"), "all": None}.get(status, (status,))
    where = queries.GameFilter(guild_ids=(guild_id,), statuses=statuses, category=category or None,
                               channel_id=channel_id or None, since=since, until=until)  # fmt: skip
    async with web.pool.connection() as conn:
        games, _ = await queries.games_page(conn, where, None, 200)
    return games


def month_grid(year: int, month: int, games: list[queries.GameSummary]) -> list[list[Any]]:
    by_day: dict[int, list[queries.GameSummary]] = {}
    for game in games:
        by_day.setdefault(game.scheduled_at.day, []).append(game)
    return [[(day, by_day.get(day, [])) for day in week]
            for week in calmod.Calendar().monthdayscalendar(year, month)]  # fmt: skip


@router.get("/guilds/{guild_id}", response_class=HTMLResponse)
async def guild_page(
    request: Request, guild_id: str, web: WebDep, session: MaybeSession,
    view: Annotated[str, Query(pattern="^(list|calendar)$")] = "list",
    status: Annotated[str, Query(pattern="^(open|all|scheduled|in_progress|completed|cancelled)$")]
    = "open",
    category: str | None = None, channel: str | None = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> Response:  # fmt: skip
    if session is None:
        return login_redirect(request)
    member = await member_or_404(web, guild_id, session.user_id)
    guild = await web.discord.guild(guild_id) or {"name": "Server"}
    channels = await text_channels(web, guild_id)
    grid: list[list[Any]] = []
    now = datetime.now(UTC)
    year, mon = (int(month[:4]), int(month[5:])) if month else (now.year, now.month)
    if not 1 <= mon <= 12:
        year, mon = now.year, now.month
    if view == "calendar":
        start = datetime(year, mon, 1, tzinfo=UTC)
        end = (start + timedelta(days=32)).replace(day=1)
        games = await guild_games(web, guild_id, "all", category, channel, start, end)
        grid = month_grid(year, mon, games)
    else:
        games = await guild_games(web, guild_id, status, category, channel)
    prev_m = (datetime(year, mon, 1) - timedelta(days=1)).strftime("%Y-%m")
    next_m = (datetime(year, mon, 28) + timedelta(days=5)).strftime("%Y-%m")
    return page(request, "guild.html", guild=guild, guild_id=guild_id, games=games,
                channels=channels, view=view, status=status, category=category or "",
                channel=channel or "", grid=grid, month=f"{year}-{mon:02d}", prev_month=prev_m,
                next_month=next_m, member=member,
                feed=await feed_url(web, session, guild_id))  # fmt: skip


async def create_context(web: Web, guild_id: str, channel_id: str | None) -> dict[str, Any]:
    channels = await text_channels(web, guild_id)
    channel_id = channel_id or (channels[0].id if channels else None)
    async with web.pool.connection() as conn:
        guild, channel = await queries.settings_of(conn, guild_id, channel_id)
    return {"channels": channels, "inherited": sources(None, channel, guild),
            "channel_id": channel_id}  # fmt: skip


@router.get("/guilds/{guild_id}/new", response_class=HTMLResponse)
async def new_game(
    request: Request, guild_id: str, web: WebDep, session: MaybeSession,
    channel: str | None = None, channel_id: str | None = None,
) -> Response:  # fmt: skip
    if session is None:
        return login_redirect(request)
    await member_or_404(web, guild_id, session.user_id)
    channel = channel or channel_id  # the channel picker sends channel_id
    guild = await web.discord.guild(guild_id) or {}
    context = await create_context(web, guild_id, channel)
    form = {"channel_id": context["channel_id"], "title": "", "scheduled_at": "",
            "players": "", "placeholders": "", "description": "", "max_players": "",
            "idempotency_key": f"form-{uuid.uuid4()}"}  # fmt: skip
    # the form's key: submitting it twice creates one game
    if request.headers.get("hx-request") and channel:
        return page(request, "create.html", block="inherited", **context)
    return page(request, "create.html", guild=guild, guild_id=guild_id, form=form, errors=[],
                bad=[], **context)  # fmt: skip


def _lines(text: str) -> list[str]:
    return [p.strip() for chunk in text.splitlines() for p in chunk.split(",") if p.strip()]


@router.post("/guilds/{guild_id}/new", response_class=HTMLResponse)
async def create_game_page(request: Request, guild_id: str, web: WebDep,
                           session: MaybeSession) -> Response:  # fmt: skip
    session = await user(request, session)
    await member_or_404(web, guild_id, session.user_id)
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items() if k != "csrf_token"}
    errors: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    try:
        body = models.GameCreate(
            guild_id=guild_id, channel_id=form.get("channel_id", ""),
            title=form.get("title", ""), scheduled_at=form.get("scheduled_at", ""),  # type: ignore[arg-type]
            description=form.get("description", ""),
            max_players=int(form["max_players"]) if form.get("max_players") else None,
            players=_lines(form.get("players", "")),
            placeholders=_lines(form.get("placeholders", "")),
        )  # fmt: skip
        command = await _create_command(web, session, body, form.get("idempotency_key") or None)
        result = await send(web, command)
        return RedirectResponse(f"/games/{result.game_id}", status_code=303)
    except ValidationError as error:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
                  for e in error.errors()]  # fmt: skip
    except ApiError as error:
        if error.code == "bad_mentions" and error.details:
            bad = error.details[0]["bad_mentions"]
        errors = [{"field": error.field or "", "reason": error.message}]
    except DomainError as error:
        errors = [{"field": "", "reason": error.message}]
    guild = await web.discord.guild(guild_id) or {}
    context = await create_context(web, guild_id, form.get("channel_id"))
    return page(request, "create.html", status_code=422, guild=guild, guild_id=guild_id,
                form=form, errors=errors, bad=bad, **context)  # fmt: skip


async def game_context(web: Web, game_id: str, session: Session) -> dict[str, Any]:
    cached, member = await visible_game(web, game_id, session.user_id)
    view = game = cached.view
    seated = {p.user_id for p in view.players + view.waitlist}
    host_ok = session.user_id == game.host_id or bool(member.permissions & 0x28)
    guild = await web.discord.guild(game.guild_id) or {}
    channel = await web.discord.channel(game.channel_id) or {}
    return {
        "game": view,
        "joined": session.user_id in seated,
        "can_host": host_ok,
        "guild": guild,
        "channel": channel,
        "mutes": await viewer_mutes(web, game.game_id, game.guild_id, session.user_id),
        "etag": cached.etag,
    }


async def viewer_mutes(web: Web, game_id: str, guild_id: str, user_id: str) -> tuple[bool, bool]:
    """:func:`mutes_of`, kept in memory while the game has no newer event (``MuteCache``)."""
    latest = web.games.latest.get(game_id, 0)  # before the read: a newer event invalidates it
    found = web.mutes.get(user_id, game_id, guild_id, latest)
    if found is None:
        found = await mutes_of(web, game_id, guild_id, user_id)
        web.mutes.put(user_id, game_id, guild_id, latest, found)
    return found


_MUTES = """
SELECT DISTINCT ON (aggregate_id) aggregate_id, type LIKE '%%.reminders_muted.%%'
FROM timeline
WHERE aggregate_id = ANY(%(ids)s) AND body->>'user_id' = %(user)s
  AND type IN ('game.reminders_muted.v1', 'game.reminders_unmuted.v1',
               'guild.reminders_muted.v1', 'guild.reminders_unmuted.v1')
ORDER BY aggregate_id, position DESC
"""


async def mutes_of(web: Web, game_id: str, guild_id: str, user_id: str) -> tuple[bool, bool]:
    """Whether the user muted this game's reminders, and all of its server's (the timeline)."""
    ids = [f"game.{game_id}", f"guild.{guild_id}"]
    async with web.pool.connection() as conn:
        cur = await conn.execute(_MUTES, {"ids": ids, "user": user_id})
        found = {aggregate: bool(muted) for aggregate, muted in await cur.fetchall()}
    return found.get(ids[0], False), found.get(ids[1], False)


@router.get("/games/{game_id}", response_class=HTMLResponse)
async def game_page(request: Request, game_id: str, web: WebDep,
                    session: MaybeSession) -> Response:  # fmt: skip
    if session is None:
        return login_redirect(request)
    context = await game_context(web, game_id, session)
    # everything game.html reads (the view through its ETag), so a hit is what a render gives
    key = ("game.html", context["etag"], session.user_id, session.display_name, session.csrf,
           context["joined"], context["can_host"], context["mutes"],
           context["guild"].get("name"), context["channel"].get("name"))  # fmt: skip
    body = web.pages.get(key)
    if body is None:
        response = page(request, "game.html", **context)
        web.pages.put(key, bytes(response.body))
        return response
    return HTMLResponse(body)


async def _member_for(web: Web, game_id: str, session: Session) -> tuple[str, Membership]:
    game, member = await game_or_404(web, game_id, session.user_id)
    return game.game_id, member


@router.post("/games/{game_id}/join", response_class=HTMLResponse)
@router.post("/games/{game_id}/leave", response_class=HTMLResponse)
@router.post("/games/{game_id}/cancel", response_class=HTMLResponse)
async def game_action(request: Request, game_id: str, web: WebDep,
                      session: MaybeSession) -> Response:  # fmt: skip
    """Join, leave or cancel from the game page (the last path segment says which)."""
    action = request.url.path.rsplit("/", 1)[-1]
    session = await user(request, session)
    gid, member = await _member_for(web, game_id, session)
    form = await request.form()
    cid = command_id(session.user_id, str(form.get("idempotency_key") or "") or None)
    base: dict[str, Any] = {"command_id": cid, "user_id": session.user_id, "game_id": gid}
    auth: dict[str, Any] = {"role_ids": member.role_ids, "permissions": member.permissions}
    command: commands.AnyCommand
    if action == "join":
        command = commands.JoinGame(**base)
    elif action == "leave":
        command = commands.LeaveGame(**base)
    elif action == "cancel":
        command = commands.CancelGame(**base, **auth, reason=str(form.get("reason") or ""))
    else:
        raise ApiError(404, "page_not_found", "There is no such page.")
    message, _ = await told(web, command)
    return await game_page_after(request, web, game_id, session, "actions", message=message)


async def game_page_after(
    request: Request, web: Web, game_id: str, session: Session, block: str, **message: Any
) -> Response:
    """The game page again after a form was sent, with ``message``; to HTMX, only ``block``."""
    context = await game_context(web, game_id, session)
    if request.headers.get("hx-request"):
        return page(request, "game.html", block=block, **message, **context)
    return page(request, "game.html", **message, **context)


@router.get("/games/{game_id}/edit", response_class=HTMLResponse)
async def edit_page(request: Request, game_id: str, web: WebDep,
                    session: MaybeSession) -> Response:  # fmt: skip
    if session is None:
        return login_redirect(request)
    context = await game_context(web, game_id, session)
    return page(request, "edit.html", errors=[], **context)


@router.post("/games/{game_id}/edit", response_class=HTMLResponse)
async def edit_submit(request: Request, game_id: str, web: WebDep,
                      session: MaybeSession) -> Response:  # fmt: skip
    session = await user(request, session)
    gid, member = await _member_for(web, game_id, session)
    form = await request.form()
    auth: dict[str, Any] = {"role_ids": member.role_ids, "permissions": member.permissions}
    errors: list[str] = []
    try:
        when = datetime.fromisoformat(str(form.get("scheduled_at", "")))
        update = commands.UpdateGame(
            command_id=command_id(session.user_id, None), user_id=session.user_id, game_id=gid,
            title=str(form.get("title", "")), description=str(form.get("description", "")),
            **auth,
        )  # fmt: skip
        await send(web, update)
        game, _ = await game_or_404(web, gid, session.user_id)
        if when != game.scheduled_at:
            await send(web, commands.RescheduleGame(
                command_id=command_id(session.user_id, None), user_id=session.user_id,
                game_id=gid, scheduled_at=when, **auth))  # fmt: skip
        return RedirectResponse(f"/games/{gid}", status_code=303)
    except ValueError:
        errors.append("The time must be a date and time with a zone (ISO 8601).")
    except DomainError as error:
        errors.append(error.message)
    context = await game_context(web, game_id, session)
    return page(request, "edit.html", status_code=422, errors=errors, **context)


@router.get("/games/{game_id}/timeline", response_class=HTMLResponse)
async def timeline_page(
    request: Request, game_id: str, web: WebDep, session: MaybeSession,
    at: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:  # fmt: skip
    """The game's history; ``at`` (a position) also shows the game as it was then."""
    if session is None:
        return login_redirect(request)
    game, _ = await game_or_404(web, game_id, session.user_id)
    async with web.pool.connection() as conn:
        entries = await queries.game_timeline(conn, game.game_id)
    positions = [e.position for e in entries]
    then = await game_as_of(web, game.game_id, at) if at else None
    step = then.position if then else None
    earlier = [p for p in positions if step is not None and p < step]
    later = [p for p in positions if step is not None and p > step]
    travel: dict[str, Any] = {
        "then": then,
        "prev": earlier[-1] if earlier else None,
        "next": later[0] if later else None,
        "first": positions[0] if positions else None,
    }
    if then is not None and request.headers.get("hx-request"):
        return page(request, "timeline.html", block="asof", game=game, **travel)
    people = {e.actor_id for e in entries} | {
        str(e.body[k]) for e in entries for k in ("user_id", "host_id") if e.body.get(k)
    }
    people |= {str(u) for e in entries for u in e.body.get("promoted", []) or []}
    names = await web.display_names(game.guild_id, sorted(people - {"0"}))
    names["0"] = "Muster"
    return page(request, "timeline.html", game=game, entries=entries, names=names, **travel)


@router.get("/guilds/{guild_id}/settings", response_class=HTMLResponse)
async def settings_page(request: Request, guild_id: str, web: WebDep, session: MaybeSession,
                        channel: str | None = None) -> Response:  # fmt: skip
    if session is None:
        return login_redirect(request)
    member = await member_or_404(web, guild_id, session.user_id)
    channels = await text_channels(web, guild_id)
    if channel and channel not in {c.id for c in channels}:
        raise ApiError(404, "channel_not_found", "There is no such channel in this server.")
    view = await settings_view(web, member, channel)
    guild = await web.discord.guild(guild_id) or {}
    return page(request, "settings.html", guild=guild, guild_id=guild_id, view=view,
                channels=channels, channel=channel, names=ALL_SETTINGS, message="")  # fmt: skip


@router.post("/guilds/{guild_id}/settings", response_class=HTMLResponse)
async def settings_submit(request: Request, guild_id: str, web: WebDep, session: MaybeSession,
                          channel: str | None = None) -> Response:  # fmt: skip
    session = await user(request, session)
    member = await member_or_404(web, guild_id, session.user_id)
    form = await request.form()
    changes: dict[str, Any] = {}
    for name in ("max_players", "rules", "category", "waitlist_cap", "reminder_minutes"):
        value = str(form.get(name, "")).strip()
        if name in ("max_players",):
            changes[name] = _number(value)
        elif name == "waitlist_cap":
            changes[name] = _number(value) if _number(value) is not None else (value or None)
        elif name == "reminder_minutes":
            mins = [n for v in value.replace(",", " ").split() if (n := _number(v)) is not None]
            changes[name] = tuple(mins) or None
        else:
            changes[name] = value or None
    base: dict[str, Any] = {
        "command_id": command_id(session.user_id, None),
        "user_id": session.user_id,
        "role_ids": member.role_ids,
        "permissions": member.permissions,
        "guild_id": guild_id,
    }
    message = ""
    try:
        cmd: commands.AnyCommand = (
            commands.ConfigureChannel(**base, channel_id=channel, **changes) if channel
            else commands.ConfigureGuild(**base, **changes))  # fmt: skip
        message = (await send(web, cmd)).message
    except DomainError as error:
        message = error.message
    view = await settings_view(web, member, channel)
    guild = await web.discord.guild(guild_id) or {}
    return page(request, "settings.html", guild=guild, guild_id=guild_id, view=view,
                channels=await text_channels(web, guild_id), channel=channel,
                names=ALL_SETTINGS, message=message)  # fmt: skip


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, web: WebDep, session: MaybeSession) -> Response:
    return page(request, "status.html", status=await gather_status(web), now=datetime.now(UTC))
