"""Asking whether an aggregate changed when its last event lies in a sealed file block.

Run: ``.venv/bin/python -m tests.bench.fresh_check [--blocks 5] [--checks 2000]`` (``--smoke``:
a small log, seconds)

Every process that decides commands asks, at most once a second per guild and channel, whether
the settings it holds are still the newest (``MusterApp.SETTINGS_MAX_AGE``); the same question is
asked of a game after a refusal. Settings change rarely, so in a long log their last events lie
in old, sealed file blocks of NATS's store, one block or another as they were configured. One
embedded NATS with Muster's stream; ``--blocks`` settings aggregates, each followed by a block's
worth (9 MiB) of other events, so each one's last event is in a sealed block of its own; NATS
is then left idle past its block cache's 10 s. Then ``--checks`` checks each way, round robin
over the aggregates, the baseline last (NATS's memory only grows back slowly once it has
taken it, so the RSS it adds is the baseline's):

  (b) :meth:`Wire.count` — the subject's message count from NATS's in-memory per-subject index
      (``STREAM.INFO`` with ``subjects_filter``), compared with the tip's;
  (c) the recorder's ``select_events(aggregate, gt=version)``, which does (b) and reads nothing;
  (a) the baseline: a batched direct get of the subject after the tip's sequence (what the
      recorder did before), which makes NATS load the tip's whole block to find that nothing
      follows it.

Figures: microseconds per check as the caller sees it, NATS's CPU per check (its utime + stime
from /proc, in clock ticks: many checks), NATS's RSS before and after each way, the peak RSS of
NATS and of this process; the ratio is the baseline's figure over each way's (above 1: cheaper
than the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nats
from eventsourcing.persistence import StoredEvent

from deploy.embedded import nats_client_url, nats_server
from gateways.jetstream import Factory, JetStreamApplicationRecorder
from gateways.jetstream.layout import event_headers
from gateways.jetstream.wire import Tip
from tests.bench.common import peak_rss_mib, summary, table

BLOCK_MIB = 9  # a little more than the 8 MB block of a stream without limits
BODY = b'{"user_id":"123456789012345678","at":"2026-12-01T12:00:00+00:00","seats":5}' * 6


def proc_status(pid: int, field_name: str) -> float:
    """A ``kB`` field of /proc/PID/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Way:
    name: str
    checks: int = 0
    wall: float = 0.0
    nats_cpu: float = 0.0
    rss: tuple[float, float] = (0.0, 0.0)

    @property
    def us_per_check(self) -> float:
        return self.wall / self.checks * 1e6

    @property
    def cpu_us_per_check(self) -> float:
        return self.nats_cpu / self.checks * 1e6


async def fill(url: str, stream_subject: str, mib: float) -> int:
    """Append ``mib`` MiB of game events after the settings (raw publishes, many in flight)."""
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    headers = event_headers("game.player_joined.v1", 1)
    per_message = len(BODY) + 160  # subject, headers and the store's framing, roughly
    total = int(mib * 2**20) // per_message
    sent = 0
    while sent < total:
        batch = min(2000, total - sent)
        await asyncio.gather(*(
            js.publish(f"{stream_subject}.game.{uuid.uuid4()}", BODY, headers=headers)
            for _ in range(batch)
        ))  # fmt: skip
        sent += batch
    await nc.close()
    return total


def measure(
    way: Way, pid: int, checks: int, check: object, subjects: list[tuple[str, str, Tip]]
) -> None:
    rss0, cpu0, t0 = proc_status(pid, "VmRSS"), cpu_seconds(pid), time.perf_counter()
    for i in range(checks):
        check(*subjects[i % len(subjects)])  # type: ignore[operator]
    way.wall += time.perf_counter() - t0
    way.nats_cpu += cpu_seconds(pid) - cpu0
    way.checks += checks
    way.rss = (rss0, proc_status(pid, "VmRSS"))


def run(blocks: int, block_mib: float, checks: int, idle: float) -> int:
    with tempfile.TemporaryDirectory(prefix="muster-bench-fresh-") as tmp:
        process = nats_server(Path(tmp))
        process.start()
        try:
            assert process.proc is not None
            pid = process.proc.pid
            url = nats_client_url(Path(tmp), process.port)
            factory = Factory({"MUSTER_NATS_URL": url})
            recorder = factory.application_recorder()
            assert isinstance(recorder, JetStreamApplicationRecorder)
            try:
                return run_on(recorder, url, pid, (blocks, block_mib, idle), checks)
            finally:
                factory.close()
        finally:
            process.stop()


def run_on(
    recorder: JetStreamApplicationRecorder, url: str, pid: int,
    shape: tuple[int, float, float], checks: int,
) -> int:  # fmt: skip
    blocks, block_mib, idle = shape
    subjects: list[tuple[str, str, Tip]] = []
    started, filled = time.perf_counter(), 0
    for i in range(blocks):
        aggregate = f"guild.{i + 1}" if i == 0 else f"channel.{i + 1}"
        recorder.insert_events([
            StoredEvent(aggregate, v, "guild.configured.v1", b"{}") for v in (1, 2)
        ])  # fmt: skip
        recorder.select_events(aggregate)  # read whole: the tip and its count are known
        subject = recorder.layout.subject_for(aggregate)
        tip = recorder.tips.get(subject)
        assert tip is not None
        assert tip.count == 2
        subjects.append((aggregate, subject, tip))
        filled += asyncio.run(fill(url, recorder.layout.prefix, block_mib))
    fill_s = time.perf_counter() - started
    print(f"fresh check: {blocks} settings aggregates, each followed by {block_mib:g} MiB of "
          f"events ({filled:,} in all, {fill_s:.1f} s); NATS idle {idle:g} s; {checks} checks "
          "each way", flush=True)  # fmt: skip
    time.sleep(idle)  # NATS drops the blocks it read while appending
    wire, bridge = recorder.wire, recorder.bridge

    def direct_get(aggregate: str, subject: str, tip: Tip) -> None:
        assert bridge.run(lambda: wire.read(subject, tip.seq + 1)) == []

    def count(aggregate: str, subject: str, tip: Tip) -> None:
        assert bridge.run(lambda: wire.count(subject)) == tip.count

    def select(aggregate: str, subject: str, tip: Tip) -> None:
        assert recorder.select_events(aggregate, gt=tip.version) == []

    ways = [(Way("(b) the subject's count"), count),
            (Way("(c) select_events(gt=version) (does b)"), select),
            (Way("(a) direct get after the tip (baseline)"), direct_get)]  # fmt: skip
    for way, check in ways:
        measure(way, pid, checks, check, subjects)
    base = ways[-1][0]
    rows: list[tuple[str, ...]] = [
        (
            w.name, f"{w.us_per_check:,.0f}", f"{w.cpu_us_per_check:,.1f}",
            f"{w.rss[0]:.0f} → {w.rss[1]:.0f}",
            f"{base.us_per_check / w.us_per_check:.1f}",
            f"{base.cpu_us_per_check / w.cpu_us_per_check:.1f}" if w.nats_cpu else "inf",
        )
        for w, _ in ways
    ]  # fmt: skip
    print()
    print(table(rows, ("check", "µs/check", "NATS CPU µs/check", "NATS RSS MiB before → "
                       "after", "ratio µs", "ratio NATS CPU")))  # fmt: skip
    print(f"\npeak RSS: NATS {proc_status(pid, 'VmHWM'):.0f} MiB, this process "
          f"{peak_rss_mib():.0f} MiB")  # fmt: skip
    summary(
        "fresh_check",
        [(w.name, f"{w.us_per_check:,.0f} µs/check, NATS CPU {w.cpu_us_per_check:,.1f} µs",
          r[4]) for (w, _), r in zip(ways, rows, strict=True)],
    )  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--blocks", type=int, default=5, help="settings aggregates, each in a "
                        "sealed block of its own")  # fmt: skip
    parser.add_argument("--checks", type=int, default=2000, help="checks each way")
    parser.add_argument("--smoke", action="store_true", help="a small log, few checks")
    args = parser.parse_args(argv)
    block_mib, idle = float(BLOCK_MIB), 12.0
    if args.smoke:
        args.blocks, block_mib, idle, args.checks = 2, 0.5, 0.0, 40
    return run(args.blocks, block_mib, args.checks, idle)


if __name__ == "__main__":
    raise SystemExit(main())
