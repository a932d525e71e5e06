"""HTTP to Discord: discord.py's ``HTTPClient`` with Muster's retry policy and shared limits.

What is discord.py's and reused as is: ``Route`` (URLs, bucket keys, major parameters), the
per-bucket ``Ratelimit`` (learns limits from ``X-RateLimit-*`` headers and sleeps *before* a bucket
is exhausted), the bucket-hash bookkeeping, the endpoint helpers (``get_member``,
``send_message``, ``edit_message`` …), ``handle_message_parameters`` (``nonce`` +
``enforce_nonce``) and its exception types.

What ``request`` changes, because the issue asks for a different policy than discord.py's loop
(five tries, body ``retry_after`` only, no cross-process view): at most ``max_retries`` retries;
a 429 waits the larger of ``Retry-After`` and the body's ``retry_after`` and blocks its bucket (or
all, when global) in Redis for every process; 5xx and network errors back off 1, 2, 4 s unless a
``Retry-After`` says otherwise; a wait longer than ``turn_wait`` is not waited (the error is
raised); any other 4xx raises at once. Before each attempt the shared
:class:`~gateways.discord.budget.Gate` takes a global slot and, for message writes, a channel slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any
from urllib.parse import quote

import aiohttp
import discord.http
import msgspec
from discord.errors import DiscordServerError, Forbidden, HTTPException, NotFound, RateLimited
from discord.http import Ratelimit, Route, json_or_text

from gateways.discord.budget import Gate, Turn
from gateways.discord.config import DiscordConfig
from gateways.discord.metrics import Metrics

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 522, 524})
MESSAGE_WRITES = frozenset(
    {
        "POST /channels/{channel_id}/messages",
        "PATCH /channels/{channel_id}/messages/{message_id}",
    }
)


def _retry_after(response: aiohttp.ClientResponse, data: Any) -> float | None:
    """Seconds Discord asked us to wait: the larger of the header and the body, if any."""
    values: list[float] = []
    header = response.headers.get("Retry-After")
    if header:
        try:
            values.append(float(header))
        except ValueError:
            log.debug("unparseable Retry-After %r", header)
    if isinstance(data, dict) and isinstance(data.get("retry_after"), int | float):
        values.append(float(data["retry_after"]))
    return max(values) if values else None


def _counted_at(response: aiohttp.ClientResponse) -> float | None:
    """Discord's Unix time when it counted the request: ``X-RateLimit-Reset`` (when the
    bucket resets) less ``X-RateLimit-Reset-After`` (how long that was from then)."""
    reset = response.headers.get("X-RateLimit-Reset")
    after = response.headers.get("X-RateLimit-Reset-After")
    if reset is None or after is None:
        return None
    try:
        return float(reset) - float(after)
    except ValueError:
        return None


class _Retry(Exception):
    """An attempt that may be retried: the error to raise if not, and Discord's wait if given."""

    def __init__(self, error: Exception, delay: float | None) -> None:
        super().__init__(str(error))
        self.error, self.delay = error, delay


class DiscordHTTP(discord.http.HTTPClient):
    """One bot token's HTTP client; ``await start()`` before use, ``await close()`` after."""

    def __init__(self, config: DiscordConfig, gate: Gate, metrics: Metrics) -> None:
        super().__init__(asyncio.get_running_loop())
        self.config, self.gate, self.metrics = config, gate, metrics
        self.token = config.token
        self.api_base = config.api_base.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the connection pool."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, route: Route) -> str:
        """``route.url`` rebased on this client's ``api_base`` (``Route.BASE`` is global)."""
        base = Route.BASE
        if not route.url.startswith(base):
            raise ValueError(f"{route.url} does not start with Route.BASE {base}")
        return self.api_base + route.url[len(base) :]

    def bucket_of(self, route: Route) -> str:
        """The bucket a route is limited by: Discord's hash once known, else the route key."""
        return f"{self._bucket_hashes.get(route.key, route.key)}:{route.major_parameters}"

    async def request(
        self,
        route: Route,
        *,
        files: Any = None,
        form: Any = None,
        bearer: str | None = None,
        admitted: bool = False,
        slot: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send one request, waiting for budgets first; retries as described in the module.

        ``admitted``: the caller already took this request's slot with :meth:`admit` (the first
        attempt then goes at once; retries wait their turn again); ``slot`` is that slot's id,
        released when the answer arrives (without it the slot's lease runs out by itself).
        """
        if files or form:
            raise NotImplementedError("file uploads do not go through Muster's client")
        if self._session is None:
            raise RuntimeError("DiscordHTTP.start() was not awaited")
        session, url = self._session, self._url(route)
        rl_key = self._prepare(route, bearer, kwargs)
        async with self.get_ratelimit(rl_key) as ratelimit:
            for attempt in range(self.config.max_retries + 1):
                turn: Turn | None = None
                if bearer is None:
                    if admitted and attempt == 0:
                        if slot is not None:
                            turn = self.gate.turn_of(slot, self._channel_of(route))
                    else:
                        turn = await self.admit(route)
                counted: list[float] = []
                try:
                    try:
                        return await self._attempt(
                            session, route, url, kwargs, rl_key=rl_key, ratelimit=ratelimit,
                            counted=counted,
                        )  # fmt: skip
                    finally:  # answered (or given up): the slot counts from Discord's count
                        await self.gate.done(turn, counted[0] if counted else None)
                except _Retry as retry:
                    delay = retry.delay
                    if delay is None:
                        backoff = self.config.backoff
                        delay = backoff[min(attempt, len(backoff) - 1)]
                    if attempt >= self.config.max_retries or delay > self.config.turn_wait:
                        raise retry.error from None
                    log.info(
                        "%s: %s; retry %d in %.2f s", route.key, retry.error, attempt + 1, delay
                    )
                    await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def admit(self, route: Route) -> Turn:
        """Wait for ``route``'s turn and take its slot (global, and the channel's for writes);
        the slot is held until :meth:`Gate.done` (``request`` does it when the answer comes)."""
        blocks = {self.bucket_of(route), f"{route.key}:{route.major_parameters}"}
        return await self.gate.wait_turn(
            sorted(blocks),
            channel=self._channel_of(route),
            edit=route.key in MESSAGE_WRITES and route.method == "PATCH",
        )

    @staticmethod
    def _channel_of(route: Route) -> str | None:
        """The channel whose message budget ``route`` spends, if it is a message write."""
        return str(route.channel_id) if route.key in MESSAGE_WRITES else None

    def _prepare(self, route: Route, bearer: str | None, kwargs: dict[str, Any]) -> str:
        """Fill in headers and body; return the key of the route's discord.py bucket."""
        headers = {"User-Agent": self.user_agent}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
            token_tag = hashlib.sha256(bearer.encode()).hexdigest()[:16]
            rl_key = f"bearer:{token_tag}:{route.key}"
        else:
            headers["Authorization"] = f"Bot {self.token}"
            rl_key = self.bucket_of(route)
        if "json" in kwargs:
            headers["Content-Type"] = "application/json"
            kwargs["data"] = msgspec.json.encode(kwargs.pop("json"))
        reason = kwargs.pop("reason", None)
        if reason:
            headers["X-Audit-Log-Reason"] = quote(reason, safe="/ ")
        kwargs["headers"] = headers
        return rl_key

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        route: Route,
        url: str,
        kwargs: dict[str, Any],
        *,
        rl_key: str,
        ratelimit: Ratelimit,
        counted: list[float],
    ) -> Any:
        """One HTTP exchange: the payload, a raised error, or ``_Retry``; appends to
        ``counted`` when Discord counted the request, if its headers tell."""
        try:
            async with session.request(route.method, url, **kwargs) as response:
                when = _counted_at(response)
                if when is not None:
                    counted.append(when)
                data = await json_or_text(response)
                self._learn_bucket(route, response, rl_key, ratelimit)
                status = response.status
                self.metrics.calls.labels(route.key, str(status)).inc()
                if 200 <= status < 300:
                    return data
                if status == 429:
                    # Until this request's retry succeeds, the others on its bucket wait (they
                    # are woken when it leaves the bucket, as discord.py does after a refresh).
                    ratelimit.remaining, ratelimit.expires = 0, None
                    raise await self._rate_limited(route, response, data)
                if status in RETRY_STATUSES:
                    raise _Retry(DiscordServerError(response, data), _retry_after(response, data))
                if status == 403:
                    raise Forbidden(response, data)
                if status == 404:
                    raise NotFound(response, data)
                raise HTTPException(response, data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.metrics.calls.labels(route.key, "error").inc()
            raise _Retry(exc, None) from exc

    async def _rate_limited(
        self, route: Route, response: aiohttp.ClientResponse, data: Any
    ) -> _Retry:
        scope = response.headers.get("X-RateLimit-Scope", "user")
        is_global = scope == "global" or bool(isinstance(data, dict) and data.get("global"))
        self.metrics.rate_limited.labels(route.key, "global" if is_global else scope).inc()
        delay = _retry_after(response, data)
        wait = delay if delay is not None else self.config.backoff[0]
        if is_global:
            await self.gate.block("global", wait)
        else:  # under both names: other processes may not know Discord's bucket hash yet
            for bucket in {self.bucket_of(route), f"{route.key}:{route.major_parameters}"}:
                await self.gate.block(bucket, wait)
        return _Retry(RateLimited(wait), delay)

    def _learn_bucket(
        self, route: Route, response: aiohttp.ClientResponse, rl_key: str, ratelimit: Ratelimit
    ) -> None:
        """discord.py's bookkeeping: map the route to Discord's bucket hash, update the bucket."""
        discord_hash = response.headers.get("X-Ratelimit-Bucket")
        if discord_hash is not None and self._bucket_hashes.get(route.key) != discord_hash:
            self._bucket_hashes[route.key] = discord_hash
            self._buckets[f"{discord_hash}:{route.major_parameters}"] = ratelimit
            if rl_key != f"{discord_hash}:{route.major_parameters}":
                self._buckets.pop(rl_key, None)
        if "X-Ratelimit-Remaining" in response.headers and response.status != 429:
            ratelimit.update(response, use_clock=self.use_clock)

    # -- endpoints discord.py's HTTPClient lacks ------------------------------------------
    def search_members(self, guild_id: int | str, query: str, limit: int) -> Any:
        route = Route("GET", "/guilds/{guild_id}/members/search", guild_id=guild_id)
        return self.request(route, params={"query": query, "limit": limit})

    def get_user_guilds(self, access_token: str) -> Any:
        return self.request(Route("GET", "/users/@me/guilds"), bearer=access_token)
