"""Every benchmark, one after the other, and one table of their figures and ratios.

``python -m tests.bench`` runs each benchmark's full mode; ``--smoke`` runs each with tiny sizes
(seconds; CI runs it so that no benchmark can break unnoticed). Each benchmark runs in a process
of its own (its own servers, its own peak memory); its output is passed through as it comes, and
its ``bench-summary:`` lines (``tests/bench/common.py`` ``summary``) are collected. At the end one
markdown table lists every benchmark's measures with their figure and ratio to the baseline that
benchmark measured in the same run, followed by how each run ended. Exits non-zero, naming them,
if any benchmark fails, prints no summary, or runs past ``--timeout``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.common import parse_summary, table

NOT_BENCHMARKS = {
    "__init__",
    "__main__",
    "common",
    "bot_ports",
    "projection_log",
}  # helpers, not benchmarks
# Measuring instruments run by hand (CPU per thread, callgrind counts), not benchmarks with a
# figure and a baseline; tests/unit/test_bench_instruments.py keeps them importable.
INSTRUMENTS = {"bot_cpu", "join_path", "rebuild_instructions"}
# Every module of this package is a benchmark, so a new one is run without registering.
BENCHMARKS = tuple(
    sorted(
        p.stem
        for p in Path(__file__).parent.glob("*.py")
        if p.stem not in NOT_BENCHMARKS | INSTRUMENTS
    )
)


@dataclass
class Run:
    """How one benchmark's run ended, and the summaries it printed."""

    name: str
    status: str = "ok"
    seconds: float = 0.0
    summaries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "ok"


def run_one(name: str, smoke: bool, timeout: float) -> Run:
    """Run one benchmark, its output passed through, its summary lines kept."""
    argv = [sys.executable, "-m", f"tests.bench.{name}", *(["--smoke"] if smoke else [])]
    print(f"== {' '.join(argv[1:])}", flush=True)
    run = Run(name)
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1)
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    try:
        assert child.stdout is not None
        for line in child.stdout:
            print(line, end="", flush=True)
            found = parse_summary(line.rstrip("\n"))
            if found is not None:
                run.summaries.append(found)
        code = child.wait()
    finally:
        timer.cancel()
    run.seconds = time.perf_counter() - started
    if run.seconds >= timeout and code != 0:
        run.status = f"ran past {timeout:g} s"
    elif code != 0:
        run.status = f"FAILED (exit {code})"
    elif not run.summaries:
        run.status = "FAILED (no bench-summary line)"
    return run


def summary_table(runs: list[Run]) -> str:
    """One markdown table: benchmark, measure, figure, ratio to its baseline, peak RSS."""
    rows = []
    for run in runs:
        for found in run.summaries:
            peak = f"{found.get('peak_mib', '')} MiB"
            for measure, figure, ratio in found["rows"]:
                rows.append((found.get("bench", run.name), measure, figure, ratio, peak))
        if not run.summaries:
            rows.append((run.name, run.status, "", "", ""))
    return table(rows, ("benchmark", "measure", "figure", "ratio to baseline", "peak RSS"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (seconds per benchmark)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="just these benchmarks")
    parser.add_argument(
        "--timeout", type=float, help="seconds per benchmark (default: 90 smoke, 1800 full)"
    )
    args = parser.parse_args(argv)
    timeout = args.timeout or (90.0 if args.smoke else 1800.0)
    runs = [run_one(name, args.smoke, timeout) for name in args.only or BENCHMARKS]
    mode = (
        "smoke runs (tiny sizes: the figures check the plumbing, not speed)"
        if args.smoke
        else "full runs"
    )
    print(f"\n== benchmark summary, {mode}\n")
    print(summary_table(runs))
    print()
    for run in runs:
        print(f"  {run.name:<14} {run.status:<7} {run.seconds:6.1f} s")
    failed = [run.name for run in runs if not run.passed]
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
