"""``muster worker``: drain the work queue of Discord operations (the ``external`` mode).

Run as many as needed; they share one durable consumer. Each operation is acknowledged only after
Discord has done it, so a worker may be killed at any time: what it held is redelivered to the
others (or to it, restarted) after ``--ack-wait`` seconds and done exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import warnings
from typing import Any

from deploy.settings import Settings
from deploy.supervise import stop_on_signals

log = logging.getLogger("muster.worker")


def summary() -> str:
    """The command's description for ``--help``."""
    return __doc__.split("\n\n")[0].replace("``", "`") if __doc__ else "muster worker"


def build_parser() -> argparse.ArgumentParser:
    """The worker's options as a parser of its own (``python -m deploy.worker_cmd``)."""
    parser = argparse.ArgumentParser(prog="muster worker", description=summary())
    add_arguments(parser)
    return parser


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The worker's options (also the ``muster worker`` subcommand's)."""
    p.add_argument("--durable", default="workers", help="consumer name shared by the workers")
    p.add_argument("--stream", help="work-queue stream (default DISCORD_OPS)")
    p.add_argument("--prefix", help="subject prefix of operations (default discord.ops)")
    p.add_argument("--dead-prefix", help="subject prefix of dead letters (default discord.dead)")
    p.add_argument("--key-prefix", help="Redis key prefix (default muster:discord)")
    p.add_argument("--ack-wait", type=float, help="seconds before an unfinished op is redelivered")
    p.add_argument("--max-attempts", type=int, help="deliveries before an op is dead-lettered")
    p.add_argument("--concurrency", type=int, help="operations held at once")
    p.add_argument("--global-per-second", type=int, help="requests/s for the bot token")
    p.add_argument(
        "--channel-budget",
        type=channel_budget,
        help="message writes per channel, e.g. 5/5 (count/seconds)",
    )


def channel_budget(text: str) -> tuple[int, float]:
    """``COUNT[/SECONDS]`` → (count, seconds); seconds default to 5."""
    count, _, seconds = text.partition("/")
    try:
        return int(count), float(seconds or 5)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not COUNT/SECONDS, e.g. 5/5") from None


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    found: dict[str, Any] = {
        "ops_stream": args.stream,
        "ops_prefix": args.prefix,
        "dead_prefix": args.dead_prefix,
        "key_prefix": args.key_prefix,
        "ack_wait": args.ack_wait,
        "max_attempts": args.max_attempts,
        "worker_concurrency": args.concurrency,
        "global_per_second": args.global_per_second,
    }
    if args.channel_budget:
        found["channel_budget"] = args.channel_budget
    return found


async def run_worker(
    settings: Settings, urls: dict[str, str], durable: str, overrides: dict[str, Any]
) -> None:
    """Drain operations until SIGINT or SIGTERM, reporting health as ``worker.<host>``."""
    from deploy.bootstrap import Container
    from deploy.health_cmd import worker_key
    from gateways.discord import Worker
    from gateways.health import HealthReporter

    stop = stop_on_signals()
    async with Container.open(settings, urls) as container:
        rest = await container.discord_rest(**overrides)
        config = rest.config
        log.info("draining %s (%s) as %s", config.ops_stream, config.ops_prefix, durable)
        nc = await container.nats()
        health = HealthReporter(nc, worker_key())
        health.state = "running"
        async with asyncio.TaskGroup() as group:
            group.create_task(health.run(stop))
            await Worker(rest, nc, durable).run(stop)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m deploy.worker_cmd``; returns the exit code."""
    return run(build_parser().parse_args(argv), Settings())


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``muster worker`` with parsed ``args``; returns the exit code."""
    from deploy.redact import configure_logging

    if not settings.discord_token:
        print(
            "muster worker: MUSTER_DISCORD_TOKEN is not set (with the emulator, set it and "
            "MUSTER_DISCORD_API_BASE to what `muster sandbox` prints)",
            file=sys.stderr,
        )
        return 1
    configure_logging(logging.INFO, secrets=(settings.discord_token.get_secret_value(),))
    from deploy.endpoints import NoServers, resolve_urls

    try:
        urls = resolve_urls(settings, needs=("nats", "redis"))
    except NoServers as exc:
        print(f"muster worker: {exc}", file=sys.stderr)
        return 1
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord  # noqa: F401 - imported once here, quietly
    asyncio.run(run_worker(settings, urls, args.durable, overrides_from(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
