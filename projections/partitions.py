"""Partitioned projector workers: which worker owns which aggregate, and where each one is.

A projection can run as ``N`` workers. Worker ``K`` folds the aggregates whose
:func:`partition_of` is ``K`` and skips the others; every aggregate (game, guild, channel) has
exactly one owner, so no row is written by two workers. The function is the one NATS's subject
mapping uses for ``{{partition(N,1,2)}}`` on ``events.*.*`` (FNV-1a, 32 bits, over the kind and
key tokens), so a JetStream partitioned view of the log and the workers agree on the split.

Each worker reads the whole log and keeps its own position (row ``<name>/<K>of<N>`` in
``projector_position``; a single worker keeps the plain ``<name>`` row, as before), committed
with its rows. Every worker's position therefore means "everything up to here that is mine is
applied", and the projection as a whole has reached the smallest of them
(:func:`projection_position`).

**Changing N** (:func:`claim_layout`): the first worker of the new layout to start, once no
worker of the old layout holds its lock, replaces the old rows by the new ones in one
transaction. Every new worker starts at the smallest old position and, up to the largest one,
skips each event the timeline already holds (an event applied by its old owner is never applied
twice).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import psycopg

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
_PARTITION_ROW = re.compile(r"^(?P<name>.+)/(?P<index>\d+)of(?P<count>\d+)$")


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a (what nats-server's ``partition`` transform hashes with)."""
    value = FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return value


@functools.lru_cache(maxsize=65_536)  # a worker asks for every event; games recur
def partition_of(aggregate_id: str, partitions: int) -> int:
    """The partition (``0 … partitions-1``) that owns an aggregate ``"<kind>.<key>"``.

    Equal to nats-server's ``{{partition(N,1,2)}}`` for the subject ``events.<kind>.<key>``.
    """
    if partitions == 1:
        return 0
    kind, _, key = aggregate_id.partition(".")
    return fnv1a_32((kind + key).encode()) % partitions


class BadPartition(ValueError):
    """A worker index outside ``0 … count-1``, or a count below 1."""


@dataclass(frozen=True)
class Partition:
    """Worker ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise BadPartition(
                f"partition {self.index} of {self.count}: the count must be at least 1 and the "
                f"partition between 0 and {self.count - 1}"
            )

    def owns(self, aggregate_id: str) -> bool:
        return self.count == 1 or partition_of(aggregate_id, self.count) == self.index

    def row(self, name: str) -> str:
        """This worker's row in ``projector_position`` (and its lock's name)."""
        return name if self.count == 1 else f"{name}/{self.index}of{self.count}"

    @classmethod
    def all(cls, count: int) -> list[Partition]:
        return [cls(index, count) for index in range(count)]


@dataclass(frozen=True)
class Start:
    """Where a worker starts: its position, and up to where events may be applied already."""

    position: int
    recheck_until: int = 0


async def layout_rows(conn: psycopg.AsyncConnection[Any], name: str) -> dict[str, int]:
    """The projection's position rows (``name`` or ``name/KofN``) and their positions."""
    cur = await conn.execute(
        "SELECT name, position FROM projector_position WHERE name = %s OR starts_with(name, %s)",
        (name, f"{name}/"),
    )
    return {row[0]: int(row[1]) for row in await cur.fetchall() if _belongs(row[0], name)}


def _belongs(row: str, name: str) -> bool:
    if row == name:
        return True
    match = _PARTITION_ROW.match(row)
    return bool(match and match["name"] == name)


def partitions_of(rows: dict[str, int], name: str) -> int:
    """How many workers the stored rows are for (0 when there are none)."""
    if not rows:
        return 0
    if name in rows:
        return 1
    match = _PARTITION_ROW.match(next(iter(rows)))
    return int(match["count"]) if match else 0


async def projection_position(conn: psycopg.AsyncConnection[Any], name: str) -> int:
    """How far the projection as a whole has got: the smallest of its workers' positions."""
    rows = await layout_rows(conn, name)
    return min(rows.values()) if rows else 0


async def claim_layout(
    conn: psycopg.AsyncConnection[Any], schema: str, name: str, partition: Partition
) -> Start | None:
    """Make the stored layout ``partition.count`` workers (converting an old one) and return
    where ``partition`` starts; ``None`` while a worker of another layout still runs.

    Runs in its own transaction on ``conn`` (which must not hold the old workers' locks).
    """
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}:{name}:layout",)
        )
        rows = await layout_rows(conn, name)
        own = partition.row(name)
        if partitions_of(rows, name) == partition.count:
            cur = await conn.execute(
                "SELECT recheck_until FROM projector_position WHERE name = %s", (own,)
            )
            row = await cur.fetchone()
            return Start(rows[own], int(row[0]) if row else 0)
        for old in rows:  # a worker of the old layout still running holds its lock
            cur = await conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (f"{schema}:{old}",)
            )
            got = await cur.fetchone()
            if not got or not got[0]:
                return None
            await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"{schema}:{old}",))
        start = min(rows.values(), default=0)
        recheck = max(rows.values(), default=0)
        await conn.execute("DELETE FROM projector_position WHERE name = ANY(%s)", (list(rows),))
        for each in Partition.all(partition.count):
            await conn.execute(
                "INSERT INTO projector_position (name, position, recheck_until, updated_at) "
                "VALUES (%s, %s, %s, now())",
                (each.row(name), start, recheck),
            )
        return Start(start, recheck)
