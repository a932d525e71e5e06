"""Recording attendance: the "Record attendance" button on a completed game's announcement.

The announcement (``projections/discord/render.py``) shows ``muster:attend:<game_id>`` once the
game is completed. A click by the host (or a server manager) is answered with an ephemeral
form: a select listing the seated players to mark who did **not** come, and "Everyone came".
Either sends ``RecordAttendance`` through the port. Anyone else is told, in the domain's own
words (:class:`~domain.errors.NotHost`), that only the host may do this.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.buttons import GAME_ID
from bot.replies import for_error
from bot.respond import Interaction, authority, command_id
from domain.commands import RecordAttendance
from domain.errors import NotHost
from domain.rules import is_guild_manager
from projections.queries import GameDetail

if TYPE_CHECKING:
    from bot.client import MusterBot

log = logging.getLogger("muster.bot")
ATTEND = "muster:attend:"
MAX_OPTIONS = 25  # a select menu's limit
ACTION = "record attendance"


def attend_id(game_id: str) -> str:
    return f"{ATTEND}{game_id}"


def seated(game: GameDetail) -> list[str]:
    """The seated players' user ids, in seat order."""
    return [p.user_id for p in game.participants if p.kind == "joined" and p.user_id]


def may_record(game: GameDetail, interaction: Interaction) -> bool:
    """The domain's rule, checked early so others are refused before seeing the form."""
    who = authority(interaction)
    return who["user_id"] == game.host_id or is_guild_manager(who["permissions"])


async def name_of(bot: MusterBot, guild_id: str, user_id: str) -> str:
    """A member's display name for a select option (their id if it cannot be found)."""
    members = bot.parts.members
    found = None
    if members is not None:
        try:
            found = await members.member(guild_id, user_id)
        except Exception:  # a missing name must not block attendance
            log.exception("no name for %s in %s", user_id, guild_id)
            found = None
    if found:
        user = found.get("user") or {}
        name = found.get("nick") or user.get("global_name") or user.get("username")
        if name:
            return str(name)[:100]
    return f"Member {user_id}"


class AttendanceForm(discord.ui.View):
    """Who did not come (a select), or "Everyone came"."""

    def __init__(self, bot: MusterBot, game: GameDetail, names: list[tuple[str, str]]) -> None:
        super().__init__(timeout=900)
        bot.forms.add(self)
        self.bot, self.game_id = bot, game.game_id
        if names:
            select: discord.ui.Select[AttendanceForm] = discord.ui.Select(
                placeholder="Who did not come?",
                min_values=1,
                max_values=len(names),
                options=[discord.SelectOption(label=name, value=uid) for uid, name in names],
            )
            select.callback = self.no_shows  # type: ignore[method-assign]
            self.add_item(select)
            self.select = select
        everyone: discord.ui.Button[AttendanceForm] = discord.ui.Button(
            label="Everyone came", style=discord.ButtonStyle.success
        )
        everyone.callback = self.everyone  # type: ignore[method-assign]
        self.add_item(everyone)

    async def no_shows(self, interaction: Interaction) -> None:
        await self.record(interaction, tuple(self.select.values))

    async def everyone(self, interaction: Interaction) -> None:
        await self.record(interaction, ())

    async def record(self, interaction: Interaction, no_shows: tuple[str, ...]) -> None:
        await self.bot.responder.run(
            interaction,
            lambda: RecordAttendance(
                command_id=command_id(interaction), **authority(interaction),
                game_id=self.game_id, no_shows=no_shows,
            ),
        )  # fmt: skip


async def open_form(bot: MusterBot, interaction: Interaction, game_id: str) -> None:
    """Defer, check, then answer with the form (or a sentence)."""
    responder = bot.responder
    if not await responder.defer(interaction):
        return
    reads = bot.parts.reads
    game = await reads.game(game_id) if reads is not None else None
    if game is None:
        await responder.say(interaction, "I can't find that game any more.")
        return
    if not may_record(game, interaction):
        refusal = NotHost(game.game_id, str(interaction.user.id), game.host_id, ACTION)
        await responder.say(interaction, for_error(refusal))
        return
    players = seated(game)
    if not players:
        await responder.say(interaction, "Nobody had a seat in this game: nothing to record.")
        return
    shown = players[:MAX_OPTIONS]
    labels = await asyncio.gather(*(name_of(bot, game.guild_id, uid) for uid in shown))
    text = (
        f"Attendance for **{game.title}**: pick who did **not** come "
        "(everyone else is recorded as present), or press “Everyone came”."
    )
    if len(players) > MAX_OPTIONS:
        text += f" Only the first {MAX_OPTIONS} seats fit in the list."
    await responder.say(
        interaction, text, view=AttendanceForm(bot, game, list(zip(shown, labels, strict=True)))
    )


class AttendButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"{ATTEND}{GAME_ID}"):
    """ "Record attendance" on a completed game's announcement."""

    def __init__(self, game_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Record attendance",
                style=discord.ButtonStyle.primary,
                custom_id=attend_id(game_id),
            )
        )
        self.game_id = game_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> AttendButton:
        return cls(match["game_id"])

    async def callback(self, interaction: Interaction) -> None:
        bot: MusterBot = interaction.client
        if not await bot.responder.admit(interaction):
            return
        await bot.responder.guarded(interaction, lambda: open_form(bot, interaction, self.game_id))
