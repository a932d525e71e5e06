"""How NATS's memory follows the log's size, faster than a soak can: append to Muster's stream
and read NATS's own figures after every step.

    python -m tests.load.nats_growth --messages 120000 --per-game 20 --step 10000

The embedded NATS (``deploy/embedded.py``, with its monitoring and profiling ports) gets the
stream Muster creates (``Layout().stream_config()``: file storage, no limits), then
``--messages`` appends of ``--size`` bytes, ``--per-game`` on each subject (one subject per
game, as in the soak). After every ``--step`` appends it prints the RSS, Go's live heap after a
forced collection (``/debug/pprof/heap?gc=1``), the heap the runtime holds (``HeapSys``) and
the log's bytes and subjects; at the end it waits ``--idle`` seconds (NATS drops a block's
cache unread for 10 s) and prints them once more. The appends carry no ``Nats-Msg-Id``: at this
rate its two-minute duplicate window would hold hundreds of thousands of ids, where the soak's
3 appends a second keep a few hundred.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import nats

from deploy.embedded import nats_client_url, nats_server
from deploy.processes import ServerProcess
from gateways.jetstream.layout import Layout
from tests.load.servers_memory import get, memstats, monitored, stream_state


def figures(process: ServerProcess) -> dict[str, float]:
    """RSS, live heap after a GC, HeapSys and Sys (MiB), the log's MiB and subjects."""
    mib = 2**20
    monitor = process.monitor_port  # type: ignore[attr-defined]
    varz = json.loads(get(monitor, "/varz", 5))
    jsz = json.loads(get(monitor, "/jsz?accounts=true&streams=true", 5))
    heap = get(process.profile_port, "/debug/pprof/heap?debug=1&gc=1", 30)  # type: ignore[attr-defined]
    stats = memstats(heap.decode(errors="replace"))
    log = stream_state(jsz, "EVENTS")
    return {
        "rss": varz["mem"] / mib, "live": stats["HeapAlloc"] / mib,
        "heap_sys": stats["HeapSys"] / mib, "sys": stats["Sys"] / mib,
        "log_mib": log.get("bytes", 0) / mib, "subjects": log.get("num_subjects", 0),
    }  # fmt: skip


def line(label: str, f: dict[str, float]) -> str:
    return (f"{label:>10} log {f['log_mib']:6.1f} MiB {f['subjects']:6.0f} subjects | RSS "
            f"{f['rss']:6.1f}  live heap {f['live']:6.1f}  HeapSys {f['heap_sys']:6.1f}  "
            f"Sys {f['sys']:6.1f} MiB")  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="muster-nats-growth-"))
    process = monitored(nats_server(data))
    process.start()
    try:
        nc = await nats.connect(nats_client_url(data, process.port))
        js = nc.jetstream(timeout=30)
        await js.add_stream(Layout().stream_config())
        print(line("start", figures(process)), flush=True)
        body = b"x" * args.size
        headers = {"Muster-Version": "1", "Muster-Topic": "domain.events:PlayerJoined"}
        started = time.monotonic()
        for i in range(args.messages):
            await js.publish(f"events.game.g{i // args.per_game}", body, headers=headers)
            if (i + 1) % args.step == 0:
                print(line(str(i + 1), figures(process)), flush=True)
        print(f"  ({args.messages} appends in {time.monotonic() - started:.0f} s)")
        await nc.close()
        await asyncio.sleep(args.idle)
        print(line(f"+{args.idle:g} s", figures(process)), flush=True)
    finally:
        process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.load.nats_growth", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--messages", type=int, default=120_000)
    parser.add_argument("--size", type=int, default=520, help="bytes of body (the soak: ~610 "
                        "a message with subject and headers)")  # fmt: skip
    parser.add_argument("--per-game", type=int, default=20)
    parser.add_argument("--step", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=15)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
