"""Every benchmark's smoke mode, one after the other: ``python -m tests.bench --smoke``.

Each benchmark runs in a process of its own (its own servers, its own peak memory) with
``--smoke`` (tiny sizes, seconds) and prints its figures, peak memory and ratio line as its full
mode does. Exits non-zero, naming them, if any benchmark fails or runs past ``--timeout``; CI runs
this so that no benchmark can break unnoticed. Full runs: ``python -m tests.bench.<name>``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

NOT_BENCHMARKS = {"__init__", "__main__", "common"}
# Every module of this package is a benchmark, so a new one is smoke-run without registering.
BENCHMARKS = tuple(
    sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem not in NOT_BENCHMARKS)
)


def run_smoke(name: str, timeout: float) -> tuple[bool, float]:
    """Run one benchmark's smoke mode, its output passed through; (passed, seconds)."""
    print(f"== tests.bench.{name} --smoke", flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"tests.bench.{name}", "--smoke"], timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"!! tests.bench.{name} ran past {timeout:g} s", flush=True)
        return False, time.perf_counter() - started
    return done.returncode == 0, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="run every smoke mode (required)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="just these benchmarks")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per benchmark")
    args = parser.parse_args(argv)
    if not args.smoke:
        parser.error("give --smoke; a full run is python -m tests.bench.<name>")
    results = [(name, *run_smoke(name, args.timeout)) for name in args.only or BENCHMARKS]
    print("\n== benchmark smoke runs")
    for name, passed, seconds in results:
        print(f"  {name:<14} {'ok' if passed else 'FAILED':<7} {seconds:6.1f} s")
    failed = [name for name, passed, _ in results if not passed]
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
