"""PostgreSQL access: connections bound to one schema, and versioned SQL migrations.

Every read model lives in one schema (``muster`` by default). ``muster replay`` builds a fresh
schema next to it with the same migrations, so a schema name is all a pool needs to know.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

DEFAULT_SCHEMA = "muster"
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(name: str) -> str:
    """A schema name safe to use (lowercase letters, digits, underscore)."""
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"invalid schema name {name!r}")
    return name


async def connect(url: str, schema: str = DEFAULT_SCHEMA) -> psycopg.AsyncConnection[Any]:
    """One connection using ``schema`` (for tools and the projector's own writes)."""
    options = f"-c search_path={checked_schema(schema)},public"
    return await psycopg.AsyncConnection.connect(url, options=options)


def migrations(directory: Path) -> list[tuple[int, Path]]:
    """The migration files of a directory, by version."""
    found = []
    for path in sorted(directory.iterdir()):
        match = _MIGRATION.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


async def migrate(url: str, schema: str, directory: Path) -> list[int]:
    """Create ``schema`` if needed and apply the migrations it lacks, each in a transaction.

    Concurrent starters are serialised by an advisory lock; returns the versions applied.
    """
    name = checked_schema(schema)
    applied: list[int] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"migrate:{name}",))
        try:
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name))
            )
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.schema_migrations "
                    "(version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(sql.Identifier(name))
            )
            cur = await conn.execute(
                sql.SQL("SELECT version FROM {}.schema_migrations").format(sql.Identifier(name))
            )
            done = {row[0] for row in await cur.fetchall()}
            for version, path in migrations(directory):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(
                        sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(name))
                    )
                    await conn.execute(path.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES (%s)", (version,)
                    )
                applied.append(version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"migrate:{name}",))
    return applied
