"""Edits to one message coalesce: while one is pending, newer content replaces it.

Per message there is at most one edit in flight and one pending. An edit that arrives while
another is pending is merged into it (the newer edit's fields win: the higher ``version``, or
the later arrival when either has none) and counted as coalesced. The pending
edit is taken only once its channel's slot is granted (``admit``), so content that arrives while
waiting for the slot still rides along: a burst of 100 updates costs a first edit at once and one
more per edit spacing, each with the newest content. An ``admit`` that returns ``None`` takes no
slot (the dispatch waits for its own turn, as the ``external`` mode's worker does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from redis.exceptions import RedisError

from gateways.discord.metrics import Metrics
from gateways.discord.ops import EditMessage

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    pending: EditMessage | None = None
    waiters: list[asyncio.Future[Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


def merge(pending: EditMessage, arriving: EditMessage) -> EditMessage:
    """One edit showing both: the newer body's fields win, and it keeps the newer version.

    Newer means the higher version; without versions on both, the one that arrived last.
    """
    older, newer = pending, arriving
    if (
        pending.version is not None
        and arriving.version is not None
        and arriving.version < pending.version
    ):
        older, newer = arriving, pending
    versions = [v for v in (pending.version, arriving.version) if v is not None]
    return msgspec.structs.replace(
        newer, body=older.body.merged(newer.body), version=max(versions, default=None)
    )


class Coalescer:
    """Feeds edits to ``dispatch`` one message at a time, merging what piles up."""

    def __init__(
        self,
        admit: Callable[[EditMessage], Awaitable[object]],
        dispatch: Callable[[EditMessage], Awaitable[Any]],
        metrics: Metrics,
        mode: str,
    ) -> None:
        self.admit, self.dispatch = admit, dispatch
        self.metrics, self.mode = metrics, mode
        self._slots: dict[str, _Slot] = {}

    async def edit(self, op: EditMessage, *, wait: bool = False) -> None:
        """Queue ``op``; with ``wait``, return once Discord shows it (or newer content)."""
        slot = self._slots.get(op.message_id)
        if slot is None:
            slot = self._slots[op.message_id] = _Slot()
        if slot.pending is None:
            slot.pending = op
        else:
            self.metrics.coalesced.labels(self.mode).inc()
            slot.pending = merge(slot.pending, op)
        waiter = asyncio.get_running_loop().create_future() if wait else None
        if waiter is not None:
            slot.waiters.append(waiter)
        if slot.task is None:
            slot.task = asyncio.create_task(self._drain(op.message_id, slot))
        if waiter is not None:
            await waiter

    async def flush(self) -> None:
        """Wait until every queued edit has been dispatched."""
        while tasks := [s.task for s in self._slots.values() if s.task is not None]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for slot in self._slots.values():
            if slot.task is not None:
                slot.task.cancel()
        await self.flush()

    async def _drain(self, message_id: str, slot: _Slot) -> None:
        try:
            while slot.pending is not None:
                try:
                    turn = await self.admit(slot.pending)
                except (TimeoutError, RedisError):  # no turn now: the dispatch asks again
                    turn = None
                admitted = turn is not None  # None: not admitted here, the dispatch asks
                taken = getattr(turn, "member", None)
                op, waiters = slot.pending, slot.waiters
                slot.pending, slot.waiters = None, []
                op = msgspec.structs.replace(op, admitted=admitted, slot=taken)
                try:
                    await self.dispatch(op)
                except Exception as exc:  # noqa: BLE001 - handed to the waiters, or logged
                    if not waiters:
                        log.warning("edit of message %s failed: %s", message_id, exc)
                    for w in waiters:
                        if not w.done():
                            w.set_exception(exc)
                else:
                    for w in waiters:
                        if not w.done():
                            w.set_result(None)
        finally:
            for w in slot.waiters:
                w.cancel()
            self._slots.pop(message_id, None)
