"""The ``muster`` command: one entry point for running, checking and inspecting Muster.

Every error that reaches it ends in one paragraph on stderr and exit code 1 (argparse's own
usage errors: 2), with passwords and the bot token masked; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from deploy import allocstats, malloc_trim, memtrace
from deploy.redact import configure_logging
from deploy.settings import Settings
from deploy.supervise import stop_on_signals


def _debug_flag(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks of errors"
    )


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    from deploy import worker_cmd
    from deploy.emulator import sandbox

    parser = argparse.ArgumentParser(
        prog="muster",
        description="Game-session scheduler for Discord communities. Settings: MUSTER_* env vars.",
    )
    _debug_flag(parser, False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=description or help)
        _debug_flag(sub, argparse.SUPPRESS)  # `muster --debug up` and `muster up --debug` alike
        return sub

    up = command("up", "run the whole system (embedded servers when no URLs)")
    up.add_argument("--data-dir", type=Path, help="where embedded servers keep their data")
    up.add_argument(
        "--command-workers",
        type=int,
        default=0,
        metavar="N",
        help="run N command worker processes (default 0: commands in this process)",
    )
    up.add_argument(
        "--projectors", type=int, default=1, metavar="N", help="read-model workers (processes)"
    )
    up.add_argument(
        "--cluster", type=int, default=1, metavar="N", choices=(1, 3, 5),
        help="embedded NATS as an N-node cluster, the log at N replicas (3 to try failover)",
    )  # fmt: skip
    command("doctor", "check every dependency and say how to fix problems")
    from deploy import health_cmd

    health_cmd.add_arguments(
        command("health", "exit 0 if a process reports it runs (for probes)", health_cmd.__doc__)
    )
    command("api", "serve the web pages and JSON API (MUSTER_WEB_PORT)")
    projector = command("projector", "run the projectors (read models, names)")
    projector.add_argument(
        "action",
        nargs="?",
        choices=["run", "retry-parked"],
        default="run",
        help="run (default) or apply parked events again",
    )
    projector.add_argument(
        "--partitions", type=int, default=1, metavar="N", help="read-model workers in all"
    )
    projector.add_argument(
        "--partition", type=int, default=0, metavar="K", help="this worker's share (0..N-1)"
    )
    replay = command("replay", "rebuild read models from the log and compare")
    replay.add_argument("--swap", action="store_true", help="make the rebuilt schema live")
    replay.add_argument("--keep", action="store_true", help="keep the rebuilt schema to inspect")
    replay.add_argument(
        "--partitions", type=int, metavar="N", help="rebuild with N workers (default: as live)"
    )
    audit = command("audit", "a game's full history from the log")
    audit.add_argument("game_id", help="the game's id: a UUID, or game.<uuid> as audit prints")
    audit.add_argument("--at", metavar="SEQ|TIME", help="the game as it was at a sequence or time")
    from deploy.events_cmd import add_parser as add_events_parser

    add_events_parser(command)
    schemas = command("schemas", "write the events' JSON Schemas (in a checkout: to schemas/)")
    schemas.add_argument("--check", action="store_true", help="only check they are current")
    schemas.add_argument(
        "--out", type=Path, help="directory to write (or, with --check, to compare)"
    )
    worker_cmd.add_arguments(
        command("worker", "drain external Discord operations (work queue)", worker_cmd.summary())
    )
    sandbox.add_arguments(command("sandbox", "run the Discord emulator's sandbox page"))
    command("bot", "run the Discord bot (needs MUSTER_DISCORD_TOKEN)")
    from deploy import commands_cmd

    commands_cmd.add_arguments(
        command("commands", "run a command worker (one writer per game)", commands_cmd.summary())
    )
    command("scheduler", "send reminders, start and end games on time")
    return parser


LONG_RUNNING = {"up", "projector", "bot", "api", "scheduler", "worker", "sandbox", "commands"}


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; every error is printed as a sentence, not a traceback."""
    args = build_parser().parse_args(argv)
    secrets: tuple[str, ...] = ()
    try:
        settings = Settings()
        if settings.discord_token:
            secrets = (settings.discord_token.get_secret_value(),)
        services = args.command in LONG_RUNNING  # they say what they do; tools stay quiet
        configure_logging(logging.INFO if args.debug or services else logging.WARNING, secrets)
        if services:
            memtrace.start_if_asked(args.command)  # MUSTER_TRACEMALLOC: soak snapshots, or nothing
            allocstats.start_if_asked(args.command)  # MUSTER_ALLOCSTATS: the same for allocators
            malloc_trim.start_if_asked()  # MUSTER_MALLOC_TRIM_EVERY: glibc's free pages back
        return run_command(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI's edge: every error becomes a message
        report(args, error, secrets)
        return 1


def report(args: argparse.Namespace, error: BaseException, secrets: tuple[str, ...]) -> None:
    """One paragraph on stderr (the traceback first with ``--debug``), secrets masked."""
    from deploy.redact import redacted

    if args.debug:
        trace = "".join(traceback.format_exception(error))
        print(redacted(trace, secrets), file=sys.stderr, end="")
    message = redacted(f"muster {args.command}: {explain(error, args.debug)}", secrets)
    print(message, file=sys.stderr, flush=True)


def explain(error: BaseException, debug: bool = False) -> str:
    """What went wrong, in words: known errors as they are, others with their type."""
    from pydantic import ValidationError

    from deploy.bootstrap import describe_error

    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, ValidationError):
        return f"invalid setting:\n{error}"
    if isinstance(error, _user_errors()):
        return describe_error(error)
    hint = "" if debug else " (run with --debug for the traceback)"
    if isinstance(error, OSError):
        return f"{describe_error(error)}{hint}"
    return f"{type(error).__name__}: {describe_error(error)}{hint}"


def run_command(args: argparse.Namespace, settings: Settings) -> int:  # noqa: PLR0911 dispatch
    """Dispatch to the subcommand's module (imported only when used)."""
    if args.command == "up":
        from deploy.up import run_up

        return run_up(
            settings,
            data_dir=args.data_dir,
            command_workers=args.command_workers,
            projectors=args.projectors,
            cluster=args.cluster,
        )
    if args.command == "doctor":
        from deploy.doctor import run_doctor

        return run_doctor(settings)
    if args.command == "health":
        from deploy.health_cmd import run as run_health

        return run_health(args, settings)
    if args.command == "api":
        from deploy.api_cmd import main as api_main

        return api_main(settings)
    if args.command in ("projector", "replay", "audit"):
        return run_log_tool(args, settings)
    if args.command == "events":
        from deploy.events_cmd import run_events

        return run_events(args, settings)
    if args.command == "schemas":
        from deploy.schemas import run_schemas

        return run_schemas(check=args.check, directory=args.out)
    if args.command == "bot":
        from deploy.bot_cmd import main as bot_main

        return bot_main()
    if args.command == "scheduler":
        from deploy.scheduler_cmd import main as scheduler_main

        return scheduler_main([])
    if args.command == "commands":
        from deploy.commands_cmd import run as run_commands

        return run_commands(args, settings)
    if args.command == "worker":
        from deploy.worker_cmd import run

        return run(args, settings)
    from deploy.emulator.sandbox import run as run_sandbox

    return run_sandbox(args, settings)


def run_log_tool(args: argparse.Namespace, settings: Settings) -> int:
    """The tools that work on the log and the read models (servers from settings or `up`)."""
    import asyncio

    from deploy import projector_cmd
    from deploy.endpoints import resolve_urls

    if args.command == "audit":
        from projections.timetravel import parse_point

        aggregate = projector_cmd.audited_aggregate(args.game_id)  # a bad id is a bad id
        at = parse_point(args.at) if args.at else None  # so is a bad --at
        urls = resolve_urls(settings, needs=("nats",))
        return asyncio.run(projector_cmd.run_audit(settings, urls, aggregate, at))
    urls = resolve_urls(settings, needs=("nats", "postgres", "redis"))
    if args.command == "replay":
        return asyncio.run(
            projector_cmd.run_replay(
                settings, urls, make_live=args.swap, keep=args.keep, partitions=args.partitions
            )
        )
    if args.action == "retry-parked":
        return asyncio.run(projector_cmd.run_retry_parked(settings, urls))
    from projections.partitions import Partition

    partition = Partition(args.partition, args.partitions)  # a bad pair: one clear message

    async def until_signal() -> int:
        stop = stop_on_signals()
        print("projectors running; Ctrl-C to stop", flush=True)
        await projector_cmd.run_projectors(settings, urls, stop, partition)
        return 0

    return asyncio.run(until_signal())


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message already says what is wrong (no type name needed)."""
    import nats.errors
    import psycopg
    import redis
    from eventsourcing.persistence import OperationalError

    from deploy.api_cmd import PortTaken
    from deploy.bootstrap import ServerUnreachable
    from deploy.emulator.sandbox import PortBusy
    from deploy.endpoints import NoServers
    from deploy.processes import ServerFailed
    from deploy.supervise import ServiceFailed
    from domain.errors import DomainError
    from projections.feed import FeedFailed
    from projections.partitions import BadPartition
    from projections.runner import ProjectorRunning
    from projections.timetravel import BadPoint

    return (
        ServerFailed, ServerUnreachable, ServiceFailed, OperationalError, NoServers, PortBusy,
        ProjectorRunning, FeedFailed, DomainError, psycopg.Error, nats.errors.Error,
        redis.RedisError, PortTaken, BadPoint, BadPartition,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
