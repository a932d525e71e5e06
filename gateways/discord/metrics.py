"""Prometheus metrics of the Discord REST client (one set per registry)."""

from __future__ import annotations

from typing import ClassVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


class Metrics:
    """Counters and gauges; ``Metrics.default()`` registers them once in the global registry."""

    _default: ClassVar[Metrics | None] = None

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.registry = reg
        ns = "muster_discord"
        self.cache_hits = Counter(f"{ns}_cache_hits", "Fresh cache hits", ["kind"], registry=reg)
        self.cache_misses = Counter(
            f"{ns}_cache_misses", "Lookups with nothing cached", ["kind"], registry=reg
        )
        self.stale_served = Counter(
            f"{ns}_cache_stale_served",
            "Stale values served (reason: revalidating, discord_failed)",
            ["kind", "reason"],
            registry=reg,
        )
        self.refreshes = Counter(
            f"{ns}_cache_refreshes",
            "Background refreshes (trigger: stale, ahead; outcome: ok, failed)",
            ["kind", "trigger", "outcome"],
            registry=reg,
        )
        self.flight_waits = Counter(
            f"{ns}_single_flight_waits",
            "Lookups that waited for another's Discord call (scope: process, redis)",
            ["kind", "scope"],
            registry=reg,
        )
        self.lock_renewals = Counter(
            f"{ns}_single_flight_renewals",
            "Single-flight locks renewed because their fetch was still running",
            registry=reg,
        )
        self.calls = Counter(
            f"{ns}_calls", "Discord HTTP responses", ["route", "status"], registry=reg
        )
        self.rate_limited = Counter(
            f"{ns}_rate_limited", "429 responses received", ["route", "scope"], registry=reg
        )
        self.queue_depth = Gauge(
            f"{ns}_queue_depth", "Outbound operations waiting", ["mode"], registry=reg
        )
        self.coalesced = Counter(
            f"{ns}_coalesced_edits", "Edits replaced by newer content", ["mode"], registry=reg
        )
        self.ops = Counter(
            f"{ns}_operations", "Outbound operations finished", ["mode", "op", "outcome"],
            registry=reg,
        )  # fmt: skip
        self.dead_letters = Counter(
            f"{ns}_dead_letters", "Operations given up and dead-lettered", ["op"], registry=reg
        )

    @classmethod
    def default(cls) -> Metrics:
        """The process-wide metrics, registered in ``prometheus_client.REGISTRY``."""
        if cls._default is None:
            cls._default = cls(REGISTRY)
        return cls._default

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (for tests and benchmarks); 0 when never set."""
        found = self.registry.get_sample_value(name, labels)
        return found or 0.0

    def total(self, name: str) -> float:
        """Sum of a counter over all its label values."""
        return sum(
            s.value for metric in self.registry.collect() for s in metric.samples if s.name == name
        )
