"""Where NATS's memory goes over a soak: its heap profiles by allocation site, and its streams.

    python -m tests.load.nats_heap_report OUT/nats-heap [--depth 2] [--top 15]

Reads the snapshots ``faultrun --nats-heap`` saved (``<seconds>/heap.txt``: Go's heap profile
as text, ``<seconds>/jsz.json``: JetStream's state with streams and consumers) and prints:

* Go's own figures per snapshot (``HeapAlloc``: live objects at the last collection; the log's
  messages, bytes and subjects; how many consumers);
* the live heap by allocation site, at the first snapshot, the middle and the last, sorted by
  growth. A site is the innermost ``--depth`` frames inside nats-server (or the Go runtime's
  caller outside it). The profile samples one allocation per ``memprofilerate`` bytes on
  average; each record is scaled back as Go's own tools do (``bytes / (1 - exp(-size/rate))``);
* every stream's appends (its last sequence), messages, bytes, subjects and interior deletes,
  first and last.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

_HEADER = re.compile(r"^heap profile: \d+: \d+ \[\d+: \d+\] @ heap/(\d+)")
_RECORD = re.compile(r"^(\d+): (\d+) \[(\d+): (\d+)\] @")
_FRAME = re.compile(r"^#\s+0x[0-9a-f]+\s+(\S+)")
_MEMSTAT = re.compile(r"^# (\w+) = (\d+)$")
NATS = "github.com/nats-io/"
MIB = 2**20


@dataclass
class Snapshot:
    """One heap profile: estimated live bytes by site, and Go's MemStats."""

    seconds: float
    sites: dict[str, float] = field(default_factory=dict)
    memstats: dict[str, int] = field(default_factory=dict)
    streams: dict[str, dict[str, int]] = field(default_factory=dict)
    consumers: int = 0


def site_of(frames: list[str], depth: int) -> str:
    """The innermost ``depth`` nats-server frames of a stack (its leaf if none is)."""
    ours = [f.removeprefix(NATS).removeprefix("nats-server/v2/") for f in frames if NATS in f]
    picked = ours[:depth] if ours else frames[:1]
    return " < ".join(re.sub(r"\+0x[0-9a-f]+$", "", f) for f in picked) or "?"


def parse_heap(text: str, depth: int) -> tuple[dict[str, float], dict[str, int]]:
    """Estimated in-use bytes by site (scaled for sampling) and the MemStats lines."""
    sites: dict[str, float] = defaultdict(float)
    memstats: dict[str, int] = {}
    rate = 512 * 1024
    objects = size = 0
    frames: list[str] = []

    def close() -> None:
        if objects and size:
            average = size / objects
            sites[site_of(frames, depth)] += size / (1 - math.exp(-average / rate))

    for line in text.splitlines():
        if header := _HEADER.match(line):
            rate = int(header.group(1)) // 2  # the header prints twice the rate
        elif record := _RECORD.match(line):
            close()
            objects, size, frames = int(record.group(1)), int(record.group(2)), []
        elif frame := _FRAME.match(line):
            frames.append(frame.group(1))
        elif stat := _MEMSTAT.match(line):
            memstats[stat.group(1)] = int(stat.group(2))
    close()
    return dict(sites), memstats


def parse_jsz(data: dict) -> tuple[dict[str, dict[str, int]], int]:  # type: ignore[type-arg]
    """Every stream's state, and the number of consumers over all streams."""
    streams: dict[str, dict[str, int]] = {}
    consumers = 0
    for account in data.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            state = stream.get("state") or {}
            streams[stream["name"]] = {
                "messages": int(state.get("messages") or 0),
                "bytes": int(state.get("bytes") or 0),
                "subjects": int(state.get("num_subjects") or 0),
                "deleted": int(state.get("num_deleted") or 0),
                "appended": int(state.get("last_seq") or 0),
            }
            consumers += len(stream.get("consumer_detail") or [])
    return streams, consumers


def load(folder: Path, depth: int) -> list[Snapshot]:
    """Every snapshot under ``folder``, oldest first."""
    snapshots = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        snapshot = Snapshot(seconds=float(path.name))
        heap = path / "heap.txt"
        if heap.exists():
            snapshot.sites, snapshot.memstats = parse_heap(heap.read_text(errors="replace"), depth)
        jsz = path / "jsz.json"
        if jsz.exists():
            snapshot.streams, snapshot.consumers = parse_jsz(json.loads(jsz.read_text()))
        snapshots.append(snapshot)
    return snapshots


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _header(*names: str) -> list[str]:
    return [_row(*names), _row(*("---" for _ in names))]


def report(snapshots: list[Snapshot], top: int) -> str:
    """The three tables, as markdown."""
    lines = _header("minute", "HeapAlloc", "HeapInuse", "HeapSys", "profiled live",
                    "EVENTS msgs", "EVENTS MiB", "subjects", "consumers")  # fmt: skip
    for s in snapshots:
        events = s.streams.get("EVENTS", {})
        stats = {key: s.memstats.get(key, 0) / MIB for key in ("HeapAlloc", "HeapInuse", "HeapSys")}
        lines.append(_row(
            f"{s.seconds / 60:.0f}", *(f"{v:.1f}" for v in stats.values()),
            f"{sum(s.sites.values()) / MIB:.1f}", events.get("messages", 0),
            f"{events.get('bytes', 0) / MIB:.2f}", events.get("subjects", 0), s.consumers,
        ))  # fmt: skip
    picked = (snapshots[0], snapshots[len(snapshots) // 2], snapshots[-1])
    first, _, last = picked
    names = set().union(*(s.sites for s in picked))
    growth = sorted(names, key=lambda n: last.sites.get(n, 0) - first.sites.get(n, 0), reverse=True)
    lines += ["", *_header("live MiB by site", *(f"min {s.seconds / 60:.0f}" for s in picked),
                           "growth")]  # fmt: skip
    for name in growth[:top]:
        a, b, c = (s.sites.get(name, 0) / MIB for s in picked)
        lines.append(_row(f"`{name}`", f"{a:.2f}", f"{b:.2f}", f"{c:.2f}", f"{c - a:+.2f}"))
    lines += ["", *_header("stream", "appended", "messages", "MiB", "subjects", "interior deletes")]
    for name in sorted(set(first.streams) | set(last.streams)):
        was, now = first.streams.get(name, {}), last.streams.get(name, {})
        lines.append(_row(
            name, f"{was.get('appended', 0)} → {now.get('appended', 0)}",
            f"{was.get('messages', 0)} → {now.get('messages', 0)}",
            f"{was.get('bytes', 0) / MIB:.2f} → {now.get('bytes', 0) / MIB:.2f}",
            f"{was.get('subjects', 0)} → {now.get('subjects', 0)}",
            f"{was.get('deleted', 0)} → {now.get('deleted', 0)}",
        ))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="OUT/nats-heap of a faultrun --nats-heap")
    parser.add_argument("--depth", type=int, default=1, help="nats-server frames per site")
    parser.add_argument("--top", type=int, default=15, help="sites shown, by growth")
    args = parser.parse_args()
    snapshots = load(args.folder, args.depth)
    if not snapshots:
        raise SystemExit(f"no snapshots under {args.folder}")
    print(report(snapshots, args.top))


if __name__ == "__main__":
    main()
