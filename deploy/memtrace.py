"""Opt-in tracemalloc snapshots of a running process, to attribute memory growth in a soak.

Off unless ``MUSTER_TRACEMALLOC`` names a directory (nothing is imported or started then).
With it, the process traces its allocations (8 frames each) and a daemon thread, every
``MUSTER_TRACEMALLOC_EVERY`` seconds (default 120), takes a snapshot and:

* appends a line to ``<dir>/<name>-<pid>.jsonl``: seconds since start, the traced size and its
  peak, tracemalloc's own memory and the process's RSS (MiB), so the Python heap can be held
  against the RSS;
* writes the snapshot to ``<dir>/<name>-<pid>-<seconds>.snap`` (``tracemalloc.Snapshot.load``);
  ``python -m tests.load.memtrace_report DIR`` prints what grew between two of them, by
  traceback and by file.

Tracing slows the process (several times for allocation-heavy code) and costs memory of its
own (reported), so a traced soak is for attribution, not for its slopes.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

FRAMES = 8


def start_if_asked(name: str) -> bool:
    """Start tracing and the snapshot thread if ``MUSTER_TRACEMALLOC`` is set."""
    folder = os.environ.get("MUSTER_TRACEMALLOC")
    if not folder:
        return False
    every = float(os.environ.get("MUSTER_TRACEMALLOC_EVERY") or 120)
    import tracemalloc

    tracemalloc.start(FRAMES)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    thread = threading.Thread(
        target=_snapshots, args=(out, f"{name}-{os.getpid()}", every), daemon=True,
        name="memtrace",
    )  # fmt: skip
    thread.start()
    return True


def _snapshots(out: Path, stem: str, every: float) -> None:
    started = time.monotonic()
    while True:
        time.sleep(every)
        write_snapshot(out, stem, round(time.monotonic() - started))


def write_snapshot(out: Path, stem: str, seconds: int) -> Path:
    """Dump a snapshot (without tracemalloc's and this module's own allocations) as
    ``<out>/<stem>-<seconds>.snap`` and append the sizes to ``<out>/<stem>.jsonl``."""
    import json
    import tracemalloc

    ignore = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__))
    snapshot = tracemalloc.take_snapshot().filter_traces(ignore)
    path = out / f"{stem}-{seconds:05d}.snap"
    snapshot.dump(str(path))
    del snapshot
    traced, peak = tracemalloc.get_traced_memory()
    line = {
        "t": time.time(), "seconds": seconds, "traced_mib": traced / 2**20,
        "peak_mib": peak / 2**20, "overhead_mib": tracemalloc.get_tracemalloc_memory() / 2**20,
        "rss_mib": _rss_mib(),
    }  # fmt: skip
    with (out / f"{stem}.jsonl").open("a") as file:
        file.write(json.dumps(line) + "\n")
    return path


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
