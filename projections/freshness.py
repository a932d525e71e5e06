"""Read-your-writes: wait until a projection has applied a given log position.

A caller that just appended at sequence ``s`` (``Outcome.notification_ids``) waits here before
it renders, so a player who clicked Join sees themselves in the list.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from projections.partitions import projection_position


class ProjectionBehind(TimeoutError):
    """The projection did not reach the position in time (it is behind or stopped)."""


async def wait_for_position(
    conn: psycopg.AsyncConnection[Any],
    position: int,
    timeout: float = 2.0,
    projector: str = "read_models",
) -> int:
    """Return the projection's position once it is ``>= position``; raise after ``timeout``.

    With partitioned workers, the projection's position is the smallest of theirs."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    while True:
        reached = await projection_position(conn, projector)
        await conn.rollback()  # end the read so the next one sees new commits
        if reached >= position:
            return reached
        if time.monotonic() >= deadline:
            raise ProjectionBehind(
                f"projection {projector} is at {reached}, not {position}, after {timeout:g}s; "
                "is `muster projector` running? (`muster doctor` shows its state)"
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.02)
