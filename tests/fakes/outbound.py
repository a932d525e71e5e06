"""An in-memory Discord behind the outbound port, for tests that need no emulator.

:class:`FakeOutbound` keeps the :class:`~gateways.discord.Outbound` contract (the same cases run
against it in ``tests/unit/test_fake_outbound.py``): a send with a repeated ``op_id`` posts once
(nonce), edits of one message coalesce (one applied at once, then at most one per ``spacing``
with the newest content), an edit older than one already applied (``version``) is dropped, a
delete of a deleted message succeeds, an empty message is refused (400, 50006), a DM to a user
in ``blocked`` is refused (403, 50007). ``fail_next(op, error)`` makes the next such operation
raise. What happened is visible in ``messages``, ``dms`` and ``requests``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateways.discord import Body, OutboundError

CREATE_ROUTE = "POST /channels/{channel_id}/messages"
EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"
DM_OPEN_ROUTE = "POST /users/@me/channels"
Json = dict[str, Any]


@dataclass
class _Pending:
    channel_id: str
    body: Body
    version: int | None
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class FakeOutbound:
    """Outbound operations against an in-memory Discord (see the module docstring)."""

    mode = "fake"

    def __init__(self, *, spacing: float = 1.0, blocked: Sequence[str] = ()) -> None:
        self.spacing = spacing
        self.blocked = set(blocked)
        self.messages: dict[str, list[Json]] = {}  # channel id → messages, oldest first
        self.requests: Counter[str] = Counter()
        self._ids = itertools.count(1_000_000)
        self._nonces: dict[str, Json] = {}
        self._dm_channels: dict[str, str] = {}
        self._versions: dict[str, int] = {}
        self._pending: dict[str, _Pending] = {}
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._failures: dict[str, list[Exception]] = {}

    # -- test controls ---------------------------------------------------------------------
    def fail_next(self, op: str, error: Exception) -> None:
        """The next ``op`` (send, dm, edit, delete, history) raises ``error``."""
        self._failures.setdefault(op, []).append(error)

    def dms(self, user_id: str | int) -> list[Json]:
        channel = self._dm_channels.get(str(user_id))
        return list(self.messages.get(channel, [])) if channel else []

    def _maybe_fail(self, op: str) -> None:
        if self._failures.get(op):
            raise self._failures[op].pop(0)

    # -- the Outbound interface --------------------------------------------------------------
    async def start(self) -> FakeOutbound:
        return self

    async def send_message(
        self, channel_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        self._maybe_fail("send")
        message = self._create(str(channel_id), body, op_id)
        return message if wait else None

    async def send_dm(
        self, user_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        self._maybe_fail("dm")
        user = str(user_id)
        if user not in self._dm_channels:
            self.requests[DM_OPEN_ROUTE] += 1
            self._dm_channels[user] = str(next(self._ids))
        if user in self.blocked:
            self.requests[CREATE_ROUTE] += 1
            raise OutboundError("dm", "Cannot send messages to this user", 403, 50007)
        message = self._create(self._dm_channels[user], body, op_id)
        return message if wait else None

    async def edit_message(
        self, channel_id: str | int, message_id: str | int, body: Body, *,
        version: int | None = None, wait: bool = False,
    ) -> None:  # fmt: skip
        message_id = str(message_id)
        pending = self._pending.get(message_id)
        if pending is None:
            pending = self._pending[message_id] = _Pending(str(channel_id), body, version)
        else:
            pending.body = pending.body.merged(body)
            pending.version = version if version is not None else pending.version
        waiter = asyncio.get_running_loop().create_future() if wait else None
        if waiter is not None:
            pending.waiters.append(waiter)
        if message_id not in self._drains:
            self._drains[message_id] = asyncio.create_task(self._drain(message_id))
        if waiter is not None:
            await waiter

    async def update_messages(
        self, edits: Sequence[tuple[str | int, str | int, Body]], *, wait: bool = False
    ) -> None:
        await asyncio.gather(*(self.edit_message(c, m, b, wait=wait) for c, m, b in edits))

    async def delete_message(self, channel_id: str | int, message_id: str | int) -> None:
        self._maybe_fail("delete")
        messages = self.messages.get(str(channel_id), [])
        self.messages[str(channel_id)] = [m for m in messages if m["id"] != str(message_id)]

    async def fetch_history(
        self, channel_id: str | int, limit: int = 50, *,
        before: str | int | None = None, after: str | int | None = None,
    ) -> list[Json]:  # fmt: skip
        self._maybe_fail("history")
        found = [
            m for m in reversed(self.messages.get(str(channel_id), []))
            if (before is None or int(m["id"]) < int(before))
            and (after is None or int(m["id"]) > int(after))
        ]  # fmt: skip
        return [dict(m) for m in found[:limit]]

    async def fetch_emojis(self, guild_id: str | int) -> list[Json]:
        return []

    async def flush(self) -> None:
        while tasks := list(self._drains.values()):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.flush()

    # -- the in-memory Discord ---------------------------------------------------------------
    def _create(self, channel_id: str, body: Body, op_id: str | None) -> Json:
        self.requests[CREATE_ROUTE] += 1
        nonce = op_id[:25] if op_id else None
        if nonce is not None and nonce in self._nonces:
            return dict(self._nonces[nonce])
        payload = body.payload()
        if not (payload.get("content") or payload.get("embeds")):
            raise OutboundError("send", "Cannot send an empty message", 400, 50006)
        message = {"id": str(next(self._ids)), "channel_id": channel_id, "content": "",
                   "embeds": [], "components": [], "edited_timestamp": None, **payload}  # fmt: skip
        self.messages.setdefault(channel_id, []).append(message)
        if nonce is not None:
            self._nonces[nonce] = message
        return dict(message)

    async def _drain(self, message_id: str) -> None:
        try:
            while (pending := self._pending.pop(message_id, None)) is not None:
                try:
                    self._maybe_fail("edit")
                    self._apply(message_id, pending)
                except Exception as error:  # handed to the waiters, as the real coalescer does
                    for waiter in pending.waiters:
                        waiter.set_exception(error)
                else:
                    for waiter in pending.waiters:
                        waiter.set_result(None)
                await asyncio.sleep(self.spacing)
                if message_id not in self._pending:
                    break
        finally:
            self._drains.pop(message_id, None)

    def _apply(self, message_id: str, pending: _Pending) -> None:
        current = self._versions.get(message_id, 0)
        if pending.version is not None and pending.version < current:
            return  # a newer edit of this message was already made
        self.requests[EDIT_ROUTE] += 1
        for message in self.messages.get(pending.channel_id, []):
            if message["id"] == message_id:
                message.update(pending.body.payload(), edited_timestamp="edited")
                if pending.version is not None:
                    self._versions[message_id] = pending.version
                return
        raise OutboundError("edit", "Unknown Message", 404, 10008)
