"""The fault run's memory sampler: every process's RSS, PostgreSQL's and NATS's own figures,
the Discord work queue and the read models' lag, every few seconds into ``rss.jsonl``; and the
statistics the run's report and the soak tools compute over them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

from tests.load.faults import Faults
from tests.load.servers_memory import nats_memory, nats_snapshot
from tests.load.system import System, rss_mib, tree_memory

SAMPLE_EVERY = 5.0
# PostgreSQL's backends are children of the postmaster, each in a session of its own: the
# sampler reports the postmaster alone, the PSS summed over it and every child (shared
# buffers counted once, not once per backend), and the largest child's RSS.
POSTGRES_TREE = "postgres+children PSS"
POSTGRES_CHILD = "postgres max child"
# Beside the RSS (``mem`` in rss.jsonl, MiB): PostgreSQL's private and shared memory summed over
# its processes, NATS's Go heap as the runtime reports it (tests/load/servers_memory.py).
POSTGRES_USS = "postgres+children USS"
POSTGRES_SHMEM = "postgres+children Pss_Shmem"
POSTGRES_ANON = "postgres+children Pss_Anon"
NATS_MEM = ("varz_mem", "HeapAlloc", "HeapInuse", "HeapSys", "Sys")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (of two values, p50 is the smaller and p99 the larger)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB), in MiB per hour."""
    if len(samples) < 3:
        return 0.0
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return (
        3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    )


class Sampler:
    """RSS of every process, the Discord work queue and the read models' lag, every 5 s."""

    def __init__(self, system: System, faults: Faults, path: Path, nats_every: float = 0.0) -> None:
        self.system, self.faults, self.path = system, faults, path
        self.rows: list[dict[str, Any]] = []
        self.nats_every = nats_every  # seconds between NATS heap profiles (0: none)
        self.nats_next = 0.0

    async def nats_snapshot(self, now: float) -> None:
        """Every ``nats_every`` seconds: NATS's heap profile and JetStream state, saved beside
        rss.jsonl under ``nats-heap/<seconds since the first>/``."""
        if not self.nats_every or now < self.nats_next:
            return
        first = self.rows[0]["t"] if self.rows else now
        self.nats_next = now + self.nats_every
        files = await asyncio.to_thread(nats_snapshot, self.system.server("nats"))
        folder = self.path.parent / "nats-heap" / f"{now - first:07.0f}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, body in files.items():
            (folder / name).write_bytes(body)

    async def run(self, stop: asyncio.Event) -> None:
        with self.path.open("a") as out:
            while not stop.is_set():
                row: dict[str, Any] = {"t": time.time(), "rss": {}, "mem": {}}
                for name, pid in self.system.pids().items():
                    if name == "postgres":  # the postmaster, and with its backends
                        tree = tree_memory(pid)
                        row["rss"][name] = tree["rss"]
                        row["rss"][POSTGRES_TREE] = tree["tree_pss"]
                        row["rss"][POSTGRES_CHILD] = tree["max_child_rss"]
                        row["postgres_children"] = int(tree["children"])
                        row["mem"][POSTGRES_USS] = tree["tree_uss"]
                        row["mem"][POSTGRES_SHMEM] = tree["tree_pss_shmem"]
                        row["mem"][POSTGRES_ANON] = tree["tree_pss_anon"]
                    else:
                        row["rss"][name] = rss_mib(pid)
                with contextlib.suppress(Exception):
                    nats = await asyncio.to_thread(nats_memory, self.system.server("nats"))
                    row["nats"] = nats
                    for key in NATS_MEM:
                        row["mem"][f"nats {key}"] = nats[key]
                with contextlib.suppress(Exception):
                    await self.nats_snapshot(row["t"])
                with contextlib.suppress(Exception):
                    last, queued = await self.faults.nats_state()
                    row["queue"] = queued
                    row["lag"] = last - await self.faults.read_position()
                self.rows.append(row)
                out.write(json.dumps(row) + "\n")
                out.flush()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)

    def summary(self, since: float) -> dict[str, Any]:
        rows = [r for r in self.rows if r["t"] >= since]
        out: dict[str, Any] = {"rss": {}, "mem": {}}
        for kind in ("rss", "mem"):
            self._slopes(rows, kind, out[kind])
        logs = [{k: v for k, v in r["nats"].items() if k.startswith("log_")}
                for r in rows if "nats" in r]  # fmt: skip
        if logs:
            out["log"] = {"first": logs[0], "last": logs[-1]}
        backends = [r["postgres_children"] for r in rows if "postgres_children" in r]
        if backends:
            out["postgres_children"] = {"min": min(backends), "max": max(backends)}
        queues = [r["queue"] for r in rows if "queue" in r]
        lags = [r["lag"] for r in rows if "lag" in r]
        out["queue"] = {"max": max(queues, default=0), "last": queues[-1] if queues else 0}
        out["lag"] = {"p50": percentile(lags, 50), "max": max(lags, default=0),
                      "last": lags[-1] if lags else 0}  # fmt: skip
        return out

    @staticmethod
    def _slopes(rows: list[dict[str, Any]], kind: str, out: dict[str, Any]) -> None:
        """First, last, max and least-squares slope of every series of ``kind``."""
        for name in sorted({n for r in rows for n in r.get(kind, {})}):
            points = [(r["t"], r[kind][name]) for r in rows if r.get(kind, {}).get(name)]
            if points:
                out[name] = {
                    "first_mib": round(points[0][1], 1), "last_mib": round(points[-1][1], 1),
                    "max_mib": round(max(p[1] for p in points), 1),
                    "slope_mib_per_h": round(slope_per_hour(points), 1),
                }  # fmt: skip
