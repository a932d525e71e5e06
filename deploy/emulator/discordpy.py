"""Point an unmodified discord.py at a Discord-compatible base URL (emulator or proxy)."""

from __future__ import annotations

import aiohttp
import yarl


async def point_discord_py_at(api_base: str) -> str:
    """Set discord.py's REST base and gateway URL from ``GET {api_base}/gateway``.

    discord.py 2.7's ``Client`` never asks ``/gateway/bot``: it dials the class attribute
    ``DiscordWebSocket.DEFAULT_GATEWAY`` (and falls back to it after INVALID_SESSION), so both
    must be set. Works unchanged against real Discord. Returns the gateway URL.
    """
    # Imported here: ``deploy.emulator`` itself must not import discord.py (its import warns
    # about the stdlib's deprecated ``audioop``, and the emulator does not need it).
    import discord.gateway
    import discord.http

    base = api_base.rstrip("/")
    async with aiohttp.ClientSession() as session, session.get(f"{base}/gateway") as resp:
        resp.raise_for_status()
        url: str = (await resp.json())["url"]
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    return url
