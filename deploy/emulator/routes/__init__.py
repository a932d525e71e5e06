"""Discord REST routes, one module per resource group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploy.emulator.routes import channels, commands, guilds, members, users, webhooks

if TYPE_CHECKING:
    from deploy.emulator.api import Api
    from deploy.emulator.server import DiscordEmulator


def setup(api: Api, emu: DiscordEmulator) -> None:
    """Register every REST route on ``api``."""
    for module in (users, guilds, members, channels, commands, webhooks):
        module.setup(api, emu)
