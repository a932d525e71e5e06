"""``muster bot``: the Discord bot alone (``muster up`` runs the same service).

With ``MUSTER_DISCORD_TOKEN`` it connects to Discord (``MUSTER_DISCORD_API_BASE``); the parts
it needs (command port, read models, cached member search, PROFILES) come from the container.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from deploy.bootstrap import Container
from deploy.settings import Settings
from deploy.supervise import Reported, Service, stop_on_signals, supervise

if TYPE_CHECKING:
    from bot.client import BotParts, MusterBot

log = logging.getLogger("muster.bot")
EXIT_CONFIG = 78  # EX_CONFIG: the application's settings must change before a retry helps


async def bot_parts(container: Container) -> BotParts:
    """Everything the bot uses, built from the container."""
    from bot.client import BotParts
    from bot.limits import PerUserLimit
    from bot.profiles import ProfileObserver
    from bot.readside import ReadModels
    from gateways.profiles import Profile, ensure_profiles_stream, publish_profile

    settings = container.settings
    nc = await container.nats()
    await ensure_profiles_stream(nc)
    rest = await container.discord_rest()

    async def publish(guild_id: str, user_id: str, profile: Profile) -> None:
        await publish_profile(nc, guild_id, user_id, profile)

    return BotParts(
        commands=container.commands,
        reads=ReadModels(await container.read_pool()),
        members=rest.reads,
        profiles=ProfileObserver(publish),
        limit=PerUserLimit(settings.bot_interactions_per_user, settings.bot_interaction_window),
        # Commands are global: one process registers them, the one that runs shard 0.
        sync_commands=settings.bot_sync_commands and 0 in (settings.bot_shard_ids or [0]),
    )


def health_name(settings: Settings) -> str:
    """The bot's key in the health bucket: ``bot``, or ``bot.shards-0-1`` for a process that
    runs some of the shards (one key per process)."""
    ids = settings.bot_shard_ids
    return "bot" if ids is None else "bot.shards-" + "-".join(map(str, sorted(ids)))


def bot_services(container: Container) -> list[Service]:
    """The bot and its health reporter, as supervised services (restart with backoff)."""
    from bot.client import make_bot
    from bot.run import IntentsMissing, run_bot
    from deploy.emulator import point_discord_py_at

    settings = container.settings
    current: list[MusterBot] = []

    def figures() -> dict[str, object]:
        return current[-1].figures() if current else {"connected": False, "ready": False}

    health = Reported(health_name(settings), figures, interval=settings.bot_health_interval)

    def started(bot: MusterBot) -> None:
        current[:] = [bot]
        health.running()

    async def run(stop: asyncio.Event) -> None:
        if not settings.discord_token:
            raise RuntimeError("MUSTER_DISCORD_TOKEN is not set")
        await point_discord_py_at(settings.discord_api_base)
        parts = await bot_parts(container)
        try:
            await run_bot(
                lambda: make_bot(
                    parts, shards=settings.bot_shards, shard_ids=settings.bot_shard_ids
                ),
                settings.discord_token.get_secret_value(),
                stop,
                grace=settings.bot_shutdown_grace,
                on_start=started,
            )
        except IntentsMissing as error:
            # Restarting cannot help until someone changes the application's settings: say so
            # once, show it in health, and let the rest of Muster run.
            log.error("the Discord bot cannot start: %s", error)  # noqa: TRY400 no traceback: a setting
            health.failed(str(error))
            await stop.wait()
        except Exception as error:
            health.failed(error)
            raise

    return [Service("Discord bot", run), health.service("bot health", container.nats)]


async def preflight(settings: Settings) -> str | None:
    """Log in once and check intents; a sentence to print (and exit on) if something is wrong."""
    import discord

    from bot.client import wanted_intents
    from bot.run import IntentsMissing, check_intents
    from deploy.emulator import point_discord_py_at

    if not settings.discord_token:
        return "MUSTER_DISCORD_TOKEN is not set (docs/bot.md says where to get one)"
    await point_discord_py_at(settings.discord_api_base)
    probe = discord.Client(intents=wanted_intents())
    try:
        await probe.login(settings.discord_token.get_secret_value())
        await check_intents(probe)
    except discord.LoginFailure:
        return "Discord refused the token (MUSTER_DISCORD_TOKEN); copy it again from the portal"
    except IntentsMissing as error:
        return str(error)
    finally:
        await probe.close()
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``muster bot``."""
    from deploy.endpoints import resolve_urls

    settings = Settings()
    problem = asyncio.run(preflight(settings))
    if problem:
        print(f"muster bot: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    urls = resolve_urls(settings)

    async def until_signal() -> int:
        stop = stop_on_signals()
        async with Container.open(settings, urls) as container:
            print("bot running; Ctrl-C to stop", flush=True)
            await supervise(bot_services(container), stop)
        return 0

    return asyncio.run(until_signal())
