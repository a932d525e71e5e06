"""The Join and Leave buttons on announcements: persistent ``DynamicItem``s.

The announcement (``projections/discord``) carries buttons with ``custom_id``s
``muster:join:<game_id>`` and ``muster:leave:<game_id>``. Registered with
``add_dynamic_items``, they are matched by their template on every click, so buttons on
announcements posted before any restart keep working.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.respond import command_id
from domain.commands import JoinGame, LeaveGame

if TYPE_CHECKING:
    from bot.client import MusterBot
    from bot.replies import Action

GAME_ID = r"(?P<game_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"


def join_id(game_id: str) -> str:
    return f"muster:join:{game_id}"


def leave_id(game_id: str) -> str:
    return f"muster:leave:{game_id}"


async def send_for_game(
    interaction: discord.Interaction[Any], kind: type[JoinGame | LeaveGame], game_id: str
) -> None:
    """A click on Join or Leave: the person's one command, answered through the responder."""
    bot: MusterBot = interaction.client
    action: Action = "join" if kind is JoinGame else "leave"
    await bot.responder.run(
        interaction,
        lambda: kind(
            command_id=command_id(interaction),
            user_id=str(interaction.user.id),  # all a join or leave needs of authority()
            game_id=game_id,
        ),
        action,
    )


def clicked_button(item: discord.ui.Item[Any]) -> discord.ui.Button[Any] | None:
    """The button discord.py built from the clicked message, to wrap as it is: building
    another one for every click is work on the event loop that answers nothing."""
    return item if isinstance(item, discord.ui.Button) else None


class JoinButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"muster:join:{GAME_ID}"):
    """Take a seat (or a place on the waitlist)."""

    def __init__(self, game_id: str, clicked: discord.ui.Button[Any] | None = None) -> None:
        super().__init__(
            clicked
            or discord.ui.Button(
                label="Join", style=discord.ButtonStyle.success, custom_id=join_id(game_id)
            )
        )
        self.game_id = game_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JoinButton:
        return cls(match["game_id"], clicked_button(item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await send_for_game(interaction, JoinGame, self.game_id)


class LeaveButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"muster:leave:{GAME_ID}"
):
    """Give up a seat (the head of the waitlist moves up) or a place on the waitlist."""

    def __init__(self, game_id: str, clicked: discord.ui.Button[Any] | None = None) -> None:
        super().__init__(
            clicked
            or discord.ui.Button(
                label="Leave", style=discord.ButtonStyle.secondary, custom_id=leave_id(game_id)
            )
        )
        self.game_id = game_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> LeaveButton:
        return cls(match["game_id"], clicked_button(item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await send_for_game(interaction, LeaveGame, self.game_id)
