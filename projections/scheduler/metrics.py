"""Prometheus metrics of the scheduler (one set per registry)."""

from __future__ import annotations

from typing import ClassVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


class SchedulerMetrics:
    """``SchedulerMetrics.default()`` registers them once in the global registry."""

    _default: ClassVar[SchedulerMetrics | None] = None

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.registry = reg
        ns = "muster_scheduler"
        self.pending = Gauge(f"{ns}_pending", "Due times waiting", registry=reg)
        self.due_lag = Histogram(
            f"{ns}_due_lag_seconds",
            "From a due time to its command recorded (kind: remind, start, complete)",
            ["kind"],
            buckets=LAG_BUCKETS,
            registry=reg,
        )
        self.reminders = Counter(
            f"{ns}_reminders", "Reminders recorded (status: sent, skipped, failed)", ["status"],
            registry=reg,
        )  # fmt: skip
        self.lifecycle = Counter(
            f"{ns}_lifecycle", "Games started or completed", ["kind"], registry=reg
        )
        self.retries = Counter(f"{ns}_retries", "Due times put back to try again", registry=reg)

    @classmethod
    def default(cls) -> SchedulerMetrics:
        if cls._default is None:
            cls._default = cls(REGISTRY)
        return cls._default

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (tests, benchmarks); 0 when never set."""
        return self.registry.get_sample_value(name, labels) or 0.0
