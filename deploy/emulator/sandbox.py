"""``muster sandbox``: the emulator with a demo guild, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import dataclass

from deploy.emulator.model import Channel
from deploy.emulator.people import GuildScript, Person
from deploy.emulator.permissions import Permission
from deploy.emulator.server import DiscordEmulator


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
    async with DiscordEmulator(host, port) as emu:
        if demo:
            populate_demo(emu)
        print(_banner(emu), flush=True)
        await stop.wait()
    print("Discord emulator stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``muster sandbox``."""
    parser = argparse.ArgumentParser(prog="muster sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--empty", action="store_true", help="start without the demo guild")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, demo=not args.empty))
    except OSError as exc:
        print(f"muster sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
