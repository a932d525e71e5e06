"""Typed failures of the Discord REST client, for entry points to turn into clear messages."""

from __future__ import annotations


class DiscordError(Exception):
    """Base of the client's own errors."""


class DiscordUnavailable(DiscordError):
    """Discord could not answer and nothing (not even a stale value) is cached.

    ``what`` names the lookup (``member 123 in guild 456``), ``reason`` says why
    (``rate limited, retry in 2.0 s``, ``Discord returned 503``, ``timed out``).
    """

    def __init__(self, what: str, reason: str, retry_after: float | None = None) -> None:
        self.what, self.reason, self.retry_after = what, reason, retry_after
        super().__init__(f"Discord did not answer for {what}: {reason}")

    @property
    def user_message(self) -> str:
        """A sentence for people (ephemeral reply, HTTP 503 body)."""
        later = f" in {self.retry_after:.0f} s" if self.retry_after else " in a moment"
        return f"Discord is not answering right now; please try again{later}."


class OutboundError(DiscordError):
    """An outbound operation failed for good (Discord refused it, or attempts ran out)."""

    def __init__(self, op: str, reason: str, status: int | None = None, code: int | None = None):
        self.op, self.reason, self.status, self.code = op, reason, status, code
        super().__init__(f"{op} failed: {reason}")


class OutboundTimeout(DiscordError):
    """No reply in time; the operation may still be carried out later (it is idempotent)."""

    def __init__(self, op: str, seconds: float) -> None:
        self.op, self.seconds = op, seconds
        super().__init__(f"{op}: no reply within {seconds:.1f} s")


class TurnTimeout(DiscordError, TimeoutError):
    """A request's turn under the rate limits is further away than ``turn_wait`` allows.

    A ``TimeoutError``, so every caller treats it as Discord not answering in time.
    ``seconds`` is the whole wait (already waited and still ahead), ``ahead`` the part still
    ahead when the request gave up: when to try again.
    """

    def __init__(self, buckets: str, seconds: float, ahead: float | None = None) -> None:
        self.buckets, self.seconds = buckets, seconds
        self.ahead = seconds if ahead is None else ahead
        super().__init__(f"rate limits on {buckets} hold this request for {seconds:.1f} s")
