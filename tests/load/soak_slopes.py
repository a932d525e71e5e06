"""Slopes of a soak's memory series over windows of its load (from ``rss.jsonl``).

    python -m tests.load.soak_slopes OUT/rss.jsonl --windows 1-30 10-30 20-30 20-55

Each window is ``FROM-TO`` in minutes since the first sample; every series of ``rss`` and
``mem`` (and NATS's log counts) gets its value at the window's start and end and its
least-squares slope per hour.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tests.load.sampler import slope_per_hour


def series(rows: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Every memory series (and the log's counts) as (seconds since the first row, value)."""
    t0 = rows[0]["t"]
    out: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        values = {**row.get("rss", {}), **row.get("mem", {})}
        values.update({f"nats {k}": v for k, v in row.get("nats", {}).items()
                       if k.startswith("log_")})  # fmt: skip
        for name, value in values.items():
            if value:
                out.setdefault(name, []).append((row["t"] - t0, float(value)))
    return out


def window(points: list[tuple[float, float]], start: float, end: float) -> dict[str, float]:
    """First and last value and the slope per hour between ``start`` and ``end`` minutes."""
    kept = [p for p in points if start * 60 <= p[0] <= end * 60]
    if not kept:
        return {}
    return {"first": kept[0][1], "last": kept[-1][1], "per_h": slope_per_hour(kept)}


def cell(w: dict[str, float]) -> str:
    """One window as printed: first > last, slope per hour."""
    return f"{w['first']:8.1f}>{w['last']:7.1f} {w['per_h']:+6.1f}" if w else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.soak_slopes")
    parser.add_argument("rss", type=Path)
    parser.add_argument("--windows", nargs="+", default=["1-30", "10-30", "20-30"])
    args = parser.parse_args(argv)
    rows = [json.loads(x) for x in args.rss.read_text().splitlines() if x.strip()]
    spans = [tuple(float(x) for x in w.split("-")) for w in args.windows]
    print(f"{'series':<30}" + "".join(f"{w:>22}" for w in args.windows))
    for name, points in series(rows).items():
        cells = []
        for start, end in spans:
            w = window(points, start, end)
            cells.append(cell(w))
        print(f"{name:<30}" + "".join(f"{c:>22}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
