"""Shared helpers for benchmarks: a throwaway local stack, timing, memory and table output."""

from __future__ import annotations

import json
import resource
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# -- the one summary line each benchmark prints (``python -m tests.bench`` builds its table) --
SUMMARY_TAG = "bench-summary: "
Column = int | tuple[int, ...]


def _cell(row: Sequence[object], column: Column, sep: str) -> str:
    picked = (column,) if isinstance(column, int) else column
    return sep.join(str(row[i]) for i in picked if i < len(row) and str(row[i])).strip()


def summary(
    bench: str, rows: Iterable[Sequence[object]], columns: tuple[Column, Column, Column] = (0, 1, 2)
) -> None:
    """Print ``bench-summary: {"bench", "peak_mib", "rows": [[measure, figure, ratio], ...]}``.

    ``rows`` may be a table the benchmark printed already: ``columns`` picks which column (or
    columns: the measure's joined by a space, the others by " / ") is the measure, the figure and
    the ratio to the baseline.
    """
    measure, figure, ratio = columns
    picked = [[_cell(row, measure, " "), _cell(row, figure, " / "), _cell(row, ratio, " / ")]
              for row in rows]  # fmt: skip
    line = {"bench": bench, "peak_mib": round(peak_rss_mib()), "rows": picked}
    print(SUMMARY_TAG + json.dumps(line, ensure_ascii=False), flush=True)


def parse_summary(line: str) -> dict[str, Any] | None:
    """The summary a benchmark printed on ``line``, or None if the line is not one."""
    if not line.startswith(SUMMARY_TAG):
        return None
    try:
        found = json.loads(line[len(SUMMARY_TAG) :])
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) and isinstance(found.get("rows"), list) else None
