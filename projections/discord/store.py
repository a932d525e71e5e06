"""The Discord projection's own rows: announcements posted and DMs owed (see the migration)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
NONCE_LENGTH = 25
Conn = psycopg.AsyncConnection[Any]


def nonce(*parts: object) -> str:
    """A deterministic Discord nonce (≤ 25 characters) for one operation."""
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class Posted:
    game_id: str
    channel_id: str
    message_id: str | None
    nonce: str
    attempted_at: datetime
    rendered_position: int
    recorded: bool


async def announcement(conn: Conn, game_id: str) -> Posted | None:
    cur = await conn.execute(
        "SELECT game_id::text, channel_id, message_id, nonce, attempted_at, rendered_position, "
        "recorded FROM discord_announcements WHERE game_id = %s",
        (game_id,),
    )
    row = await cur.fetchone()
    return None if row is None else Posted(*row)


async def intend_post(conn: Conn, game_id: str, channel_id: str, op: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO discord_announcements (game_id, channel_id, nonce, attempted_at) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (game_id) DO UPDATE SET attempted_at = "
        "EXCLUDED.attempted_at WHERE discord_announcements.message_id IS NULL",
        (game_id, channel_id, op, now),
    )


async def posted(
    conn: Conn, game_id: str, channel_id: str, message_id: str, *, op: str, now: datetime,
    rendered: int,
) -> None:  # fmt: skip
    await conn.execute(
        "INSERT INTO discord_announcements "
        "(game_id, channel_id, message_id, nonce, attempted_at, rendered_position) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (game_id) DO UPDATE SET "
        "message_id = EXCLUDED.message_id, channel_id = EXCLUDED.channel_id, "
        "rendered_position = GREATEST(discord_announcements.rendered_position, "
        "EXCLUDED.rendered_position)",
        (game_id, channel_id, message_id, op, now, rendered),
    )


async def recorded(conn: Conn, game_id: str) -> None:
    await conn.execute(
        "UPDATE discord_announcements SET recorded = true WHERE game_id = %s", (game_id,)
    )


async def forget_post(conn: Conn, game_id: str) -> None:
    await conn.execute(
        "DELETE FROM discord_announcements WHERE game_id = %s AND message_id IS NULL", (game_id,)
    )


async def rendered(conn: Conn, game_id: str, position: int) -> None:
    await conn.execute(
        "UPDATE discord_announcements SET rendered_position = GREATEST(rendered_position, %s) "
        "WHERE game_id = %s",
        (position, game_id),
    )


@dataclass(frozen=True)
class Owed:
    source_position: int
    user_id: str
    game_id: str
    kind: str
    status: str
    nonce: str
    attempted_at: datetime


async def owe_dm(
    conn: Conn, source: int, user_id: str, *, game_id: str, kind: str, op: str, now: datetime
) -> Owed:
    """The DM's row, made ``pending`` now unless it exists (then as it is)."""
    cur = await conn.execute(
        "INSERT INTO discord_dms (source_position, user_id, game_id, kind, status, nonce, "
        "attempted_at) VALUES (%s, %s, %s, %s, 'pending', %s, %s) "
        "ON CONFLICT (source_position, user_id) DO UPDATE SET kind = discord_dms.kind "
        "RETURNING source_position, user_id, game_id::text, kind, status, nonce, attempted_at",
        (source, user_id, game_id, kind, op, now),
    )
    row = await cur.fetchone()
    assert row is not None
    return Owed(*row)


async def dm_attempted(conn: Conn, source: int, user_id: str, now: datetime) -> None:
    """A pending DM is sent again now (its nonce is fresh at Discord from now on)."""
    await conn.execute(
        "UPDATE discord_dms SET attempted_at = %s WHERE source_position = %s AND user_id = %s "
        "AND status = 'pending'",
        (now, source, user_id),
    )


async def dm_done(
    conn: Conn, source: int, user_id: str, *, status: str, message_id: str | None,
    detail: str, now: datetime,
) -> None:  # fmt: skip
    await conn.execute(
        "UPDATE discord_dms SET status = %s, message_id = %s, detail = %s, done_at = %s "
        "WHERE source_position = %s AND user_id = %s",
        (status, message_id, detail, now, source, user_id),
    )


async def dm_statuses(conn: Conn, game_id: str) -> list[tuple[int, str, str, str]]:
    """(source position, user, kind, status) of a game's DMs (for tests and tools)."""
    cur = await conn.execute(
        "SELECT source_position, user_id, kind, status FROM discord_dms WHERE game_id = %s "
        "ORDER BY source_position, user_id",
        (game_id,),
    )
    return list(await cur.fetchall())
