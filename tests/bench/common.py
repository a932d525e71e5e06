"""Shared helpers for benchmarks: a throwaway local stack, timing, memory and table output."""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.stack import LocalStack


@contextmanager
def bench_stack() -> Iterator[LocalStack]:
    """Embedded servers in a temp dir, durable as in production defaults."""
    with tempfile.TemporaryDirectory(prefix="muster-bench-") as tmp:
        stack = LocalStack(data_dir=Path(tmp), durable=True, discard=True)
        with stack:
            yield stack


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Figure:
    """One measured row of a benchmark table."""

    name: str
    count: int
    seconds: float
    peak_mib: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else float("inf")


def timed(name: str, count: int, work: Callable[[], object]) -> Figure:
    """Run ``work`` once and report ``count`` operations over its wall time."""
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    figure = Figure(name, count, elapsed, peak_rss_mib())
    print(f"  {name:<58} {figure.rate:>10,.0f}/s  ({count} in {elapsed:.2f}s)", flush=True)
    return figure


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
