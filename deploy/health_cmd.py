"""``muster health PROCESS``: is that process reporting, recently, that it runs? For exec probes.

The processes without HTTP (bot, projector, scheduler, worker, commands) publish their health to
the JetStream key-value bucket of ``gateways/health.py``. This command reads one entry and exits
0 when it is there, fresh and says ``running`` (with ``--live``, any state but ``stopping``: a
degraded process is alive, and restarting it may not help); otherwise it prints one line saying
why and exits 1. ``PROCESS`` is a kind, whose key is worked out from this environment and the
options the process itself was given (as a Kubernetes probe runs in the process's own pod), or
any other key as the status page shows it (``projector.discord``, ``api`` ...).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

from deploy.settings import Settings

KINDS = ("bot", "projector", "scheduler", "worker", "commands")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``muster health``."""
    p.add_argument("process", help=f"{', '.join(KINDS)}, or a key as `muster doctor` lists it")
    p.add_argument(
        "--max-age", type=float, default=30.0, metavar="S", help="oldest report that counts"
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="alive is enough: starting or degraded pass too (liveness probes)",
    )
    p.add_argument("--partitions", type=int, default=1, metavar="N", help="as the projector's")
    p.add_argument("--partition", type=int, default=0, metavar="K", help="as the projector's")
    p.add_argument("--workers", type=int, metavar="N", help="as the command worker's")
    p.add_argument("--worker", type=int, action="append", metavar="K", help="as the worker's")


def worker_key(host: str | None = None) -> str:
    """The Discord operations worker's key: one per host (a pod's name in Kubernetes)."""
    return f"worker.{host or socket.gethostname()}"


def projector_key(index: int, count: int) -> str:
    """The read-model projector's key: ``projector``, or ``projector-K-of-N`` for worker K."""
    return "projector" if count == 1 else f"projector-{index}-of-{count}"


def key_of(args: argparse.Namespace, settings: Settings) -> str:
    """The health key of ``args.process`` as that process, run here, would report it."""
    from deploy.bot_cmd import health_name
    from deploy.commands_cmd import partitions_of, worker_name
    from projections.partitions import Partition

    if args.process == "bot":
        return health_name(settings)
    if args.process == "projector":
        partition = Partition(args.partition, args.partitions)  # a bad pair: one clear message
        return projector_key(partition.index, partition.count)
    if args.process == "worker":
        return worker_key()
    if args.process == "commands":
        return worker_name(*partitions_of(args, settings))
    return args.process


async def check(
    settings: Settings, url: str, key: str, max_age: float, *, live: bool = False
) -> str | None:
    """Why ``key`` is not healthy (with ``live``: not alive), or None."""
    from deploy.projector_cmd import nats_connection
    from gateways.health import problem, read_one

    async with nats_connection(settings, url) as nc:
        return problem(await read_one(nc, key), time.time(), max_age, live=live)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Exit code 0 when healthy; else 1 with one line on stdout."""
    from deploy.endpoints import resolve_urls

    key = key_of(args, settings)
    url = resolve_urls(settings, needs=("nats",))["nats"]
    why = asyncio.run(check(settings, url, key, args.max_age, live=args.live))
    print(f"{key}: {why or ('alive' if args.live else 'running')}", flush=True)
    return 1 if why else 0
