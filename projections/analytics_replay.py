"""``muster replay`` for the analytics projection: rebuild it into the rebuilt schema, compare.

Runs after the read models' rebuild (:func:`projections.replay.rebuild_and_compare`), into the
same fresh schema, up to the live analytics position, so a swap makes both live together.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.aio.client import Client as NATS

from gateways.jetstream.layout import Layout
from projections.analytics import COMPARED, Analytics
from projections.replay import Difference, catch_up_and_compare
from projections.runner import Progress, ProjectionRunner


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
    runner = ProjectionRunner(nc, layout, database_url, rebuilt, projection=Analytics())
    return await catch_up_and_compare(
        runner, database_url, live, rebuilt, name=Analytics.name, tables=COMPARED,
        on_batch=on_batch,
    )  # fmt: skip
