"""``muster sandbox``: the emulator with a demo guild, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass

from deploy.emulator.model import Channel
from deploy.emulator.people import GuildScript, Person
from deploy.emulator.permissions import Permission
from deploy.emulator.server import DiscordEmulator
from deploy.settings import Settings


@dataclass(slots=True)
class Demo:
    """The demo guild and its people, for the sandbox, ``muster up`` and tests."""

    guild: GuildScript
    games: Channel
    general: Channel
    people: dict[str, Person]


def populate_demo(emu: DiscordEmulator) -> Demo:
    """A guild "Muster Sandbox" with #games and #general, a host and a few players."""
    host = emu.people.user("hana", global_name="Hana")
    guild = emu.people.guild("Muster Sandbox", owner=host)
    games = guild.text_channel("games", topic="Announce and join game nights")
    general = guild.text_channel("general")
    hosts = guild.role(
        "Game Hosts", permissions=int(Permission.MANAGE_GUILD), color=0xE67E22, hoist=True
    )
    people = {
        "hana": guild.person(host.id),
        "alice": guild.member("alice", global_name="Alice", nick="Ali the Bold", roles=[hosts]),
        "bob": guild.member("bob", global_name="Bob"),
        "chen": guild.member("chen.wei", global_name="Chen Wei", nick="Chen"),
        "dmitri": guild.member("dmitri"),
        "eve": guild.member("eve", global_name="Eve (no DMs)", accepts_dms=False),
    }
    return Demo(guild, games, general, people)


def _banner(emu: DiscordEmulator) -> str:
    return "\n".join(
        [
            "Discord emulator running (Ctrl-C to stop)",
            f"  sandbox page : {emu.sandbox_url}",
            f"  API base     : {emu.api_base}   (MUSTER_DISCORD_API_BASE)",
            f"  bot token    : {emu.bot_token}   (MUSTER_DISCORD_TOKEN)",
            f"  application  : {emu.application_id}",
            f"  control API  : {emu.url}/_emulator",
        ]
    )


async def serve(host: str, port: int, *, demo: bool = True) -> None:
    """Run the emulator until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as running:
        try:
            emu = await running.enter_async_context(DiscordEmulator(host, port))
        except OSError as error:
            raise port_busy(host, port, error) from error
        if demo:
            populate_demo(emu)
        print(_banner(emu), flush=True)
        await stop.wait()
    print("Discord emulator stopped.", flush=True)


class PortBusy(RuntimeError):
    """The sandbox's port is taken; the message names it and the setting to change."""


def port_busy(host: str, port: int, error: OSError) -> PortBusy:
    """The error for a sandbox that cannot listen on ``host:port``."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    return PortBusy(
        f"cannot listen on {host}:{port} for the sandbox page ({reason}): "
        f"stop what uses port {port}, or choose another with MUSTER_SANDBOX_PORT (or "
        "`muster sandbox --port`); 0 picks a free port"
    )


def check_port(host: str, port: int) -> None:
    """Raise :class:`PortBusy` now if ``host:port`` cannot be listened on (before anything
    else is started); port 0 always can."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        try:
            probe.bind((host, port))
        except OSError as error:
            raise port_busy(host, port, error) from error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options (also the ``muster sandbox`` subcommand's)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of the sandbox page and API (default MUSTER_SANDBOX_PORT, 8765; 0 = free one)",
    )
    parser.add_argument("--empty", action="store_true", help="start without the demo guild")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``muster sandbox`` with parsed ``args`` until SIGINT/SIGTERM."""
    port = settings.sandbox_port if args.port is None else args.port
    asyncio.run(serve(args.host, port, demo=not args.empty))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m deploy.emulator.sandbox``."""
    from deploy.cli import main as cli_main

    return cli_main(["sandbox", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    raise SystemExit(main())
