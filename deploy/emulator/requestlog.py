"""The request log: every REST request the emulator answered, for tests and benchmarks."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class RequestRecord:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    route: str  # e.g. "POST /channels/{channel_id}/messages" (discord.py's Route.key)
    status: int
    duration: float  # seconds spent in the emulator
    scope: str | None = None  # rate-limit scope of a 429 ("user", "global", "shared")

    def as_dict(self) -> dict[str, object]:
        return {
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "status": self.status,
            "duration_ms": round(self.duration * 1000, 3),
            "scope": self.scope,
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class RequestLog:
    """Bounded list of records plus running counters that never lose counts."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.records: deque[RequestRecord] = deque(maxlen=maxlen)
        self.counts: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)
        self.counts[record.route] += 1
        if record.status == 429:
            self.rate_limited[record.route] += 1

    def entries(self, route: str | None = None) -> list[RequestRecord]:
        return [r for r in self.records if route is None or r.route == route]

    def count(self, route: str | None = None) -> int:
        return self.counts[route] if route is not None else sum(self.counts.values())

    @property
    def total_429(self) -> int:
        return sum(self.rate_limited.values())

    def clear(self) -> None:
        self.records.clear()
        self.counts.clear()
        self.rate_limited.clear()

    def summary(self) -> dict[str, object]:
        """Counts per route, 429s served, and latency (ms) overall and per route."""
        per_route: dict[str, dict[str, object]] = {}
        durations: dict[str, list[float]] = {}
        for r in self.records:
            durations.setdefault(r.route, []).append(r.duration * 1000)
        for route, count in self.counts.items():
            d = durations.get(route, [])
            per_route[route] = {
                "count": count,
                "rate_limited": self.rate_limited[route],
                "p50_ms": round(percentile(d, 50), 3) if d else None,
                "p99_ms": round(percentile(d, 99), 3) if d else None,
            }
        everything = [x for d in durations.values() for x in d]
        return {
            "total": self.count(),
            "rate_limited": self.total_429,
            "p50_ms": round(percentile(everything, 50), 3) if everything else None,
            "p99_ms": round(percentile(everything, 99), 3) if everything else None,
            "routes": per_route,
        }
