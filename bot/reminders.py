"""Players control their reminders: the mute buttons on reminder DMs and ``/reminders``.

* The scheduler's reminder DM (``projections/scheduler/message.py``) carries two buttons,
  ``muster:mute:<game_id>`` and ``muster:muteguild:<guild_id>``. They are persistent
  ``DynamicItem``s, so a reminder sent days before the bot's last restart still works. A DM
  click has no guild and no member: only the clicking user's id matters (muting is personal).
* ``/reminders game`` mutes or unmutes one game (autocomplete, like the other game options);
  ``/reminders server`` does the same for every game in this server.

Each goes through the usual path (:class:`~bot.respond.Responder`): limit, defer, the domain's
``MuteReminders`` / ``UnmuteReminders`` / ``MuteGuildReminders`` / ``UnmuteGuildReminders``
through the port, one ephemeral sentence.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.buttons import GAME_ID
from bot.listing import game_choices, on_chosen_game
from bot.respond import Interaction, command_id
from domain.commands import (
    MuteGuildReminders,
    MuteReminders,
    UnmuteGuildReminders,
    UnmuteReminders,
)
from domain.outcome import Outcome
from projections.scheduler.message import MUTE_GUILD_PREFIX, MUTE_PREFIX

if TYPE_CHECKING:
    from bot.client import MusterBot
    from projections.queries import GameDetail

# A Discord id never starts with 0: "0123" would otherwise mute a server "0123" that is not "123".
SNOWFLAKE = r"(?P<guild_id>[1-9][0-9]{0,19})"
MuteCommand = MuteReminders | UnmuteReminders | MuteGuildReminders | UnmuteGuildReminders


def words_for(mute: bool, where: str) -> Any:
    """The sentence for a (un)mute's Outcome; "nothing changed" said in plain words."""

    def words(outcome: Outcome) -> str:
        if outcome.result != "unchanged":
            return outcome.message
        if mute:
            return f"Reminders about {where} were already muted; nothing changed."
        return f"Reminders about {where} were not muted; nothing changed."

    return words


async def mute_by(interaction: Interaction, command: MuteCommand, where: str) -> None:
    """The whole answer to a mute or unmute, through the responder."""
    bot: MusterBot = interaction.client
    mute = isinstance(command, MuteReminders | MuteGuildReminders)
    await bot.responder.run(interaction, lambda: command, "other", words_for(mute, where))


class MuteGameButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"{MUTE_PREFIX}{GAME_ID}"
):
    """ "Mute this game" on a reminder DM."""

    def __init__(self, game_id: str) -> None:
        super().__init__(discord.ui.Button(label="Mute this game", custom_id=MUTE_PREFIX + game_id))
        self.game_id = game_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> MuteGameButton:
        return cls(match["game_id"])

    async def callback(self, interaction: Interaction) -> None:
        command = MuteReminders(
            command_id=command_id(interaction),
            user_id=str(interaction.user.id),
            game_id=self.game_id,
        )
        await mute_by(interaction, command, "this game")


class MuteGuildButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"{MUTE_GUILD_PREFIX}{SNOWFLAKE}"
):
    """ "Mute this server" on a reminder DM."""

    def __init__(self, guild_id: str) -> None:
        super().__init__(
            discord.ui.Button(label="Mute this server", custom_id=MUTE_GUILD_PREFIX + guild_id)
        )
        self.guild_id = guild_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> MuteGuildButton:
        return cls(match["guild_id"])

    async def callback(self, interaction: Interaction) -> None:
        command = MuteGuildReminders(
            command_id=command_id(interaction),
            user_id=str(interaction.user.id),
            guild_id=self.guild_id,
        )
        await mute_by(interaction, command, "games in that server")


Action = Literal["mute", "unmute"]


class RemindersCog(commands.Cog):
    """``/reminders game`` and ``/reminders server``."""

    def __init__(self, bot: MusterBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        group = self.bot.reminders_group
        game: app_commands.Command[Any, ..., None] = app_commands.Command(
            name="game", description="Mute or unmute reminders about one game", callback=self.game
        )
        game.autocomplete("game")(self.game_autocomplete)
        group.add_command(game)
        group.add_command(
            app_commands.Command(
                name="server",
                description="Mute or unmute reminders about every game in this server",
                callback=self.server,
            )
        )

    async def game_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await game_choices(self.bot, interaction, current)

    @app_commands.describe(game="The game", action="Mute (default) or unmute its reminders")
    async def game(self, interaction: Interaction, game: str, action: Action = "mute") -> None:
        async def mute(detail: GameDetail) -> None:
            kind = MuteReminders if action == "mute" else UnmuteReminders
            command = kind(
                command_id=command_id(interaction),
                user_id=str(interaction.user.id),
                game_id=detail.game_id,
            )
            where = f"**{detail.title}**"
            await self.bot.responder.answer(
                interaction, command, words=words_for(action == "mute", where)
            )

        await on_chosen_game(self.bot, interaction, game, mute)

    @app_commands.describe(action="Mute (default) or unmute reminders for this server")
    async def server(self, interaction: Interaction, action: Action = "mute") -> None:
        kind = MuteGuildReminders if action == "mute" else UnmuteGuildReminders
        command = kind(
            command_id=command_id(interaction),
            user_id=str(interaction.user.id),
            guild_id=str(interaction.guild_id),
        )
        await mute_by(interaction, command, "games in this server")
