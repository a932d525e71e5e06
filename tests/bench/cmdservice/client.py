"""One entry-point process of the command benchmark's multi-process runs.

It opens the composition root with ``MUSTER_COMMANDS`` as given (``local``: its own app and
thread pool; ``nats``: request-reply to command workers), warms what it can, prints ``ready``,
waits for ``go`` on stdin, sends its joins (``--in-flight`` at a time, as a bot answers
interactions) and prints one JSON line: latencies' percentiles and the errors users would see.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter

from deploy.bootstrap import Container
from deploy.settings import Settings
from domain.commands import JoinGame
from domain.errors import DomainError


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def run(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings(
        events_stream=args.stream,
        events_subject_prefix=args.prefix,
        commands=args.mode,
        command_subject=args.subject,
        command_workers=args.workers,
        command_timeout=120,
    )
    games = args.games.split(",")
    async with Container.open(settings, {"nats": args.nats_url}) as container:
        port = await asyncio.to_thread(lambda: container.commands)
        if args.mode == "local":  # as a long-running bot would have them: cached
            for game in games:
                await asyncio.to_thread(container.app.game, game)
        else:
            await container.nats()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        slots = asyncio.Semaphore(args.in_flight)

        async def join(n: int) -> None:
            command = JoinGame(
                command_id=f"{args.tag}-{n}",
                user_id=str(10**17 + args.base + n),
                game_id=games[n % len(games)],
            )
            async with slots:
                started = time.perf_counter()
                try:
                    await port.send(command)
                except (DomainError, TimeoutError, RuntimeError) as error:
                    errors[type(error).__name__] += 1
                latencies.append(time.perf_counter() - started)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(join(n) for n in range(args.count)))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "tag": args.tag,
        "count": args.count,
        "seconds": seconds,
        "cores": cpu / seconds,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "errors": dict(errors),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["local", "nats"], required=True)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--games", required=True, help="comma-separated game ids")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--tag", required=True, help="command id prefix of this process")
    parser.add_argument("--base", type=int, default=0, help="first user id offset")
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
