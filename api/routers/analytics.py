"""``/api/v1/guilds/{guild_id}/analytics``: how a server's games fill, from the analytics
projection (``projections.analytics_queries``); members of the server only."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query

from api import models
from api.access import member_or_404
from api.routers import ERRORS
from api.routers.guilds import Snowflake
from api.services import Web
from api.sessions import SessionDep, WebDep
from projections import analytics_queries as aq
from projections.freshness import ProjectionBehind, wait_for_position
from projections.queries import log_position

router = APIRouter(prefix="/api/v1/guilds", tags=["analytics"], responses=ERRORS)
Id = Annotated[str | None, Query(pattern=r"^\d{1,20}$")]
MAX_PLAYERS_LISTED = 50


def _figures(found: aq.Figures) -> models.Figures:
    return models.Figures(**msgspec.structs.asdict(found))


async def analytics_of(
    web: Web, guild_id: str, channel_id: str | None = None, host_id: str | None = None,
    after: int | None = None,
) -> models.Analytics:  # fmt: skip
    """The server's figures (within a channel and/or host), once they include ``after``."""
    scope: dict[str, Any] = {"guild_id": guild_id, "channel_id": channel_id, "host_id": host_id}
    async with web.pool.connection() as conn:
        if after is not None:
            with contextlib.suppress(ProjectionBehind):  # else ``position`` says how far it got
                await wait_for_position(conn, after, web.config.read_your_writes_timeout,
                                        projector="analytics")  # fmt: skip
        position = await log_position(conn, "analytics")
        totals = await aq.figures_by(conn, "guild", **scope)
        by_channel = await aq.figures_by(conn, "channel", **scope)
        by_host = await aq.figures_by(conn, "host", **scope)
        times = await aq.popular_times(conn, **scope)
        absent = await aq.no_shows_of(conn, guild_id)
    members = [p for p in absent if await web.discord.member(guild_id, p.user_id) is not None]
    members = members[:MAX_PLAYERS_LISTED]
    names = await web.display_names(guild_id, [p.user_id for p in members])
    return models.Analytics(
        guild_id=guild_id, channel_id=channel_id, host_id=host_id, position=position,
        totals=_figures(totals[0]) if totals else None,
        by_channel=[_figures(f) for f in by_channel], by_host=[_figures(f) for f in by_host],
        popular_times=[models.TimeSlot(weekday=t.weekday, hour=t.hour, games=t.games)
                       for t in times],
        no_shows=[models.PlayerNoShows(user_id=p.user_id, display_name=names[p.user_id],
                                       games=p.games, no_shows=p.no_shows,
                                       no_show_rate=p.no_show_rate) for p in members],
    )  # fmt: skip


@router.get("/{guild_id}/analytics", response_model=models.Analytics, summary="Analytics")
async def analytics(
    guild_id: Snowflake, web: WebDep, session: SessionDep, channel_id: Id = None,
    host_id: Id = None,
    after: Annotated[int | None, Query(ge=0, le=2**53,
                                       description="wait until the figures include this log "
                                       "position (e.g. a write's position)")] = None,
) -> Any:  # fmt: skip
    """Games scheduled, fill rate, time to fill, waitlist conversions, leaves before the start,
    no-shows, popular times of week; by channel and host; no-shows per member."""
    await member_or_404(web, guild_id, session.user_id)
    return await analytics_of(web, guild_id, channel_id, host_id, after)
