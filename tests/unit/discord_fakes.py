"""In-memory fakes of the Discord REST client's ports, and a clock to drive them.

``FakeOutbound`` (an ``OutboundPort``) and ``FakeCache`` (a ``CachePort``) keep everything in
dictionaries and behave as the real adapters do; ``tests/unit/test_discord_fakes.py`` runs them
through the same contract cases as the adapters (``tests/contracts/discord_*.py``), so a test that
uses a fake tests what production does, without servers and without waiting.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from discord.errors import Forbidden, NotFound

from gateways.discord import Body, DiscordConfig, DiscordUnavailable, Kind, MessageEdit
from gateways.discord.cache import DISCORD_FAILURES, describe
from gateways.discord.coalesce import merge
from gateways.discord.errors import OutboundError
from gateways.discord.ops import NONCE_LENGTH, EditMessage, Json, new_id
from gateways.discord.ports import Fetch


class FakeClock:
    """Seconds since the epoch that move only when told."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeDiscord:
    """What Discord shows: channels with messages, DM channels, and a count of calls.

    ``versions`` is the newest edit version claimed per message, shared by every
    ``FakeOutbound`` on this Discord as Redis is shared by processes.
    """

    def __init__(self) -> None:
        self.channels: dict[str, list[Json]] = {}
        self.dm_channels: dict[str, str] = {}
        self.emojis: dict[str, list[Json]] = {}
        self.versions: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self._ids = itertools.count(1_000_000)
        self._nonces: dict[tuple[str, str], Json] = {}

    def new_channel(self) -> str:
        channel_id = str(next(self._ids))
        self.channels[channel_id] = []
        return channel_id

    def messages(self, channel_id: str | int) -> list[Json]:
        """Oldest first."""
        return list(self.channels.get(str(channel_id), []))

    def dms(self, user_id: str | int) -> list[Json]:
        channel = self.dm_channels.get(str(user_id))
        return [] if channel is None else self.messages(channel)

    def create(self, name: str, channel_id: str, body: Body, nonce: str) -> Json:
        self.calls["create"] += 1
        payload = body.payload()
        if not payload.get("content") and not payload.get("embeds"):
            reason = "Discord returned 400: Cannot send an empty message"
            raise OutboundError(name, reason, 400, 50006)
        if len(payload.get("content") or "") > 2000:
            raise OutboundError(name, "Discord returned 400: Invalid Form Body", 400, 50035)
        if channel_id not in self.channels:
            raise OutboundError(name, "Discord returned 404: Unknown Channel", 404, 10003)
        first = self._nonces.get((channel_id, nonce))
        if first is not None:
            return dict(first)
        message = {"id": str(next(self._ids)), "channel_id": channel_id, "embeds": [], **payload}
        self.channels[channel_id].append(message)
        self._nonces[channel_id, nonce] = message
        return dict(message)

    def open_dm(self, user_id: str) -> str:
        if user_id not in self.dm_channels:
            self.calls["open_dm"] += 1
            self.dm_channels[user_id] = self.new_channel()
        return self.dm_channels[user_id]

    def edit(self, op: EditMessage) -> None:
        if op.version is not None:
            if op.version < self.versions.get(op.message_id, 0):
                return  # a newer edit of this message was already made
            self.versions[op.message_id] = op.version
        self.calls["edit"] += 1
        for message in self.channels.get(op.channel_id, []):
            if message["id"] == op.message_id:
                message.update(op.body.payload())
                return
        raise OutboundError("edit", "Discord returned 404: Unknown Message", 404, 10008)


class FakeOutbound:
    """An ``OutboundPort`` on a :class:`FakeDiscord`: edits wait, coalesced, for ``flush``."""

    def __init__(self, discord: FakeDiscord) -> None:
        self.discord = discord
        self._pending: dict[str, EditMessage] = {}

    async def send_message(
        self, channel_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        nonce = (op_id or new_id())[:NONCE_LENGTH]
        sent = self.discord.create("send", str(channel_id), body, nonce)
        return sent if wait else None

    async def send_dm(
        self, user_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        channel = self.discord.open_dm(str(user_id))
        sent = self.discord.create("dm", channel, body, (op_id or new_id())[:NONCE_LENGTH])
        return sent if wait else None

    async def edit_message(
        self,
        channel_id: str | int,
        message_id: str | int,
        body: Body,
        *,
        version: int | None = None,
        wait: bool = False,
    ) -> None:
        op = EditMessage(
            channel_id=str(channel_id), message_id=str(message_id), body=body, version=version
        )
        pending = self._pending.get(op.message_id)
        self._pending[op.message_id] = op if pending is None else merge(pending, op)
        if wait:
            self.discord.edit(self._pending.pop(op.message_id))

    async def update_messages(self, edits: Sequence[MessageEdit], *, wait: bool = False) -> None:
        for e in edits:
            version = e[3] if len(e) > 3 else None
            await self.edit_message(e[0], e[1], e[2], version=version, wait=wait)

    async def delete_message(self, channel_id: str | int, message_id: str | int) -> None:
        messages = self.discord.channels.get(str(channel_id), [])
        messages[:] = [m for m in messages if m["id"] != str(message_id)]

    async def fetch_history(
        self,
        channel_id: str | int,
        limit: int = 50,
        *,
        before: str | int | None = None,
        after: str | int | None = None,
    ) -> list[Json]:
        found = [
            m
            for m in reversed(self.discord.messages(channel_id))
            if (before is None or int(m["id"]) < int(before))
            and (after is None or int(m["id"]) > int(after))
        ]
        return found[:limit]

    async def fetch_emojis(self, guild_id: str | int) -> list[Json]:
        return list(self.discord.emojis.get(str(guild_id), []))

    async def flush(self) -> None:
        while self._pending:
            _, op = self._pending.popitem()
            self.discord.edit(op)

    async def close(self) -> None:
        await self.flush()


@dataclass
class _Entry:
    t: float
    v: Any = None
    absent: bool = False


@dataclass
class FakeCache:
    """A ``CachePort`` in a dictionary, on ``clock``; same rules as the Redis cache."""

    config: DiscordConfig
    clock: Callable[[], float]
    entries: dict[tuple[str, ...], _Entry] = field(default_factory=dict)
    _flights: dict[tuple[str, ...], asyncio.Task[Any]] = field(default_factory=dict)
    _refreshing: dict[tuple[str, ...], asyncio.Task[None]] = field(default_factory=dict)
    _hits: OrderedDict[tuple[str, ...], int] = field(default_factory=OrderedDict)
    _failing: dict[tuple[str, ...], float] = field(default_factory=dict)

    async def get(self, kind: Kind, ids: Sequence[str | int], fetch: Fetch, what: str) -> Any:
        key = (kind.value, *(str(i) for i in ids))
        entry = self.entries.get(key)
        now = self.clock()
        ttl = self.config.ttls[kind]
        if entry is not None:
            age = now - entry.t
            if age >= (self.config.negative_ttl if entry.absent else ttl.stale):
                entry = None
        if entry is None:
            task = self._flights.get(key)
            if task is None:
                task = asyncio.create_task(self._fetch_and_store(kind, key, fetch, what))
                self._flights[key] = task
                task.add_done_callback(lambda _: self._flights.pop(key, None))
            return await asyncio.shield(task)
        fresh = self.config.negative_ttl if entry.absent else ttl.fresh
        if age < fresh:
            hits = self._hits[key] = self._hits.get(key, 0) + 1
            ahead = age >= fresh * (1 - self.config.refresh_ahead)
            hot = hits >= self.config.hot_hits and not entry.absent
            if ahead and hot and self._failing.get(key, 0.0) <= now:
                self._refresh_later(kind, key, fetch)
            return entry.v
        if self._failing.get(key, 0.0) <= now:
            self._refresh_later(kind, key, fetch)
        return None if entry.absent else entry.v

    async def get_many(
        self,
        kind: Kind,
        idss: Sequence[Sequence[str | int]],
        fetch_for: Callable[[Sequence[str | int]], Fetch],
        what_for: Callable[[Sequence[str | int]], str],
    ) -> list[Any | DiscordUnavailable]:
        results: list[Any | DiscordUnavailable] = []
        for ids in idss:
            try:
                results.append(await self.get(kind, ids, fetch_for(ids), what_for(ids)))
            except DiscordUnavailable as exc:
                results.append(exc)
        return results

    async def put(self, kind: Kind, ids: Sequence[str | int], value: Any) -> None:
        self._store((kind.value, *(str(i) for i in ids)), value, absent=False)

    async def invalidate(self, kind: Kind, ids: Sequence[str | int]) -> None:
        self.entries.pop((kind.value, *(str(i) for i in ids)), None)

    async def drain(self) -> None:
        while tasks := list(self._refreshing.values()):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in [*self._refreshing.values(), *self._flights.values()]:
            task.cancel()
        await asyncio.gather(
            *self._refreshing.values(), *self._flights.values(), return_exceptions=True
        )

    async def _fetch_and_store(
        self, kind: Kind, key: tuple[str, ...], fetch: Fetch, what: str
    ) -> Any:
        try:
            value = await fetch()
        except (NotFound, Forbidden):
            self._store(key, None, absent=True)
            return None
        except DISCORD_FAILURES as exc:
            reason, retry_after = describe(exc)
            raise DiscordUnavailable(what, reason, retry_after) from exc
        self._store(key, value, absent=False)
        return value

    def _store(self, key: tuple[str, ...], value: Any, *, absent: bool) -> None:
        # Stored as the Redis cache stores it: a JSON round trip.
        value = msgspec.json.decode(msgspec.json.encode(value))
        self.entries[key] = _Entry(self.clock(), value, absent)
        self._hits.pop(key, None)
        self._failing.pop(key, None)

    def _refresh_later(self, kind: Kind, key: tuple[str, ...], fetch: Fetch) -> None:
        if key in self._refreshing:
            return
        task = asyncio.create_task(self._refresh(kind, key, fetch))
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def _refresh(self, kind: Kind, key: tuple[str, ...], fetch: Fetch) -> None:
        try:
            await self._fetch_and_store(kind, key, fetch, ":".join(key))
        except DiscordUnavailable as exc:
            wait = max(exc.retry_after or 0.0, self.config.failure_backoff)
            self._failing[key] = self.clock() + wait
