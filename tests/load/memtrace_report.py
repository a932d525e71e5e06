"""What grew in each traced process of a soak (``faultrun --tracemalloc``), from its snapshots.

    python -m tests.load.memtrace_report OUT/tracemalloc --from 720 --top 15

For every process (``<name>-<pid>``): the traced Python heap against the RSS over time (slopes
from ``--from`` seconds on), then the allocation sites that grew most between the snapshot
nearest ``--from`` and the last, by file and by traceback (deploy/memtrace.py takes them).
"""

from __future__ import annotations

import argparse
import json
import tracemalloc
from pathlib import Path
from typing import Any

from tests.load.sampler import slope_per_hour


def processes(folder: Path) -> dict[str, list[Path]]:
    """Each traced process's snapshots, oldest first."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.snap")):
        stem, _, _ = path.stem.rpartition("-")
        found.setdefault(stem, []).append(path)
    return found


def nearest(paths: list[Path], seconds: float) -> Path:
    return min(paths, key=lambda p: abs(int(p.stem.rpartition("-")[2]) - seconds))


def heap_against_rss(lines: list[dict[str, Any]], since: float) -> dict[str, float]:
    """Slopes (MiB/h) of the traced heap, tracemalloc's own memory and the RSS from ``since``."""
    kept = [x for x in lines if x["seconds"] >= since]
    out = {}
    for key in ("traced_mib", "overhead_mib", "rss_mib"):
        out[key] = slope_per_hour([(x["seconds"], x[key]) for x in kept])
    return out


def grown(old: Path, new: Path, key: str, top: int) -> list[str]:
    """The ``top`` statistics that grew most from ``old`` to ``new``, grouped by ``key``."""
    diff = tracemalloc.Snapshot.load(str(new)).compare_to(tracemalloc.Snapshot.load(str(old)), key)
    lines = []
    for stat in diff[:top]:
        frames = stat.traceback.format(limit=4 if key == "traceback" else 1, most_recent_first=True)
        where = " <- ".join(f.strip() for f in frames if not f.startswith("    "))
        lines.append(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                     f"(now {stat.size / 1024:8.1f} KiB)  {where}")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load.memtrace_report")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--from", dest="since", type=float, default=720, help="seconds")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    for stem, paths in processes(args.folder).items():
        log = args.folder / f"{stem}.jsonl"
        lines = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        old, new = nearest(paths, args.since), paths[-1]
        print(f"== {stem}: {old.name} -> {new.name}")
        if lines:
            first, last = lines[0], lines[-1]
            slopes = heap_against_rss(lines, args.since)
            print(f"   traced {first['traced_mib']:.1f} -> {last['traced_mib']:.1f} MiB, "
                  f"tracemalloc's own {last['overhead_mib']:.1f}, RSS {first['rss_mib']:.1f} -> "
                  f"{last['rss_mib']:.1f}; slopes from {args.since:g} s (MiB/h): traced "
                  f"{slopes['traced_mib']:+.1f}, own {slopes['overhead_mib']:+.1f}, "
                  f"RSS {slopes['rss_mib']:+.1f}")  # fmt: skip
        for key in ("filename", "traceback"):
            print(f"   -- by {key}")
            for line in grown(old, new, key, args.top):
                print(f"   {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
