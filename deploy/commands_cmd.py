"""``muster commands``: a command worker, the one writer of its partitions of the games.

Entry points in other processes (``MUSTER_COMMANDS=nats``: the bot, the API, the scheduler, the
projectors) send each command by NATS request-reply to the worker that owns its game, so one
game is written by one process, from a warm cache, without conflicts between processes. Run
``--workers N`` partitions: one process for all of them, or one per partition (``--worker K``);
a second process for the same partition is a standby that shares its requests. A killed worker
loses nothing: callers time out and may send the same command again, which the domain answers
once. Needs NATS only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from deploy.settings import Settings
from deploy.supervise import stop_on_signals

if TYPE_CHECKING:
    from deploy.bootstrap import Container
    from deploy.supervise import Service

log = logging.getLogger("muster.commands")


def summary() -> str:
    """The command's description for ``--help``."""
    return __doc__.split("\n\n")[0].replace("``", "`") if __doc__ else "muster commands"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``muster commands``."""
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="partitions of the games (default MUSTER_COMMAND_WORKERS); the same N everywhere",
    )
    p.add_argument(
        "--worker",
        type=int,
        action="append",
        metavar="K",
        help="serve partition K (0..N-1; repeatable); default: every partition",
    )


def partitions_of(args: argparse.Namespace, settings: Settings) -> tuple[int, list[int]]:
    """(N, the partitions to serve) from the options, or ValueError saying what is wrong."""
    workers = args.workers if args.workers is not None else settings.command_workers
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    chosen = sorted(set(args.worker)) if args.worker else list(range(workers))
    bad = [k for k in chosen if not 0 <= k < workers]
    if bad:
        raise ValueError(f"--worker {bad[0]} is not a partition of {workers} (0..{workers - 1})")
    return workers, chosen


def worker_name(workers: int, partitions: list[int]) -> str:
    """The worker's key in the health bucket: ``commands-0-1-of-4`` serves 0 and 1 of 4."""
    return "commands-" + "-".join(map(str, partitions)) + f"-of-{workers}"


async def serve(
    container: Container, stop: asyncio.Event, workers: int, partitions: list[int]
) -> None:
    """Answer command requests for ``partitions`` until ``stop``, reporting health."""
    from gateways.command_service import CommandWorker
    from gateways.health import HealthReporter

    port = await asyncio.to_thread(lambda: container.local_commands)  # opens the log (blocking)
    nc = await container.nats()
    worker = CommandWorker(
        nc,
        port,
        prefix=container.settings.command_subject,
        workers=workers,
        partitions=partitions,
    )
    health = HealthReporter(nc, worker_name(workers, partitions), worker.figures)
    async with asyncio.TaskGroup() as group:
        group.create_task(worker.run(stop))
        await worker.serving.wait()
        health.state = "running"
        print(
            f"command worker serving partitions {','.join(map(str, partitions))} of {workers}; "
            "Ctrl-C to stop",
            flush=True,
        )
        group.create_task(health.run(stop))


async def run_worker(
    settings: Settings, urls: dict[str, str], workers: int, partitions: list[int]
) -> None:
    from deploy.bootstrap import Container

    stop = stop_on_signals()
    async with Container.open(settings, urls) as container:
        await serve(container, stop, workers, partitions)
    log.info("command worker stopped")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``muster commands`` with parsed ``args``; returns the exit code."""
    from deploy.endpoints import NoServers, resolve_urls

    try:
        workers, partitions = partitions_of(args, settings)
        urls = resolve_urls(settings, needs=("nats",))
    except (ValueError, NoServers) as error:
        print(f"muster commands: {error}", file=sys.stderr)
        return 1
    asyncio.run(run_worker(settings, urls, workers, partitions))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m deploy.commands_cmd``; returns the exit code."""
    from deploy.redact import configure_logging

    parser = argparse.ArgumentParser(prog="muster commands", description=summary())
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(logging.INFO, ())
    return run(args, Settings())


# -- as children of `muster up` -----------------------------------------------------------------


def worker_env(settings: Settings, urls: dict[str, str]) -> dict[str, str]:
    """The environment of a worker started by ``muster up``: its log and its subjects."""
    return {
        **os.environ,
        "MUSTER_NATS_URL": urls["nats"],
        "MUSTER_NATS_TIMEOUT": str(settings.nats_timeout),
        "MUSTER_EVENTS_STREAM": settings.events_stream,
        "MUSTER_EVENTS_SUBJECT_PREFIX": settings.events_subject_prefix,
        "MUSTER_EVENTS_REPLICAS": str(settings.events_replicas),
        "MUSTER_NATS_FAILOVER_WAIT": str(settings.nats_failover_wait),
        "MUSTER_COMMAND_SUBJECT": settings.command_subject,
        "MUSTER_COMMAND_THREADS": str(settings.command_threads),
    }


def worker_services(settings: Settings, urls: dict[str, str], workers: int) -> list[Service]:
    """For ``muster up --command-workers N``: one child process per partition, each restarted
    with backoff if it dies (its callers retry until it is back)."""
    from deploy.supervise import Service

    env = worker_env(settings, urls)

    def child(k: int) -> Service:
        async def run_child(stop: asyncio.Event) -> None:
            await run_process(
                [sys.executable, "-m", "deploy.commands_cmd", "--workers", str(workers),
                 "--worker", str(k)],
                env, stop, f"command worker {k}",
            )  # fmt: skip

        return Service(f"commands-{k}", run_child)

    return [child(k) for k in range(workers)]


async def run_process(argv: list[str], env: dict[str, str], stop: asyncio.Event, name: str) -> None:
    """Run a child until ``stop`` (then SIGTERM it and wait); its exit before is an error."""
    from deploy.processes import _die_with_parent

    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        preexec_fn=_die_with_parent(signal.SIGTERM),
    )
    exited = asyncio.ensure_future(proc.wait())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(exited), 15)
            except TimeoutError:
                proc.kill()
                await exited
    if not stop.is_set():
        raise RuntimeError(f"{name} exited with code {proc.returncode}")


if __name__ == "__main__":
    sys.exit(main())
