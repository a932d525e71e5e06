"""Query functions over the read models, named for what they return.

Used by the API, the bot and the scheduler; none of them touches the log. Settings are resolved
with the domain's own rule (:func:`domain.rules.resolve`), from the game's, its channel's and its
guild's rows, so a channel or guild change shows at once in every game that did not override it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import psycopg

from domain.events import GameDetails, Settings
from domain.rules import Effective, resolve
from projections.partitions import projection_position

Conn = psycopg.AsyncConnection[Any]


class Participant(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # joined | waitlisted | placeholder
    position: int
    user_id: str | None = None
    placeholder_id: int | None = None
    label: str | None = None


class GameSummary(msgspec.Struct, frozen=True, kw_only=True):
    game_id: str
    guild_id: str
    channel_id: str
    host_id: str
    title: str
    scheduled_at: datetime
    status: str
    joined_count: int
    waitlist_count: int
    max_players: int


class GameDetail(GameSummary, frozen=True, kw_only=True):
    description: str
    category: str | None
    duration_minutes: int | None
    settings: Effective
    participants: tuple[Participant, ...]
    announcement_channel_id: str | None
    announcement_message_id: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    position: int


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    version: int
    type: str
    occurred_at: datetime
    actor_id: str
    command_id: str
    body: dict[str, Any]


class DueReminder(msgspec.Struct, frozen=True, kw_only=True):
    game_id: str
    user_id: str
    offset_minutes: int
    scheduled_at: datetime
    due_at: datetime


_GAME_COLUMNS = """g.game_id::text, g.guild_id, g.channel_id, g.host_id, g.title, g.scheduled_at,
    g.status, g.joined_count, g.waitlist_count, g.details, c.settings, s.settings"""
_GAME_JOINS = """FROM games g
    LEFT JOIN channel_settings c ON c.channel_id = g.channel_id
    LEFT JOIN guild_settings s ON s.guild_id = g.guild_id"""


def _settings(details: Any, channel: Any, guild: Any) -> Effective:
    return resolve(
        msgspec.convert(details, GameDetails),
        msgspec.convert(channel, Settings) if channel else None,
        msgspec.convert(guild, Settings) if guild else None,
    )


def _summary(row: tuple[Any, ...]) -> tuple[GameSummary, Effective]:
    effective = _settings(row[9], row[10], row[11])
    summary = GameSummary(
        game_id=row[0], guild_id=row[1], channel_id=row[2], host_id=row[3], title=row[4],
        scheduled_at=row[5], status=row[6], joined_count=row[7], waitlist_count=row[8],
        max_players=effective.max_players,
    )  # fmt: skip
    return summary, effective


async def participants_of(conn: Conn, game_id: str) -> list[Participant]:
    """Joined players in order, then the waitlist in order, then placeholders."""
    cur = await conn.execute(
        "SELECT kind, ordinal, user_id, placeholder_id, label FROM participants "
        "WHERE game_id = %s "
        "ORDER BY array_position(ARRAY['joined','waitlisted','placeholder'], kind), ordinal",
        (game_id,),
    )
    return [
        Participant(kind=k, position=n, user_id=u, placeholder_id=p, label=lbl)
        for k, n, u, p, lbl in await cur.fetchall()
    ]


async def game_detail(conn: Conn, game_id: str) -> GameDetail | None:
    """One game with resolved settings and participants, or ``None``."""
    cur = await conn.execute(
        f"SELECT {_GAME_COLUMNS}, g.description, g.category, g.duration_minutes, "
        "g.announcement_channel_id, g.announcement_message_id, g.created_at, g.updated_at, "
        f"g.version, g.position {_GAME_JOINS} WHERE g.game_id = %s",
        (game_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    summary, effective = _summary(row)
    return GameDetail(
        **msgspec.structs.asdict(summary),
        description=row[12], category=row[13], duration_minutes=row[14], settings=effective,
        participants=tuple(await participants_of(conn, game_id)),
        announcement_channel_id=row[15], announcement_message_id=row[16], created_at=row[17],
        updated_at=row[18], version=row[19], position=row[20],
    )  # fmt: skip


async def games_in_channel(
    conn: Conn, channel_id: str, statuses: tuple[str, ...] = ("scheduled", "in_progress"),
    limit: int = 100,
) -> list[GameSummary]:  # fmt: skip
    """A channel's games with the given statuses, soonest first."""
    cur = await conn.execute(
        f"SELECT {_GAME_COLUMNS} {_GAME_JOINS} WHERE g.channel_id = %s AND g.status = ANY(%s) "
        "ORDER BY g.scheduled_at LIMIT %s",
        (channel_id, list(statuses), limit),
    )
    return [_summary(row)[0] for row in await cur.fetchall()]


async def games_in_guild(
    conn: Conn, guild_id: str, since: datetime, until: datetime
) -> list[GameSummary]:
    """A guild's games starting in [since, until) (the guild calendar)."""
    cur = await conn.execute(
        f"SELECT {_GAME_COLUMNS} {_GAME_JOINS} WHERE g.guild_id = %s AND g.scheduled_at >= %s "
        "AND g.scheduled_at < %s ORDER BY g.scheduled_at",
        (guild_id, since, until),
    )
    return [_summary(row)[0] for row in await cur.fetchall()]


async def games_of_user(conn: Conn, user_id: str) -> dict[str, list[GameSummary]]:
    """The games a user hosts, has joined, and waits for (each soonest first)."""
    cur = await conn.execute(
        f"SELECT {_GAME_COLUMNS}, CASE WHEN g.host_id = %s THEN 'hosted' ELSE p.kind END "
        f"{_GAME_JOINS} LEFT JOIN participants p ON p.game_id = g.game_id AND p.user_id = %s "
        "WHERE g.host_id = %s OR p.user_id = %s ORDER BY g.scheduled_at",
        (user_id, user_id, user_id, user_id),
    )
    found: dict[str, list[GameSummary]] = {"hosted": [], "joined": [], "waitlisted": []}
    for row in await cur.fetchall():
        found[row[12]].append(_summary(row)[0])
    return found


async def game_timeline(conn: Conn, game_id: str) -> list[TimelineEntry]:
    """Every event of a game, oldest first: what happened, when, by whom, by which command."""
    cur = await conn.execute(
        "SELECT position, version, type, occurred_at, actor_id, command_id, body FROM timeline "
        "WHERE aggregate_id = %s ORDER BY position",
        (f"game.{game_id}",),
    )
    return [
        TimelineEntry(
            position=p, version=v, type=t, occurred_at=o, actor_id=a, command_id=c, body=b
        )
        for p, v, t, o, a, c, b in await cur.fetchall()
    ]


async def upcoming_reminders(conn: Conn, now: datetime, horizon: timedelta) -> list[DueReminder]:
    """Reminders due before ``now + horizon`` for scheduled games, not yet recorded.

    Includes overdue ones (missed while down) for games that have not started: the scheduler
    sends those late, or records them skipped once the game has begun.
    """
    cur = await conn.execute(
        f"SELECT {_GAME_COLUMNS} {_GAME_JOINS} WHERE g.status = 'scheduled' "
        "AND g.scheduled_at > %s - interval '1 day' AND g.scheduled_at <= %s + interval '7 days' "
        "ORDER BY g.scheduled_at",
        (now, now + horizon),
    )
    games = [_summary(row) for row in await cur.fetchall()]
    ids = [summary.game_id for summary, _ in games]
    joined: dict[str, list[str]] = {game_id: [] for game_id in ids}
    cur = await conn.execute(
        "SELECT game_id::text, user_id FROM participants WHERE game_id = ANY(%s::uuid[]) "
        "AND kind = 'joined' ORDER BY game_id, ordinal",
        (ids,),
    )
    for game_id, user in await cur.fetchall():
        joined[game_id].append(user)
    cur = await conn.execute(
        "SELECT game_id::text, offset_minutes, user_id FROM reminders "
        "WHERE game_id = ANY(%s::uuid[])",
        (ids,),
    )
    done = set(await cur.fetchall())
    due: list[DueReminder] = []
    for summary, effective in games:
        for offset in effective.reminder_minutes:
            due_at = summary.scheduled_at - timedelta(minutes=offset)
            if due_at > now + horizon:
                continue
            due += [
                DueReminder(game_id=summary.game_id, user_id=user, offset_minutes=offset,
                            scheduled_at=summary.scheduled_at, due_at=due_at)
                for user in joined[summary.game_id]
                if (summary.game_id, offset, user) not in done
            ]  # fmt: skip
    return sorted(due, key=lambda r: r.due_at)


async def parked_events(conn: Conn) -> list[tuple[str, int, str, str, str]]:
    """Events projectors gave up on: (projector, position, subject, type, error)."""
    cur = await conn.execute(
        "SELECT projector, position, subject, type, error FROM parked_events ORDER BY position"
    )
    return list(await cur.fetchall())


async def players_at(conn: Conn, game_id: str, position: int) -> tuple[list[str], list[str]]:
    """Who was joined and who was waiting, in order, once the event at ``position`` had
    happened: the game's timeline up to there, folded with the domain's own ``evolve``."""
    from domain.codec import EventMapper
    from domain.events import GameEvent
    from domain.game import GameState, evolve

    cur = await conn.execute(
        "SELECT type, body::text FROM timeline "
        "WHERE aggregate_id = %s AND position <= %s ORDER BY position",
        (f"game.{game_id}", position),
    )
    mapper = EventMapper()
    state: GameState | None = None
    for topic, body in await cur.fetchall():
        event = mapper.decode(topic, body.encode())
        if isinstance(event, GameEvent):  # a game's subject holds only game events
            state = evolve(state, event, game_id)
    return (list(state.joined), list(state.waitlist)) if state else ([], [])


async def recorded_direct_message(
    conn: Conn, game_id: str, source_position: int, user_id: str
) -> str | None:
    """What the log records of the DM owed to ``user_id`` for the event at
    ``source_position`` (sent, refused, failed), or None."""
    cur = await conn.execute(
        "SELECT body->>'status' FROM timeline WHERE aggregate_id = %s "
        "AND type = 'game.direct_message_recorded.v1' "
        "AND (body->>'source_position')::bigint = %s AND body->>'user_id' = %s LIMIT 1",
        (f"game.{game_id}", source_position, user_id),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


class GameFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Filters of :func:`games_page`; ``None`` means "any"."""

    guild_ids: tuple[str, ...]
    channel_id: str | None = None
    statuses: tuple[str, ...] | None = None
    category: str | None = None
    host_id: str | None = None
    participant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def games_page(
    conn: Conn, where: GameFilter, after: tuple[datetime, str] | None = None, limit: int = 50
) -> tuple[list[GameSummary], tuple[datetime, str] | None]:
    """Games matching ``where``, soonest first, after the cursor ``(scheduled_at, game_id)``;
    returns the page and the cursor of the next one (``None`` on the last page). The category
    filter applies to the resolved category (game, else channel, else guild)."""
    if where.category and "\x00" in where.category:  # no category holds one (nor can PostgreSQL)
        return [], None
    clauses = ["g.guild_id = ANY(%s)"]
    params: list[Any] = [list(where.guild_ids)]
    optional: list[tuple[Any, str]] = [
        (where.channel_id, "g.channel_id = %s"),
        (where.statuses and list(where.statuses), "g.status = ANY(%s)"),
        (where.host_id, "g.host_id = %s"),
        (where.since, "g.scheduled_at >= %s"),
        (where.until, "g.scheduled_at < %s"),
        (where.category, "coalesce(g.details->>'category', c.settings->>'category', "
                         "s.settings->>'category') = %s"),
        (where.participant_id, "EXISTS (SELECT 1 FROM participants p WHERE "
                               "p.game_id = g.game_id AND p.user_id = %s)"),
    ]  # fmt: skip
    for value, clause in optional:
        if value:
            clauses.append(clause)
            params.append(value)
    if after is not None:
        clauses.append("(g.scheduled_at, g.game_id) > (%s, %s::uuid)")
        params += [after[0], after[1]]
    cur = await conn.execute(
        f"SELECT {_GAME_COLUMNS} {_GAME_JOINS} WHERE {' AND '.join(clauses)} "
        "ORDER BY g.scheduled_at, g.game_id LIMIT %s",
        (*params, limit + 1),
    )
    rows = await cur.fetchall()
    games = [_summary(row)[0] for row in rows[:limit]]
    more = len(rows) > limit
    return games, ((games[-1].scheduled_at, games[-1].game_id) if more and games else None)


async def settings_of(
    conn: Conn, guild_id: str, channel_id: str | None = None
) -> tuple[Settings | None, Settings | None]:
    """The guild's and (if given) the channel's own settings rows, ``None`` where unset."""
    cur = await conn.execute("SELECT settings FROM guild_settings WHERE guild_id = %s", (guild_id,))
    row = await cur.fetchone()
    guild = msgspec.convert(row[0], Settings) if row else None
    channel = None
    if channel_id is not None:
        cur = await conn.execute(
            "SELECT settings FROM channel_settings WHERE channel_id = %s", (channel_id,)
        )
        row = await cur.fetchone()
        channel = msgspec.convert(row[0], Settings) if row else None
    return guild, channel


async def game_details_of(conn: Conn, game_id: str) -> GameDetails | None:
    """The host's own settings of a game (``None`` fields inherit)."""
    cur = await conn.execute("SELECT details FROM games WHERE game_id = %s", (game_id,))
    row = await cur.fetchone()
    return msgspec.convert(row[0], GameDetails) if row else None


async def log_position(conn: Conn, projector: str = "read_models") -> int:
    """The last log position the projector applied (0 before the first; with partitioned
    workers, the smallest of theirs)."""
    return await projection_position(conn, projector)


async def setting_levels_of_game(
    conn: Conn, game_id: str
) -> tuple[GameDetails, Settings | None, Settings | None] | None:
    """A game's own settings and its channel's and guild's rows (for "inherited from where")."""
    cur = await conn.execute(
        f"SELECT g.details, c.settings, s.settings {_GAME_JOINS} WHERE g.game_id = %s", (game_id,)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return (
        msgspec.convert(row[0], GameDetails),
        msgspec.convert(row[1], Settings) if row[1] else None,
        msgspec.convert(row[2], Settings) if row[2] else None,
    )
