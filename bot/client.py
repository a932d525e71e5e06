"""The discord.py client: a ``CommandTree`` with ``/game``, ``/config`` and ``/reminders``,
persistent buttons (Join, Leave, the reminder DMs' mute buttons, Record attendance), member
events, one cog per concern (games, listing, configuration, reminders).

Everything the bot uses is handed in as :class:`BotParts` by the composition root
(``deploy/bot_cmd.py``); the bot builds no adapter itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.attendance import AttendButton
from bot.buttons import JoinButton, LeaveButton
from bot.forms import LiveForms
from bot.limits import PerUserLimit
from bot.mentions import MemberSearch
from bot.profiles import ProfileObserver
from bot.readside import GameReads
from bot.reminders import MuteGameButton, MuteGuildButton
from bot.respond import Responder
from domain.ports import CommandPort

log = logging.getLogger("muster.bot")
STALE = (
    "This form or button is no longer active (it expired, or Muster restarted since it was "
    "shown). Please run the command again."
)
UNKNOWN_BUTTON = (
    "This button is not one Muster knows (the message may be altered or from another app). "
    "Use the buttons on the game's announcement, or run the command again."
)
STALE_AFTER = 2.5  # seconds; Discord's deadline for the first answer is 3
STALE_KINDS = (discord.InteractionType.component, discord.InteractionType.modal_submit)


PERSISTENT_BUTTONS = (JoinButton, LeaveButton, MuteGameButton, MuteGuildButton, AttendButton)


def is_persistent_button(kind: discord.InteractionType, data: dict[str, Any]) -> bool:
    """Whether one of Muster's persistent buttons handles this interaction: discord.py calls
    it for a component whose ``custom_id`` matches the item's template in full (never for a
    modal submit)."""
    custom_id = str(data.get("custom_id", ""))
    return kind is discord.InteractionType.component and any(
        b.__discord_ui_compiled_template__.fullmatch(custom_id) for b in PERSISTENT_BUTTONS
    )


def unhandled(kind: discord.InteractionType, data: dict[str, Any], forms: LiveForms) -> str | None:
    """What to answer when no handler will; None when one will, however slow it is.

    Persistent buttons always have a handler, and so does a form this client showed that is
    still open (``forms``). A ``muster:`` id that no persistent button matches (altered, or
    not a button) gets :data:`UNKNOWN_BUTTON` at once; any other form or button has none (it
    expired, or was shown before a restart) and gets :data:`STALE` just before the deadline.
    """
    custom_id = str(data.get("custom_id", ""))
    if kind not in STALE_KINDS or is_persistent_button(kind, data) or forms.handles(custom_id):
        return None
    return UNKNOWN_BUTTON if custom_id.startswith("muster:") else STALE


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class BotParts:
    """What the bot needs from the outside world."""

    commands: CommandPort
    reads: GameReads | None = None
    members: MemberSearch | None = None
    profiles: ProfileObserver | None = None
    limit: PerUserLimit = field(default_factory=PerUserLimit)
    now: Callable[[], datetime] = utc_now
    sync_commands: bool = True


def wanted_intents() -> discord.Intents:
    """Guilds (interactions, channels) and members (privileged: member events → PROFILES)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    return intents


class MusterBot(commands.Bot):
    """Muster in Discord. ``responder`` answers every interaction."""

    def __init__(
        self, parts: BotParts, *, intents: discord.Intents | None = None, **options: Any
    ) -> None:
        # Muster never joins voice: no warning that voice libraries are missing.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents or wanted_intents(),
            help_command=None,
            guild_ready_timeout=0.5,
            chunk_guilds_at_startup=False,
            **options,
        )
        self.parts = parts
        self.responder = Responder(parts.commands, parts.limit, parts.profiles)
        self.game_group = app_commands.Group(
            name="game", description="Schedule, join and list games", guild_only=True
        )
        self.config_group = app_commands.Group(
            name="config", description="Muster settings for this server or channel",
            guild_only=True,
            default_permissions=discord.Permissions(manage_channels=True),
        )  # fmt: skip
        self.reminders_group = app_commands.Group(
            name="reminders", description="Mute or unmute your game reminders", guild_only=True
        )
        self.started_at = time.time()
        self.connected = False
        self.synced: list[app_commands.AppCommand] = []
        self._watch: set[asyncio.Task[None]] = set()
        self.forms = LiveForms()

    async def setup_hook(self) -> None:
        from bot.configuration import ConfigurationCog
        from bot.games import GamesCog
        from bot.listing import ListingCog
        from bot.reminders import RemindersCog

        self.add_dynamic_items(*PERSISTENT_BUTTONS)
        for cog in (GamesCog(self), ListingCog(self), ConfigurationCog(self), RemindersCog(self)):
            await self.add_cog(cog)
        for group in (self.game_group, self.config_group, self.reminders_group):
            self.tree.add_command(group)
        self.tree.error(self.on_tree_error)
        if self.parts.sync_commands:
            self.synced = await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No extra wait before IDENTIFY: discord.py's own reconnect backoff is enough."""

    async def on_connect(self) -> None:
        self.connected = True

    async def on_disconnect(self) -> None:
        self.connected = False

    async def on_resumed(self) -> None:
        self.connected = True

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Answer what no handler will (:func:`unhandled`): an unknown ``muster:`` id at once,
        a form that expired or was shown before a restart just before Discord's deadline."""
        verdict = unhandled(interaction.type, dict(interaction.data or {}), self.forms)
        if verdict == UNKNOWN_BUTTON:
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.send_message(UNKNOWN_BUTTON, ephemeral=True)
        elif verdict == STALE:
            task = asyncio.get_running_loop().create_task(self._answer_if_stale(interaction))
            self._watch.add(task)
            task.add_done_callback(self._watch.discard)

    async def _answer_if_stale(self, interaction: discord.Interaction[Any]) -> None:
        await asyncio.sleep(STALE_AFTER)
        if not interaction.response.is_done():
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.send_message(STALE, ephemeral=True)

    async def on_member_join(self, member: discord.Member) -> None:
        if self.parts.profiles is not None:
            self.parts.profiles.observe(member.guild.id, member)

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if self.parts.profiles is not None:
            self.parts.profiles.observe(after.guild.id, after)

    async def on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """A slash command failed outside the responder: log it, still answer the person."""
        log.error("slash command failed", exc_info=error)
        self.responder._failed(f"{type(error).__name__}: {error}")
        await self.responder.apologise(interaction)

    def figures(self) -> dict[str, Any]:
        """Health figures (see ``gateways/health.py``)."""
        latency = self.latency
        return {
            "connected": self.connected and not self.is_closed(),
            "ready": self.is_ready(),
            "latency_ms": None if math.isnan(latency) else round(latency * 1000, 1),
            "guilds": len(self.guilds),
            "uptime_s": round(time.time() - self.started_at, 1),
            "in_flight": self.responder.in_flight,
            "answered": self.responder.answered,
            "failed": self.responder.failed,
            "over_limit": self.parts.limit.refused,
            "last_error": self.responder.last_error,
            "shards": sorted(getattr(self, "shards", {})) or None,
            "shard_count": self.shard_count,
        }


class ShardedMusterBot(MusterBot, commands.AutoShardedBot):
    """Muster on several gateway shards in one process (discord.py's ``AutoShardedBot``):
    Discord sends each guild's events to shard ``(guild_id >> 22) % shard_count`` only, and
    DMs to shard 0."""


def make_bot(
    parts: BotParts, *, shards: int = 1, shard_ids: Sequence[int] | None = None
) -> MusterBot:
    """The client for a shard plan: ``shards`` in all (1: no sharding; 0: as many as Discord
    recommends on ``GET /gateway/bot``), of which this process runs ``shard_ids`` (None: all)."""
    if shards == 1:
        return MusterBot(parts)
    return ShardedMusterBot(
        parts, shard_count=shards or None, shard_ids=list(shard_ids) if shard_ids else None
    )
