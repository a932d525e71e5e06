"""``/game list`` (this channel or the whole server), ``/game mine``, and choosing a game.

All from the read models. A game option is filled by autocomplete (the value is the game's
id); a title typed by hand is matched among this channel's games, so the option also works
where autocomplete is not available.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from discord import app_commands
from discord.ext import commands

from bot.replies import echo
from bot.respond import Interaction
from gateways.timeparse import discord_timestamp
from projections.queries import GameDetail, GameSummary

if TYPE_CHECKING:
    from bot.client import MusterBot
    from bot.readside import GameReads

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LIST_DAYS = 60
MAX_LINES = 20
UNDEFERRED_READ = 2.0  # seconds a read may take before an answer that cannot be deferred
CANNOT_READ = "Muster cannot read its games right now; try again in a few seconds."


def line(game: GameSummary) -> str:
    """``**Catan** — <t:…:F> — 3/5, 2 waiting`` (and the status when not scheduled)."""
    seats = f"{game.joined_count}/{game.max_players}"
    if game.waitlist_count:
        seats += f", {game.waitlist_count} waiting"
    status = "" if game.status == "scheduled" else f" — {game.status.replace('_', ' ')}"
    return f"**{game.title}** — {discord_timestamp(game.scheduled_at)} — {seats}{status}"


def lines(games: list[GameSummary], empty: str) -> str:
    if not games:
        return empty
    shown = [f"• {line(g)}" for g in games[:MAX_LINES]]
    if len(games) > MAX_LINES:
        shown.append(f"… and {len(games) - MAX_LINES} more.")
    return "\n".join(shown)


async def game_choices(
    bot: MusterBot, interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Up to 25 of this channel's open games whose title contains what was typed."""
    reads = bot.parts.reads
    if reads is None or interaction.channel_id is None:
        return []
    games = await reads.channel_games(str(interaction.channel_id))
    typed = current.strip().lower()
    found = [g for g in games if typed in g.title.lower()][:25]
    return [
        app_commands.Choice(
            name=f"{g.title[:70]} — {g.scheduled_at:%a %d %b %H:%M} UTC", value=g.game_id
        )
        for g in found
    ]


NO_LISTS = "Game lists are not available right now."


async def choose_game(
    bot: MusterBot, interaction: Interaction, value: str, *, deferred: bool = False
) -> GameDetail | None:
    """The game an option names (an id from autocomplete, or a title); answers if none.

    Not ``deferred`` (the caller answers with a modal, which cannot follow a deferral), the
    read gets :data:`UNDEFERRED_READ` seconds, within Discord's 3; past that (PostgreSQL
    restarting) the member is told to try again rather than left without an answer.
    """
    try:
        detail = await asyncio.wait_for(
            _read_game(bot, interaction, value), None if deferred else UNDEFERRED_READ
        )
    except TimeoutError:
        if deferred:
            raise
        await interaction.response.send_message(CANNOT_READ, ephemeral=True)
        return None
    if detail is None or str(detail.guild_id) != str(interaction.guild_id):
        text = (
            f"I don't know a game {echo(value)} here. "
            "Start typing its title and pick it from the list."
        )
        if deferred:
            await bot.responder.say(interaction, text)
        else:
            await interaction.response.send_message(text, ephemeral=True)
        return None
    return detail


async def on_chosen_game(
    bot: MusterBot,
    interaction: Interaction,
    value: str,
    act: Callable[[GameDetail], Awaitable[None]],
    *,
    defer: bool = True,
) -> None:
    """Admit, defer (unless ``defer`` is False: ``act`` opens a modal), find the game ``value``
    names (:func:`choose_game`) and ``act`` on it, guarded; the person is answered if none."""

    async def work() -> None:
        detail = await choose_game(bot, interaction, value, deferred=defer)
        if detail is not None:
            await act(detail)

    await bot.responder.handle(interaction, work, defer=defer)


async def _read_game(bot: MusterBot, interaction: Interaction, value: str) -> GameDetail | None:
    reads = bot.parts.reads
    if reads is None:
        return None
    game_id = value.strip().lower()
    if not UUID.match(game_id):
        games = await reads.channel_games(str(interaction.channel_id))
        named = [g for g in games if g.title.lower() == value.strip().lower()]
        game_id = named[0].game_id if len(named) == 1 else ""
    return await reads.game(game_id) if game_id else None


class ListingCog(commands.Cog):
    """Listing games."""

    def __init__(self, bot: MusterBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        group = self.bot.game_group
        group.add_command(
            app_commands.Command(
                name="list",
                description="Upcoming games here or in the server",
                callback=self.list_games,
            )
        )
        group.add_command(
            app_commands.Command(
                name="mine", description="Games you host, joined or wait for", callback=self.mine
            )
        )

    async def _from_reads(
        self, interaction: Interaction, show: Callable[[GameReads], Awaitable[str]]
    ) -> None:
        """Answer with ``show(reads)``, or say that game lists cannot be read now."""

        async def work() -> None:
            reads = self.bot.parts.reads
            text = NO_LISTS if reads is None else await show(reads)
            await self.bot.responder.say(interaction, text)

        await self.bot.responder.handle(interaction, work)

    @app_commands.describe(where="This channel (default) or the whole server")
    async def list_games(
        self, interaction: Interaction, where: Literal["channel", "server"] = "channel"
    ) -> None:
        async def show(reads: GameReads) -> str:
            if where == "server":
                now = self.bot.parts.now()
                games = await reads.guild_games(
                    str(interaction.guild_id), now - timedelta(hours=12),
                    now + timedelta(days=LIST_DAYS),
                )  # fmt: skip
                games = [g for g in games if g.status in ("scheduled", "in_progress")]
                head = f"Games in this server (next {LIST_DAYS} days):"
            else:
                games = await reads.channel_games(str(interaction.channel_id))
                head = "Games in this channel:"
            text = lines(games, "No games are scheduled. Start one with `/game create`.")
            return f"{head}\n{text}" if games else text

        await self._from_reads(interaction, show)

    async def mine(self, interaction: Interaction) -> None:
        async def show(reads: GameReads) -> str:
            found = await reads.user_games(str(interaction.user.id))
            parts = []
            for key, head in (
                ("hosted", "You host"), ("joined", "You joined"), ("waitlisted", "You wait for"),
            ):  # fmt: skip
                open_games = [
                    g for g in found.get(key, []) if g.status in ("scheduled", "in_progress")
                ]
                if open_games:
                    parts.append(f"{head}:\n{lines(open_games, '')}")
            return "\n\n".join(parts) or "You are in no upcoming game."

        await self._from_reads(interaction, show)


__all__ = ["ListingCog", "choose_game", "game_choices", "line", "on_chosen_game"]
