"""``muster worker``: drain the work queue of Discord operations (the ``external`` mode).

Run as many as needed; they share one durable consumer. Each operation is acknowledged only after
Discord has done it, so a worker may be killed at any time: what it held is redelivered to the
others (or to it, restarted) after ``--ack-wait`` seconds and done exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
import warnings
from typing import Any

from deploy.settings import Settings

log = logging.getLogger("muster.worker")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="muster worker", description=__doc__.splitlines()[0])
    p.add_argument("--durable", default="workers", help="consumer name shared by the workers")
    p.add_argument("--stream", help="work-queue stream (default DISCORD_OPS)")
    p.add_argument("--prefix", help="subject prefix of operations (default discord.ops)")
    p.add_argument("--dead-prefix", help="subject prefix of dead letters (default discord.dead)")
    p.add_argument("--key-prefix", help="Redis key prefix (default muster:discord)")
    p.add_argument("--ack-wait", type=float, help="seconds before an unfinished op is redelivered")
    p.add_argument("--max-attempts", type=int, help="deliveries before an op is dead-lettered")
    p.add_argument("--concurrency", type=int, help="operations held at once")
    p.add_argument("--global-per-second", type=int, help="requests/s for the bot token")
    p.add_argument("--channel-budget", help="message writes per channel, e.g. 5/5 (count/seconds)")
    return p


def discord_config(settings: Settings, token: str, **overrides: Any) -> Any:
    """``DiscordConfig`` from settings (and any ``MUSTER_DISCORD_*`` tuning ones that exist)."""
    from gateways.discord import DiscordConfig, Freshness, Kind

    config = DiscordConfig(token=token, api_base=settings.discord_api_base)
    tuning = {
        "global_per_second": getattr(settings, "discord_global_per_second", None),
        "ack_wait": getattr(settings, "discord_ack_wait", None),
        "max_attempts": getattr(settings, "discord_max_attempts", None),
        "reply_timeout": getattr(settings, "discord_reply_timeout", None),
        "ops_stream": getattr(settings, "discord_ops_stream", None),
    }
    ttls = getattr(settings, "discord_cache_ttls", None) or {}
    if ttls:
        table = dict(config.ttls)
        for kind, (fresh, stale) in ttls.items():
            table[Kind(kind)] = Freshness(float(fresh), float(stale))
        tuning["ttls"] = table
    changes = {k: v for k, v in {**tuning, **overrides}.items() if v is not None}
    return dataclasses.replace(config, **changes)


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
        count, _, seconds = args.channel_budget.partition("/")
        found["channel_budget"] = (int(count), float(seconds or 5))
    return found


async def run_worker(config: Any, nats_url: str, redis_url: str, durable: str) -> None:
    """Drain operations until SIGINT or SIGTERM."""
    import nats
    from redis.asyncio import Redis

    from gateways.discord import DiscordRest, Worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    nc = await nats.connect(nats_url)
    redis = Redis.from_url(redis_url)
    try:
        async with DiscordRest(config, redis, nc) as rest:
            log.info("draining %s (%s) as %s", config.ops_stream, config.ops_prefix, durable)
            await Worker(rest, nc, durable).run(stop)
    finally:
        await redis.aclose()
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``muster worker``; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    if not settings.discord_token:
        print(
            "muster worker: MUSTER_DISCORD_TOKEN is not set (with the emulator, set it and "
            "MUSTER_DISCORD_API_BASE to what `muster sandbox` prints)",
            file=sys.stderr,
        )
        return 1
    nats_url, redis_url = settings.nats_url, settings.redis_url
    if not (nats_url and redis_url):
        from deploy.endpoints import NoServers, resolve_urls

        try:
            urls = resolve_urls(settings)
        except NoServers as exc:
            print(f"muster worker: {exc}", file=sys.stderr)
            return 1
        nats_url, redis_url = nats_url or urls["nats"], redis_url or urls["redis"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord  # noqa: F401 - imported once here, quietly
    config = discord_config(settings, settings.discord_token, **overrides_from(args))
    asyncio.run(run_worker(config, nats_url, redis_url, args.durable))
    return 0


if __name__ == "__main__":
    sys.exit(main())
