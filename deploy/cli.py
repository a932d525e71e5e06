"""The ``muster`` command: one entry point for running, checking and inspecting Muster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from deploy.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = argparse.ArgumentParser(
        prog="muster",
        description="Game-session scheduler for Discord communities. Settings: MUSTER_* env vars.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="run the whole system (embedded servers when no URLs)")
    up.add_argument("--data-dir", type=Path, help="where embedded servers keep their data")
    commands.add_parser("doctor", help="check every dependency and say how to fix problems")
    projector = commands.add_parser("projector", help="run the projectors (read models, names)")
    projector.add_argument("action", nargs="?", choices=["run", "retry-parked"], default="run")
    replay = commands.add_parser("replay", help="rebuild read models from the log and compare")
    replay.add_argument("--swap", action="store_true", help="make the rebuilt schema live")
    replay.add_argument("--keep", action="store_true", help="keep the rebuilt schema to inspect")
    audit = commands.add_parser("audit", help="a game's full history from the log")
    audit.add_argument("game_id")
    from deploy.events_cmd import add_parser as add_events_parser

    add_events_parser(commands)
    schemas = commands.add_parser("schemas", help="write the events' JSON Schemas to schemas/")
    schemas.add_argument("--check", action="store_true", help="only check they are current")
    worker = commands.add_parser("worker", help="drain external Discord operations (work queue)")
    worker.add_argument("args", nargs=argparse.REMAINDER, help="options for the worker")
    commands.add_parser("bot", help="run the Discord bot (needs MUSTER_DISCORD_TOKEN)")
    sandbox = commands.add_parser("sandbox", help="run the Discord emulator's sandbox page")
    sandbox.add_argument("args", nargs=argparse.REMAINDER, help="options for the sandbox")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; errors a person can fix are printed without a traceback."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"muster: invalid setting:\n{error}", file=sys.stderr)
        return 1
    try:
        return run_command(args, settings)
    except KeyboardInterrupt:
        return 130
    except _user_errors() as error:
        print(f"muster {args.command}: {error}", file=sys.stderr)
        return 1


def run_command(args: argparse.Namespace, settings: Settings) -> int:  # noqa: PLR0911 dispatch
    """Dispatch to the subcommand's module (imported only when used)."""
    if args.command == "up":
        from deploy.up import run_up

        return run_up(settings, data_dir=args.data_dir)
    if args.command == "doctor":
        from deploy.doctor import run_doctor

        return run_doctor(settings)
    if args.command in ("projector", "replay", "audit"):
        return run_log_tool(args, settings)
    if args.command == "events":
        from deploy.events_cmd import run_events

        return run_events(args, settings)
    if args.command == "schemas":
        from deploy.schemas import run_schemas

        return run_schemas(check=args.check)
    if args.command == "bot":
        from deploy.bot_cmd import main as bot_main

        return bot_main()
    if args.command == "worker":
        from deploy.worker_cmd import main as worker_main

        return worker_main(args.args)
    from deploy.emulator.sandbox import main as sandbox_main

    return sandbox_main(args.args)


def run_log_tool(args: argparse.Namespace, settings: Settings) -> int:
    """The tools that work on the log and the read models (servers from settings or `up`)."""
    import asyncio
    import signal

    from deploy import projector_cmd
    from deploy.endpoints import resolve_urls

    urls = resolve_urls(settings)
    if args.command == "replay":
        return asyncio.run(
            projector_cmd.run_replay(settings, urls, make_live=args.swap, keep=args.keep)
        )
    if args.command == "audit":
        return asyncio.run(projector_cmd.run_audit(settings, urls, args.game_id))
    if args.action == "retry-parked":
        return asyncio.run(projector_cmd.run_retry_parked(settings, urls))

    async def until_signal() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print("projectors running; Ctrl-C to stop", flush=True)
        await projector_cmd.run_projectors(settings, urls, stop)
        return 0

    return asyncio.run(until_signal())


def _user_errors() -> tuple[type[BaseException], ...]:
    import nats.errors
    import psycopg
    from eventsourcing.persistence import OperationalError

    from deploy.endpoints import NoServers
    from deploy.processes import ServerFailed
    from projections.feed import FeedFailed
    from projections.runner import ProjectorRunning

    return (
        ServerFailed, OperationalError, NoServers, ProjectorRunning, FeedFailed,
        psycopg.OperationalError, nats.errors.Error,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
