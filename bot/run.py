"""Running the bot: intents checked first, health reported, graceful stop.

:func:`run_bot` runs one client until ``stop`` is set. discord.py reconnects and resumes the
gateway by itself; if the client fails outright, :func:`run_bot` raises and the supervisor
(``deploy/supervise.py``) starts it again with exponential backoff. On stop, new interactions
are told to try again, those in flight are answered (up to ``grace`` seconds), then the
client closes.

Once the bot is first ready, :func:`settle_heap` collects and freezes what the process holds
(modules, caches built at start), so a full garbage collection later walks only what changed
since: a full collection stops the event loop, and with it every click's deferred ack, for as
long as it takes to walk the heap (hundreds of milliseconds on a busy machine, measured by
``tests/bench/bot.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import discord

from bot.client import MusterBot
from gateways.heap import settle_heap

log = logging.getLogger("muster.bot")

INTENTS_HELP = (
    "The bot asks for the Server Members intent (member names stay current on the web), but "
    "it is not enabled for this application. Open https://discord.com/developers/applications, "
    "choose the application, Bot → Privileged Gateway Intents, turn on SERVER MEMBERS INTENT, "
    "save, and start the bot again."
)


class IntentsMissing(RuntimeError):
    """A privileged intent the bot needs is not enabled in the application's settings."""

    def __init__(self) -> None:
        super().__init__(INTENTS_HELP)


async def check_intents(bot: discord.Client) -> None:
    """After login: refuse to start when a privileged intent is requested but not enabled."""
    info = await bot.application_info()
    flags = info.flags
    if bot.intents.members and not (
        flags.gateway_guild_members or flags.gateway_guild_members_limited
    ):
        raise IntentsMissing


async def run_bot(
    make_bot: Callable[[], MusterBot],
    token: str,
    stop: asyncio.Event,
    *,
    grace: float = 10.0,
    on_start: Callable[[MusterBot], Any] | None = None,
) -> None:
    """Run a fresh client until ``stop``; raise if it fails (the supervisor restarts it)."""
    bot = make_bot()
    if on_start is not None:
        on_start(bot)
    client: asyncio.Task[None] | None = None
    ready: asyncio.Task[None] | None = None
    try:
        await bot.login(token)
        await check_intents(bot)
        client = asyncio.create_task(bot.connect(reconnect=True), name="discord gateway")
        ready = asyncio.create_task(bot.wait_until_ready())
        ready.add_done_callback(
            lambda done: done.cancelled() or done.exception() is not None or settle_heap()
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({client, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if client.done():
            error = client.exception()
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise IntentsMissing from error
            if error is not None:
                raise error
            if not stop.is_set():
                raise RuntimeError("the Discord client stopped by itself")
        finished = await bot.responder.finish(grace)
        if not finished:
            log.warning("stopped with %d interaction(s) unanswered", bot.responder.in_flight)
        if bot.parts.profiles is not None:
            await bot.parts.profiles.drain()
    finally:
        if ready is not None:
            ready.cancel()
        await bot.close()
        if client is not None and not client.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(client, 5)
