"""Settings of the Discord REST client, filled in by the composition root (``deploy/``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gateways.discord.keys import DEFAULT_PREFIX, NEGATIVE_TTL, TTLS, Freshness, Kind
from gateways.profiles import PREFIX as PROFILES_PREFIX

OutboundMode = Literal["direct", "in_process", "external"]


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    """Everything tunable; every default is what production should use."""

    token: str = field(repr=False)  # a secret: never in a repr, a log line or a traceback
    api_base: str = "https://discord.com/api/v10"

    # -- cache ---------------------------------------------------------------------------
    key_prefix: str = DEFAULT_PREFIX
    ttls: Mapping[Kind, Freshness] = field(default_factory=lambda: dict(TTLS))
    negative_ttl: float = NEGATIVE_TTL
    # Single-flight lock in Redis: renewed every third of this while its holder fetches, so a
    # crashed holder frees it after at most this long and a slow fetch keeps it.
    lock_ttl: float = 5.0
    flight_wait: float | None = None  # how long a loser waits; None = ``worst_fetch``
    hot_hits: int = 3  # hits within one fresh age that make a key "hot"
    refresh_ahead: float = 0.2  # hot keys refresh in the last 20 % of their fresh age
    failure_backoff: float = 5.0  # after a failed refresh, serve stale without retrying for this
    fetch_concurrency: int = 8  # parallel member fetches of one batch lookup

    # -- HTTP and rate limits --------------------------------------------------------------
    max_retries: int = 3
    backoff: tuple[float, ...] = (1.0, 2.0, 4.0)  # when a 429/5xx carries no Retry-After
    request_timeout: float = 10.0
    global_per_second: int = 50  # Discord's own limit per bot token (see ``budget.py``)
    channel_budget: tuple[int, float] = (5, 5.0)  # message creates + edits per channel
    # Seconds added to every window. Latency and its jitter need none (a slot is held until its
    # answer arrives); this covers the rounding of Redis's clock and Discord's.
    budget_margin: float = 0.02
    # A slot still in flight counts as "now" for this long at most (a process that dies
    # mid-request frees its slots after it); longer than any request (``request_timeout``).
    slot_lease: float = 15.0
    edit_spacing: float | None = None  # between edits in a busy channel; None = window/limit
    # The longest a request waits for its turn (rate-limit blocks, budgets, Retry-After); past
    # it the request fails with ``TurnTimeout`` instead of waiting on.
    turn_wait: float = 30.0

    # -- outbound ----------------------------------------------------------------------------
    outbound: OutboundMode = "in_process"
    queue_size: int = 1000  # in_process: operations waiting, over all channels
    ops_stream: str = "DISCORD_OPS"
    ops_prefix: str = "discord.ops"
    dead_prefix: str = "discord.dead"
    ack_wait: float = 30.0  # external: an operation is redelivered if not done by then
    max_attempts: int = 5  # external: deliveries before an operation is dead-lettered
    reply_timeout: float = 30.0  # external: how long a caller waits for the worker's reply
    worker_concurrency: int = 64  # external: operations a worker holds at once

    # -- display names -----------------------------------------------------------------------
    profiles_prefix: str = PROFILES_PREFIX

    @property
    def worst_fetch(self) -> float:
        """Seconds one request can take under the retry policy: every try waits its longest
        turn and times out, and every pause before a retry (a backoff or a Retry-After) is as
        long as allowed, ``turn_wait`` (a longer one is not waited: the error is raised)."""
        tries = self.max_retries + 1
        return tries * (self.turn_wait + self.request_timeout) + self.max_retries * self.turn_wait

    @property
    def loser_wait(self) -> float:
        """How long a lookup waits for another process's fetch of the same key."""
        return self.worst_fetch if self.flight_wait is None else self.flight_wait

    @property
    def spacing(self) -> float:
        """Seconds between two edits in a channel that has written recently."""
        if self.edit_spacing is not None:
            return self.edit_spacing
        limit, per = self.channel_budget
        return per / limit
