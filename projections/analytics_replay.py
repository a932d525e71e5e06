"""``muster replay`` for the analytics projection: rebuild it into the rebuilt schema, compare.

Runs after the read models' rebuild (:func:`projections.replay.rebuild_and_compare`), into the
same fresh schema, up to the live analytics position, so a swap makes both live together.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from nats.aio.client import Client as NATS

from gateways.jetstream.layout import Layout
from gateways.postgres import connect
from projections.analytics import COMPARED, Analytics
from projections.replay import Difference, compare
from projections.runner import Progress, ProjectionRunner, stored_position


async def rebuild_analytics(
    nc: NATS,
    layout: Layout,
    database_url: str,
    live: str,
    rebuilt: str,
    *,
    on_batch: Callable[..., None] | None = None,
) -> tuple[Progress, list[Difference]]:
    """Project analytics into ``rebuilt`` up to the live position; (progress, differences)."""
    name = Analytics.name
    runner = ProjectionRunner(nc, layout, database_url, rebuilt, projection=Analytics())
    conn = await connect(database_url, live)
    try:
        while True:
            target = await stored_position(conn, name)
            await conn.rollback()
            if runner.progress.position < target:
                report = functools.partial(on_batch, target=target) if on_batch else None
                await runner.run(asyncio.Event(), until=target, on_batch=report)
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT position FROM projector_position WHERE name = %s FOR SHARE", (name,)
                )
                row = await cur.fetchone()
                if (int(row[0]) if row else 0) == runner.progress.position:
                    return runner.progress, await compare(conn, live, rebuilt, COMPARED)
    finally:
        await conn.close()
