"""``/api/v1/status``: process health, projection lag, parked events, outbound queue depth."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from fastapi import APIRouter
from pydantic import BaseModel

from api.routers import ERRORS
from api.services import Web
from api.sessions import WebDep
from gateways.health import read_health
from projections import queries


class Status(BaseModel):
    processes: dict[str, dict[str, Any]]
    log_position: int | None
    projection_position: int
    projection_lag: int | None
    parked_events: int
    outbound_queue: int | None


router = APIRouter(prefix="/api/v1/status", tags=["status"], responses=ERRORS)


async def gather_status(web: Web) -> Status:
    """What the status page shows; each part says ``None`` when it cannot be read."""
    processes: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(Exception):
        processes = {k: msgspec.to_builtins(v) for k, v in (await read_health(web.nc)).items()}
    js = web.nc.jetstream()
    log_position: int | None = None
    with contextlib.suppress(Exception):
        log_position = (await js.stream_info(web.layout.stream)).state.last_seq
    outbound: int | None = None
    with contextlib.suppress(Exception):
        stream = web.extras.get("ops_stream", "DISCORD_OPS")
        outbound = (await js.stream_info(stream)).state.messages
    async with web.pool.connection() as conn:
        position = await queries.log_position(conn)
        parked = len(await queries.parked_events(conn))
    lag = None if log_position is None else max(0, log_position - position)
    return Status(processes=processes, log_position=log_position, projection_position=position,
                  projection_lag=lag, parked_events=parked, outbound_queue=outbound)  # fmt: skip


@router.get("", response_model=Status, summary="System status")
async def status(web: WebDep) -> Any:
    """Health of every process (from the health bucket) and how far behind the read models are."""
    return await gather_status(web)
