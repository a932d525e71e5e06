"""More server-rendered pages: a server's analytics (inline SVG charts), and the game page's
reminder toggle and attendance form (CSRF-checked forms through the command port)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api import charts
from api.access import member_or_404
from api.errors import from_domain
from api.pages import game_context, game_page_after, login_redirect, user
from api.render import page
from api.routers.analytics import analytics_of
from api.routers.guilds import text_channels
from api.routers.reminders import attendance_command, mute_command
from api.services import Web
from api.sessions import MaybeSession, WebDep
from api.writes import command_id, told
from projections import analytics_queries as aq

router = APIRouter(include_in_schema=False)


async def host_figures(web: Web, guild_id: str) -> list[aq.Figures]:
    """Every host of the server (for the filter, whatever is chosen)."""
    async with web.pool.connection() as conn:
        return await aq.figures_by(conn, "host", guild_id=guild_id)


Id = Annotated[str | None, Query(pattern=r"^\d{0,20}$")]


@router.get("/guilds/{guild_id}/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request, guild_id: str, web: WebDep, session: MaybeSession, *,
    channel: Id = None, host: Id = None,
) -> Response:  # fmt: skip
    if session is None:
        return login_redirect(request)
    await member_or_404(web, guild_id, session.user_id)
    guild = await web.discord.guild(guild_id) or {}
    channels = await text_channels(web, guild_id)
    found = await analytics_of(web, guild_id, channel or None, host or None)
    channel_names = {c.id: f"#{c.name}" for c in channels}
    every_host = found.by_host if not (channel or host) else await host_figures(web, guild_id)
    hosts = await web.display_names(guild_id, [f.key for f in every_host])
    t = found.totals
    rates = [
        ("Fill rate", t.fill_rate, charts.percent(t.fill_rate)),
        ("Waitlist conv.", t.conversion_rate, charts.percent(t.conversion_rate)),
        ("No-show rate", t.no_show_rate, charts.percent(t.no_show_rate)),
    ] if t else []  # fmt: skip
    context: dict[str, Any] = {
        "guild": guild, "guild_id": guild_id, "a": found, "channels": channels,
        "channel": channel or "", "host": host or "", "channel_names": channel_names,
        "hosts": hosts, "percent": charts.percent,
        "rates_chart": charts.bars("Rates", [(n, v or 0.0, s) for n, v, s in rates],
                                   maximum=1.0),
        "channel_chart": charts.bars("Games by channel", [
            (channel_names.get(f.key, f.key), f.games_scheduled, str(f.games_scheduled))
            for f in found.by_channel]),
        "host_chart": charts.bars("Games by host", [
            (hosts.get(f.key, f.key), f.games_scheduled, str(f.games_scheduled))
            for f in found.by_host]),
        "week_chart": charts.week_heatmap("Popular times of week (UTC)", [
            (s.weekday, s.hour, s.games) for s in found.popular_times]),
    }  # fmt: skip
    return page(request, "analytics.html", **context)


@router.post("/games/{game_id}/mute", response_class=HTMLResponse)
@router.post("/games/{game_id}/unmute", response_class=HTMLResponse)
@router.post("/games/{game_id}/mute-server", response_class=HTMLResponse)
@router.post("/games/{game_id}/unmute-server", response_class=HTMLResponse)
async def reminder_toggle(
    request: Request, game_id: str, web: WebDep, session: MaybeSession
) -> Response:
    """Mute or unmute reminders for this game or for its whole server, from the game page."""
    action = request.url.path.rsplit("/", 1)[-1]
    session = await user(request, session)
    context = await game_context(web, game_id, session)
    game = context["game"]
    form = await request.form()
    cid = command_id(session.user_id, str(form.get("idempotency_key") or "") or None)
    scope: Literal["game", "guild"] = "guild" if action.endswith("-server") else "game"
    target = game.guild_id if scope == "guild" else game.game_id
    command = mute_command(scope, not action.startswith("unmute"), cid, session.user_id, target)
    message, _ = await told(web, command)
    return await game_page_after(
        request, web, game_id, session, "reminders", reminder_message=message
    )


@router.post("/games/{game_id}/attendance", response_class=HTMLResponse)
async def attendance_submit(
    request: Request, game_id: str, web: WebDep, session: MaybeSession
) -> Response:
    """The host marks the seated players who did not come."""
    session = await user(request, session)
    context = await game_context(web, game_id, session)
    form = await request.form()
    absent = [str(v) for v in form.getlist("no_show")]
    cid = command_id(session.user_id, str(form.get("idempotency_key") or "") or None)
    command = await attendance_command(web, context["game"], session.user_id, cid, absent)
    message, refused = await told(web, command)
    status = 200 if refused is None else from_domain(refused).status
    context = await game_context(web, game_id, session)
    return page(request, "game.html", status_code=status, attendance_message=message,
                **context)  # fmt: skip
