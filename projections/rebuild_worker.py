"""One rebuild worker process: ``python -m projections.rebuild_worker`` with its
:class:`~projections.rebuild_workers.WorkerJob` as JSON on standard input (its URLs carry
passwords, which a command line would show to every user of the machine).

Started by :func:`projections.rebuild_workers.run_workers`; prints its
:class:`~projections.rebuild_workers.WorkerResult` as JSON on the last line of its output. A
process of its own rather than a ``multiprocessing`` child, so it imports only what a worker needs
(not the parent's main module), and nats-py's WebSocket transport is left out unless a URL asks
for it: nats-py imports ``aiohttp`` for that transport alone (a quarter of a worker's start-up
imports, measured in the README) and does without it when the import fails.
"""

from __future__ import annotations

import dataclasses
import json
import sys

WEBSOCKET_SCHEMES = ("ws://", "wss://")


def without_websockets(nats_url: str) -> bool:
    """Before nats-py is imported: make ``import aiohttp`` fail (nats-py then has no WebSocket
    transport) unless ``nats_url`` (comma-separated) names a WebSocket server or aiohttp is
    imported already. Whether it did so."""
    urls = [url.strip().lower() for url in nats_url.split(",")]
    if any(url.startswith(WEBSOCKET_SCHEMES) for url in urls) or "aiohttp" in sys.modules:
        return False
    sys.modules["aiohttp"] = None  # type: ignore[assignment]  # import raises ImportError
    return True


def main(job: str) -> int:
    """Run the job given as JSON; print its result as JSON."""
    fields = json.loads(job)
    without_websockets(fields["nats_url"])
    from projections.rebuild_workers import WorkerJob, run_worker  # after that

    result = run_worker(WorkerJob(**fields))
    sys.stdout.write(json.dumps(dataclasses.asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.stdin.read()))
