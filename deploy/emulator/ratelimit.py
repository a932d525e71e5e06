"""Discord's rate limits: per-route buckets (per major parameter) and a global limit per token."""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MESSAGES = "messages"  # bucket shared by message creates and edits in one channel


@dataclass(slots=True)
class RateLimits:
    """Limits the emulator enforces; defaults follow what Discord documents and serves."""

    global_per_second: int = 50
    messages_per_channel: tuple[int, float] = (5, 5.0)
    default: tuple[int, float] = (50, 1.0)
    routes: dict[str, tuple[int, float]] = field(
        default_factory=lambda: {
            "DELETE /channels/{channel_id}/messages/{message_id}": (5, 1.0),
            "GET /guilds/{guild_id}/members": (10, 10.0),
            "PATCH /guilds/{guild_id}/members/{user_id}": (10, 10.0),
            "POST /users/@me/channels": (5, 5.0),
        }
    )
    # "fixed": a one-second window opens at the first request after the last one closed (as
    # Discord's per-route buckets do); "sliding": at most ``global_per_second`` requests in any
    # one second, the strictest reading of Discord's "50 requests per second".
    global_window: str = "fixed"

    @classmethod
    def relaxed(cls) -> RateLimits:
        """Limits high enough never to trigger (benchmarks of the emulator itself)."""
        return cls(10**9, (10**9, 1.0), (10**9, 1.0), {})


@dataclass(slots=True)
class Bucket:
    limit: int
    per: float
    remaining: int = 0
    reset_at: float = 0.0


@dataclass(slots=True)
class Decision:
    """The outcome of one check: headers to send and, when limited, how long to wait."""

    headers: dict[str, str]
    retry_after: float = 0.0
    scope: str | None = None  # "user" / "global" / "shared" when limited

    @property
    def limited(self) -> bool:
        return self.scope is not None


def bucket_hash(name: str) -> str:
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:32]


class RateLimiter:
    """Fixed windows as Discord serves them: a window opens at the first request."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], Bucket] = {}
        self._global: dict[str, tuple[float, int]] = {}
        self._sliding: dict[str, deque[float]] = {}
        self._hashes: dict[str, str] = {}

    def rule(self, route_key: str) -> tuple[str, int, float]:
        """(bucket hash, limit, window seconds) for a route such as ``GET /users/@me``.

        Read from ``limits`` on every call, so a test may change them at any time.
        """
        if route_key in (
            "POST /channels/{channel_id}/messages",
            "PATCH /channels/{channel_id}/messages/{message_id}",
        ):
            name, (limit, per) = MESSAGES, self.limits.messages_per_channel
        else:
            name, (limit, per) = route_key, self.limits.routes.get(route_key, self.limits.default)
        digest = self._hashes.get(name)
        if digest is None:
            digest = self._hashes[name] = bucket_hash(name)
        return digest, limit, per

    def check(self, route_key: str, major: str, token: str, *, global_limit: bool) -> Decision:
        """Count one request; the decision says whether to answer 429 and with which headers."""
        now = self.clock()
        if global_limit:
            retry = self._take_global(token, now)
            if retry is not None:
                return Decision(
                    {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}, retry, "global"
                )
        name, limit, per = self.rule(route_key)
        key = (name, major, token)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= 10_000:  # e.g. one bucket per interaction token
                self._forget_expired(now)
            bucket = self._buckets[key] = Bucket(limit, per)
        if now >= bucket.reset_at or bucket.limit != limit:
            bucket.limit, bucket.per = limit, per
            bucket.remaining, bucket.reset_at = limit, now + per
        reset_after = bucket.reset_at - now
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(bucket.remaining - 1, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": name,
        }
        if bucket.remaining <= 0:
            headers["X-RateLimit-Scope"] = "user"
            return Decision(headers, reset_after, "user")
        bucket.remaining -= 1
        return Decision(headers)

    def _take_global(self, token: str, now: float) -> float | None:
        """Count one request against the token's global limit; seconds to wait if over it."""
        limit = self.limits.global_per_second
        if self.limits.global_window == "sliding":
            recent = self._sliding.setdefault(token, deque())
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
            if len(recent) >= limit:
                return recent[len(recent) - limit] + 1.0 - now
            recent.append(now)
            return None
        start, count = self._global.get(token, (now, 0))
        if now - start >= 1.0:
            start, count = now, 0
        if count >= limit:
            return start + 1.0 - now
        self._global[token] = (start, count + 1)
        return None

    def _forget_expired(self, now: float) -> None:
        expired = [key for key, b in self._buckets.items() if now >= b.reset_at]
        for key in expired:
            del self._buckets[key]


def too_many_requests_body(retry_after: float, *, is_global: bool) -> dict[str, object]:
    """Discord's 429 body."""
    message = "You are being rate limited."
    return {"message": message, "retry_after": round(retry_after, 3), "global": is_global}


def retry_after_header(retry_after: float) -> str:
    """Discord's ``Retry-After`` header: whole seconds, rounded up."""
    return str(max(1, math.ceil(retry_after)))
