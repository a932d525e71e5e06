"""The shared Redis cache: single flight, stale-while-revalidate and refresh-ahead.

An entry is ``{"t": fetched_at, "v": payload}`` (or ``"absent": true`` when Discord said 404/403)
under the key from :mod:`gateways.discord.keys`; Redis expires it at its *stale* age (absent ones
at ``negative_ttl``). A lookup then goes:

* fresh → served (hot keys, hit ``hot_hits`` times, are refreshed in the background during the
  last ``refresh_ahead`` share of their fresh age, so they never go stale);
* stale → served at once, and refreshed in the background by one process (a Redis lock); when
  that refresh fails the value keeps being served (counted) and the next try waits a while;
* missing → one Discord call per key: callers in this process share one task, other processes
  find the Redis lock taken and poll for the winner's value; with no value and Discord failing,
  :class:`~gateways.discord.errors.DiscordUnavailable` is raised.

The lock lives ``lock_ttl`` and its holder renews it every third of that while it fetches, so a
fetch as slow as the retry policy allows (``DiscordConfig.worst_fetch``) keeps it, and a holder
that crashed frees it within ``lock_ttl``. Losers wait up to ``DiscordConfig.loser_wait``
(``worst_fetch`` unless set), so a slow Discord costs neither a second fetch nor a spurious
"unavailable"; if the lock frees with no value written (the holder failed or died), a loser takes
it and fetches itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import msgspec
from discord.errors import Forbidden, HTTPException, NotFound, RateLimited
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateways.discord.config import DiscordConfig
from gateways.discord.errors import DiscordUnavailable, TurnTimeout
from gateways.discord.keys import Keys, Kind
from gateways.discord.metrics import Metrics

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[Any]]
DISCORD_FAILURES = (HTTPException, RateLimited, aiohttp.ClientError, TimeoutError)
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_TRACKED = 10_000  # keys whose hits and failures this process remembers


class Entry(msgspec.Struct, frozen=True, omit_defaults=True):
    t: float
    v: Any = None
    absent: bool = False


def describe(exc: BaseException) -> tuple[str, float | None]:
    """A short reason and, for rate limits, the seconds to wait."""
    if isinstance(exc, RateLimited):
        return f"rate limited, retry in {exc.retry_after:.1f} s", exc.retry_after
    if isinstance(exc, HTTPException):
        return f"Discord returned {exc.status}", None
    if isinstance(exc, TurnTimeout):
        return str(exc), exc.seconds
    if isinstance(exc, TimeoutError):
        return "timed out", None
    return f"connection failed ({type(exc).__name__})", None


class Cache:
    """Read-through cache over Redis for one bot token (see the module docstring)."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        config: DiscordConfig,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.keys, self.config, self.metrics = redis, keys, config, metrics
        self.clock = clock
        self._decode = msgspec.json.Decoder(Entry).decode
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)
        self._flights: dict[str, asyncio.Task[Any]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._hits: OrderedDict[str, int] = OrderedDict()
        self._failing: OrderedDict[str, float] = OrderedDict()

    # -- public -------------------------------------------------------------------------
    async def get(self, kind: Kind, ids: Sequence[str | int], fetch: Fetch, what: str) -> Any:
        """The value for ``kind``/``ids`` (``None`` when Discord says it does not exist)."""
        key = self.keys.entry(kind, *ids)
        return await self._serve(kind, key, await self.redis.get(key), fetch, what)

    async def get_many(
        self,
        kind: Kind,
        idss: Sequence[Sequence[str | int]],
        fetch_for: Callable[[Sequence[str | int]], Fetch],
        what_for: Callable[[Sequence[str | int]], str],
    ) -> list[Any | DiscordUnavailable]:
        """Many lookups with one ``MGET``; misses are fetched concurrently (bounded).

        Each result is the value, ``None`` (absent) or the ``DiscordUnavailable`` for that key.
        """
        keys = [self.keys.entry(kind, *ids) for ids in idss]
        raws = await self.redis.mget(keys) if keys else []
        gate = asyncio.Semaphore(self.config.fetch_concurrency)

        async def one(ids: Sequence[str | int], key: str, raw: bytes | str | None) -> Any:
            if raw is not None:
                return await self._serve(kind, key, raw, fetch_for(ids), what_for(ids))
            async with gate:
                return await self._serve(kind, key, None, fetch_for(ids), what_for(ids))

        results = await asyncio.gather(
            *(one(ids, k, r) for ids, k, r in zip(idss, keys, raws, strict=True)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, DiscordUnavailable):
                raise result
        return results

    async def put(self, kind: Kind, ids: Sequence[str | int], value: Any) -> None:
        """Write a value seen elsewhere (e.g. a gateway event) as freshly fetched."""
        await self._store(kind, self.keys.entry(kind, *ids), value, absent=False)

    async def invalidate(self, kind: Kind, ids: Sequence[str | int]) -> None:
        await self.redis.delete(self.keys.entry(kind, *ids))

    async def drain(self) -> None:
        """Wait until every background refresh started so far has finished."""
        while tasks := list(self._refreshing.values()):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel background refreshes."""
        tasks = [*self._refreshing.values(), *self._flights.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- serving ------------------------------------------------------------------------
    async def _serve(
        self, kind: Kind, key: str, raw: bytes | str | None, fetch: Fetch, what: str
    ) -> Any:
        if raw is None:
            self.metrics.cache_misses.labels(kind.value).inc()
            return await self._load(kind, key, fetch, what)
        entry = self._decode(raw)
        age = self.clock() - entry.t
        ttl = self.config.ttls[kind]
        if age >= (self.config.negative_ttl if entry.absent else ttl.stale):
            # Expired by this cache's clock (Redis expires it by its own): a miss.
            self.metrics.cache_misses.labels(kind.value).inc()
            return await self._load(kind, key, fetch, what)
        fresh = self.config.negative_ttl if entry.absent else ttl.fresh
        if age < fresh:
            self.metrics.cache_hits.labels(kind.value).inc()
            hits = self._remember(self._hits, key, self._hits.get(key, 0) + 1)
            ahead = age >= fresh * (1 - self.config.refresh_ahead)
            hot = hits >= self.config.hot_hits and not entry.absent
            if ahead and hot and self._failing.get(key, 0.0) <= self.clock():
                self._refresh_later(kind, key, fetch, "ahead")
            return entry.v
        failing_until = self._failing.get(key, 0.0)
        if failing_until > self.clock():
            self.metrics.stale_served.labels(kind.value, "discord_failed").inc()
        else:
            self.metrics.stale_served.labels(kind.value, "revalidating").inc()
            self._refresh_later(kind, key, fetch, "stale")
        return None if entry.absent else entry.v

    # -- misses: single flight ----------------------------------------------------------
    async def _load(self, kind: Kind, key: str, fetch: Fetch, what: str) -> Any:
        task = self._flights.get(key)
        if task is None:
            task = asyncio.create_task(self._load_across(kind, key, fetch, what))
            self._flights[key] = task
            task.add_done_callback(lambda t: self._landed(key, t))
        else:
            self.metrics.flight_waits.labels(kind.value, "process").inc()
        return await asyncio.shield(task)

    def _landed(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved: every caller already got it

    async def _load_across(self, kind: Kind, key: str, fetch: Fetch, what: str) -> Any:
        """Take the Redis lock and fetch, or wait for the process holding it."""
        lock, token = self.keys.lock(key), uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.loser_wait
        pause, waited = 0.005, False
        while True:
            if await self._acquire(lock, token):
                async with self._holding(lock, token):
                    raw = await self.redis.get(key) if waited else None
                    if raw is not None:  # the winner wrote it just before releasing
                        entry = self._decode(raw)
                        return None if entry.absent else entry.v
                    return await self._fetch_and_store(kind, key, fetch, what)
            if not waited:
                waited = True
                self.metrics.flight_waits.labels(kind.value, "redis").inc()
            if loop.time() >= deadline:
                raise DiscordUnavailable(what, "timed out waiting for another lookup")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            raw = await self.redis.get(key)
            if raw is not None:
                entry = self._decode(raw)
                return None if entry.absent else entry.v

    async def _acquire(self, lock: str, token: str) -> bool:
        ttl_ms = max(1, int(self.config.lock_ttl * 1000))
        return bool(await self.redis.set(lock, token, nx=True, px=ttl_ms))

    @contextlib.asynccontextmanager
    async def _holding(self, lock: str, token: str) -> AsyncIterator[None]:
        """Renew the lock while the body runs; release it after."""
        renewer = asyncio.create_task(self._keep_renewed(lock, token))
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await self._release(keys=[lock], args=[token])

    async def _keep_renewed(self, lock: str, token: str) -> None:
        ttl_ms = max(1, int(self.config.lock_ttl * 1000))
        while True:
            await asyncio.sleep(self.config.lock_ttl / 3)
            try:
                renewed = await self._renew(keys=[lock], args=[token, ttl_ms])
            except RedisError as exc:  # the fetch goes on; a loser may fetch too
                log.warning("could not renew the lock %s: %s", lock, exc)
                continue
            if not renewed:
                log.warning("lost the lock %s while fetching", lock)
                return
            self.metrics.lock_renewals.inc()

    async def _fetch_and_store(self, kind: Kind, key: str, fetch: Fetch, what: str) -> Any:
        try:
            value = await fetch()
        except (NotFound, Forbidden):
            await self._store(kind, key, None, absent=True)
            return None
        except DISCORD_FAILURES as exc:
            reason, retry_after = describe(exc)
            raise DiscordUnavailable(what, reason, retry_after) from exc
        await self._store(kind, key, value, absent=False)
        return value

    async def _store(self, kind: Kind, key: str, value: Any, *, absent: bool) -> None:
        entry = Entry(t=self.clock(), v=value, absent=absent)
        ttl = self.config.negative_ttl if absent else self.config.ttls[kind].stale
        await self.redis.set(key, msgspec.json.encode(entry), px=max(1, int(ttl * 1000)))
        self._hits.pop(key, None)
        self._failing.pop(key, None)

    # -- background refresh -------------------------------------------------------------
    def _refresh_later(self, kind: Kind, key: str, fetch: Fetch, trigger: str) -> None:
        if key in self._refreshing:
            return
        task = asyncio.create_task(self._refresh(kind, key, fetch, trigger))
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def _refresh(self, kind: Kind, key: str, fetch: Fetch, trigger: str) -> None:
        lock, token = self.keys.lock(key), uuid.uuid4().hex
        if not await self._acquire(lock, token):
            return  # another process is refreshing it
        async with self._holding(lock, token):
            try:
                await self._fetch_and_store(kind, key, fetch, key)
            except DiscordUnavailable as exc:
                wait = max(exc.retry_after or 0.0, self.config.failure_backoff)
                self._remember(self._failing, key, self.clock() + wait)
                self.metrics.refreshes.labels(kind.value, trigger, "failed").inc()
                log.warning("refresh of %s failed (%s); serving the stale value", key, exc.reason)
            else:
                self.metrics.refreshes.labels(kind.value, trigger, "ok").inc()

    @staticmethod
    def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> Any:
        table[key] = value
        table.move_to_end(key)
        if len(table) > _TRACKED:
            table.popitem(last=False)
        return value
