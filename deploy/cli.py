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
    schemas = commands.add_parser("schemas", help="write the events' JSON Schemas to schemas/")
    schemas.add_argument("--check", action="store_true", help="only check they are current")
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


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch to the subcommand's module (imported only when used)."""
    if args.command == "up":
        from deploy.up import run_up

        return run_up(settings, data_dir=args.data_dir)
    if args.command == "doctor":
        from deploy.doctor import run_doctor

        return run_doctor(settings)
    if args.command == "schemas":
        from deploy.schemas import run_schemas

        return run_schemas(check=args.check)
    from deploy.emulator.sandbox import main as sandbox_main

    return sandbox_main(args.args)


def _user_errors() -> tuple[type[BaseException], ...]:
    from eventsourcing.persistence import OperationalError

    from deploy.processes import ServerFailed

    return (ServerFailed, OperationalError)


if __name__ == "__main__":
    sys.exit(main())
