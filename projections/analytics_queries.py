"""Queries over the analytics projection: figures per guild, channel or host, popular times.

Every function takes the guild it may look at (``guild_id``), so one community never sees
another's figures; the definitions are in :mod:`projections.analytics`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import psycopg
from psycopg import sql

from projections.analytics import LATE_MINUTES

Dimension = Literal["guild", "channel", "host"]


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """How one guild's, channel's or host's games filled."""

    key: str
    games_scheduled: int
    games_filled: int
    fill_rate: float | None
    avg_minutes_to_fill: float | None
    games_cancelled: int
    waitlisted: int
    waitlist_conversions: int
    conversion_rate: float | None
    leaves_before_start: int
    late_leaves: int
    avg_leave_minutes_before_start: float | None
    attendance_recorded: int
    no_shows: int
    no_show_rate: float | None


_BY = sql.SQL("""
WITH leaves AS (
    SELECT game_id, count(*) FILTER (WHERE minutes_before_start < %(late)s) AS late,
           sum(minutes_before_start) AS lead
    FROM analytics_leaves GROUP BY game_id
), attendance AS (
    SELECT game_id, count(*) AS recorded, count(*) FILTER (WHERE NOT present) AS absent
    FROM analytics_attendance GROUP BY game_id
)
SELECT g.{key}, count(*), count(g.filled_at),
       avg(extract(epoch FROM g.filled_at - g.created_at) / 60),
       count(*) FILTER (WHERE g.status = 'cancelled'),
       sum(g.waitlisted), sum(g.promotions), sum(g.seat_leaves),
       coalesce(sum(l.late), 0), sum(l.lead),
       coalesce(sum(a.recorded), 0), coalesce(sum(a.absent), 0)
FROM analytics_games g LEFT JOIN leaves l USING (game_id) LEFT JOIN attendance a USING (game_id)
WHERE (%(guild)s::text IS NULL OR g.guild_id = %(guild)s)
  AND (%(channel)s::text IS NULL OR g.channel_id = %(channel)s)
  AND (%(host)s::text IS NULL OR g.host_id = %(host)s)
GROUP BY g.{key} ORDER BY g.{key}
""")


async def figures_by(
    conn: psycopg.AsyncConnection[Any],
    by: Dimension,
    *,
    guild_id: str | None = None,
    channel_id: str | None = None,
    host_id: str | None = None,
) -> list[Figures]:
    """Figures per guild, channel or host (``by``), within the filters given."""
    key = sql.Identifier(f"{by}_id")
    params = {"late": LATE_MINUTES, "guild": guild_id, "channel": channel_id, "host": host_id}
    cur = await conn.execute(_BY.format(key=key), params)
    return [_figures(row) for row in await cur.fetchall()]


def _figures(row: tuple[Any, ...]) -> Figures:
    key, games, filled, to_fill, cancelled, waitlisted, promotions, leaves, late, lead = row[:10]
    recorded, absent = int(row[10]), int(row[11])
    waitlisted, promotions, leaves = int(waitlisted), int(promotions), int(leaves)
    return Figures(
        key=key,
        games_scheduled=int(games),
        games_filled=int(filled),
        fill_rate=int(filled) / int(games) if games else None,
        avg_minutes_to_fill=float(to_fill) if to_fill is not None else None,
        games_cancelled=int(cancelled),
        waitlisted=waitlisted,
        waitlist_conversions=promotions,
        conversion_rate=promotions / waitlisted if waitlisted else None,
        leaves_before_start=leaves,
        late_leaves=int(late),
        avg_leave_minutes_before_start=_ratio(lead, leaves),
        attendance_recorded=recorded,
        no_shows=absent,
        no_show_rate=absent / recorded if recorded else None,
    )


def _ratio(total: Any, count: int) -> float | None:
    return float(total) / count if count and total is not None else None


class PlayerAttendance(msgspec.Struct, frozen=True):
    """One player's record in one guild: games with attendance recorded, and no-shows."""

    user_id: str
    games: int
    no_shows: int
    no_show_rate: float


async def no_shows_of(
    conn: psycopg.AsyncConnection[Any], guild_id: str, user_id: str | None = None
) -> list[PlayerAttendance]:
    """Players of one guild (or one player) by no-shows, most first; other guilds never show."""
    cur = await conn.execute(
        """
        SELECT user_id, count(*), count(*) FILTER (WHERE NOT present)
        FROM analytics_attendance
        WHERE guild_id = %(guild)s AND (%(user)s::text IS NULL OR user_id = %(user)s)
        GROUP BY user_id ORDER BY 3 DESC, 1
        """,
        {"guild": guild_id, "user": user_id},
    )
    rows = await cur.fetchall()
    return [PlayerAttendance(u, int(n), int(a), int(a) / int(n)) for u, n, a in rows]


class TimeSlot(msgspec.Struct, frozen=True):
    """Games starting on one weekday (1 = Monday … 7 = Sunday) at one hour (UTC)."""

    weekday: int
    hour: int
    games: int


async def popular_times(
    conn: psycopg.AsyncConnection[Any],
    *,
    guild_id: str | None = None,
    channel_id: str | None = None,
    host_id: str | None = None,
) -> list[TimeSlot]:
    """Games by weekday and hour of their (latest) start, busiest first."""
    cur = await conn.execute(
        """
        SELECT extract(isodow FROM scheduled_at AT TIME ZONE 'UTC')::int AS weekday,
               extract(hour FROM scheduled_at AT TIME ZONE 'UTC')::int AS hour, count(*)
        FROM analytics_games
        WHERE (%(guild)s::text IS NULL OR guild_id = %(guild)s)
          AND (%(channel)s::text IS NULL OR channel_id = %(channel)s)
          AND (%(host)s::text IS NULL OR host_id = %(host)s)
        GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
        """,
        {"guild": guild_id, "channel": channel_id, "host": host_id},
    )
    return [TimeSlot(int(w), int(h), int(n)) for w, h, n in await cur.fetchall()]
