"""Muster's bot in a process of its own, for the kill test: ``python -m tests.e2e.bot.bot_process
API_BASE TOKEN LOG_ENV_JSON``. Prints ``READY`` once discord.py is ready."""

from __future__ import annotations

import asyncio
import json
import sys
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from bot.client import BotParts, MusterBot
from bot.limits import PerUserLimit
from deploy.emulator import point_discord_py_at
from domain.app import MusterApp
from gateways.commands import InProcessCommands


class ReportingBot(MusterBot):
    async def on_ready(self) -> None:
        print("READY", flush=True)


async def main(api_base: str, token: str, env: dict[str, str]) -> None:
    await point_discord_py_at(api_base)
    app = MusterApp(env=env)
    port = InProcessCommands(app)
    parts = BotParts(commands=port, limit=PerUserLimit(100, 1), sync_commands=False)
    await ReportingBot(parts).start(token)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
