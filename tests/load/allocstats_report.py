"""Slopes of the allocator figures a soak recorded (``--allocstats``, deploy/allocstats.py).

    python -m tests.load.allocstats_report OUT/allocstats --windows 20-60 40-60

For every process and every figure (RSS, its anonymous part, pymalloc's arenas, live and free
bytes, glibc's heap, mappings, live and free bytes): its value at the window's start and end
(minutes since the process's first sample) and the least-squares slope per hour, so growth can
be put down to live memory or to space an allocator keeps.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tests.load.soak_slopes import cell, window

FIGURES = (
    "rss_mib", "anon_mib", "py_arenas", "py_used_mib", "py_free_blocks_mib", "py_free_pools_mib",
    "malloc_sbrk_mib", "malloc_mmap_mib", "malloc_used_mib", "malloc_free_mib", "held_mib",
    "other_anon_mib",
)  # fmt: skip


def load(folder: Path) -> dict[str, list[dict[str, float]]]:
    """Every process's samples, by file stem (``<name>-<pid>``), in time order."""
    return {
        path.stem: [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        for path in sorted(folder.glob("*.jsonl"))
    }


def derived(row: dict[str, float]) -> dict[str, float]:
    """``held_mib``: what the allocators hold from the OS (pymalloc's 1 MiB arenas, glibc's
    heap and mappings); ``other_anon_mib``: the anonymous RSS beyond it (stacks, memory not
    from either allocator, less pages held but never touched)."""
    if "malloc_sbrk_mib" not in row:
        return {}
    held = row.get("py_arenas", 0.0) + row["malloc_sbrk_mib"] + row["malloc_mmap_mib"]
    return {"held_mib": held, "other_anon_mib": row["anon_mib"] - held}


def slopes(rows: list[dict[str, float]], start: float, end: float) -> dict[str, dict[str, float]]:
    """For each figure: first, last and MiB (or arenas) per hour between the minutes given."""
    t0 = rows[0]["t"]
    rows = [{**row, **derived(row)} for row in rows]
    found = {}
    for figure in FIGURES:
        points = [(row["t"] - t0, float(row[figure])) for row in rows if figure in row]
        w = window(points, start, end)
        if w:
            found[figure] = w
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.allocstats_report")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--windows", nargs="+", default=["20-60", "40-60"])
    args = parser.parse_args(argv)
    spans = [tuple(float(x) for x in w.split("-")) for w in args.windows]
    for stem, rows in load(args.folder).items():
        print(f"{stem} ({len(rows)} samples)")
        print(f"  {'figure':<20}" + "".join(f"{w:>24}" for w in args.windows))
        cells_by_figure: dict[str, list[str]] = {}
        for start, end in spans:
            for figure, w in slopes(rows, start, end).items():
                cells_by_figure.setdefault(figure, []).append(cell(w))
        for figure, cells in cells_by_figure.items():
            print(f"  {figure:<20}" + "".join(f"{c:>24}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
