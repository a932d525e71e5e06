"""Slash commands, a persistent view with a DynamicItem, a scripted click, defer and edit."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest
from discord import app_commands

from deploy.emulator.inspection import buttons
from tests.e2e.emulator.conftest import StartClient, World, intents

pytestmark = pytest.mark.e2e


class JoinButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"muster:join:(?P<game>\d+)"
):
    """Join a game; disables itself when the game is full."""

    def __init__(self, game: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Join",
                style=discord.ButtonStyle.success,
                custom_id=f"muster:join:{game}",
                disabled=disabled,
            )
        )
        self.game = game

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JoinButton:
        return cls(int(match["game"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # type 6: deferred update
        bot: GameBot = interaction.client  # type: ignore[assignment]
        players = bot.games[self.game]
        players.append(interaction.user.display_name)
        full = len(players) >= bot.limits[self.game]
        view = discord.ui.View(timeout=None)
        view.add_item(JoinButton(self.game, disabled=full))
        await interaction.edit_original_response(embed=game_embed(self.game, players), view=view)


def game_embed(game: int, players: list[str]) -> discord.Embed:
    embed = discord.Embed(title=f"Game {game}", description="Catan night")
    embed.add_field(name="Players", value=", ".join(players) or "nobody yet")
    return embed


class GameBot(discord.Client):
    def __init__(self, guild_id: int) -> None:
        super().__init__(intents=intents(), guild_ready_timeout=0.1)
        self.tree = app_commands.CommandTree(self)
        self.guild_id = guild_id
        self.games: dict[int, list[str]] = {}
        self.limits: dict[int, int] = {}
        self.synced: list[app_commands.AppCommand] = []

        @self.tree.command(name="game", description="Announce a game")
        @app_commands.describe(title="What you play", players="How many can join")
        async def game(interaction: discord.Interaction, title: str, players: int) -> None:
            game_id = len(self.games) + 1
            self.games[game_id], self.limits[game_id] = [], players
            view = discord.ui.View(timeout=None)
            view.add_item(JoinButton(game_id))
            await interaction.response.send_message(
                f"**{title}** hosted by {interaction.user.mention}",
                embed=game_embed(game_id, []),
                view=view,
            )

    async def setup_hook(self) -> None:
        self.add_dynamic_items(JoinButton)
        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        self.synced = await self.tree.sync(guild=guild)


async def test_slash_command_button_click_defer_and_edit(
    world: World, start_client: StartClient
) -> None:
    emu = world.emu
    bot = await start_client(GameBot(world.guild.id))
    assert [c.name for c in bot.synced] == ["game"]
    assert [c.payload["name"] for c in emu.world.commands.values()] == ["game"]

    run = await world.alice.run_command(
        "game", {"title": "Catan", "players": 1}, channel=world.games
    )
    assert run.response_type == 4
    [announcement] = emu.channel_messages(world.games)
    assert announcement["content"] == f"**Catan** hosted by <@{world.alice.id}>"
    assert announcement["interaction_metadata"]["user"]["id"] == str(world.alice.id)
    [join] = buttons(announcement)
    assert join["custom_id"] == "muster:join:1"
    assert not join.get("disabled", False)

    click = await world.bob.click(announcement, "muster:join:1")
    assert click.response_type == 6, click.failures
    await emu.until(lambda: emu.channel_messages(world.games)[0]["edited_timestamp"])
    [edited] = emu.channel_messages(world.games)
    assert edited["id"] == announcement["id"]
    assert edited["edited_timestamp"] is not None
    assert edited["embeds"][0]["fields"][0]["value"] == "Bob"
    assert buttons(edited)[0]["disabled"] is True
    log = emu.requests
    assert log.count("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original") == 1
    assert log.count("POST /interactions/{webhook_id}/{webhook_token}/callback") == 2


async def test_disabled_button_cannot_be_clicked(world: World, start_client: StartClient) -> None:
    from deploy.emulator import ScriptError

    await start_client(GameBot(world.guild.id))
    await world.alice.run_command("game", {"title": "Chess", "players": 1}, channel=world.games)
    [msg] = world.emu.channel_messages(world.games)
    await world.bob.click(msg, "muster:join:1")
    await world.emu.until(
        lambda: buttons(world.emu.channel_messages(world.games)[0])[0].get("disabled")
    )
    with pytest.raises(ScriptError, match="disabled"):
        await world.alice.click(msg, "muster:join:1")


async def test_modal_round_trip(world: World, start_client: StartClient) -> None:
    class Rename(discord.ui.Modal, title="Rename game"):
        name = discord.ui.TextInput(label="New name", custom_id="name", max_length=50)

        async def on_submit(self, interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"Renamed to {self.name.value}", ephemeral=True)

    class ModalBot(discord.Client):
        def __init__(self) -> None:
            super().__init__(intents=intents(), guild_ready_timeout=0.1)
            self.tree = app_commands.CommandTree(self)

            @self.tree.command(name="rename", description="Rename a game")
            async def rename(interaction: discord.Interaction) -> None:
                await interaction.response.send_modal(Rename())

        async def setup_hook(self) -> None:
            await self.tree.sync()

    await start_client(ModalBot())
    opened = await world.alice.run_command("rename", channel=world.games)
    assert opened.modal is not None
    assert opened.modal["title"] == "Rename game"
    submitted = await world.alice.submit_modal(opened, {"name": "Catan 2"})
    assert submitted.response_type == 4
    assert world.emu.channel_messages(world.games) == []  # ephemeral: hidden from others
    [reply] = world.emu.channel_messages(world.games, as_user=world.alice.id)
    assert reply["content"] == "Renamed to Catan 2"
    assert reply["flags"] & 64


class ThinkingBot(discord.Client):
    """``/roll`` defers with thinking (type 5) then follows up; its button updates (type 7)."""

    def __init__(self) -> None:
        super().__init__(intents=intents(), guild_ready_timeout=0.1)
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="roll", description="Roll for turn order")
        async def roll(interaction: discord.Interaction, sides: int = 6) -> None:
            await interaction.response.defer(thinking=True)
            view = discord.ui.View(timeout=None)
            button: discord.ui.Button[Any] = discord.ui.Button(label="Reroll", custom_id="reroll")

            async def reroll(again: discord.Interaction) -> None:
                await again.response.edit_message(content=f"Rerolled a d{sides}", view=None)

            button.callback = reroll
            view.add_item(button)
            await interaction.followup.send(f"Rolled a d{sides}", view=view)

    async def setup_hook(self) -> None:
        await self.tree.sync()


async def test_deferred_reply_follow_up_and_update_message(
    world: World, start_client: StartClient
) -> None:
    emu = world.emu
    bot = await start_client(ThinkingBot())
    listed = await bot.tree.fetch_commands()
    assert [(c.name, c.options[0].name) for c in listed] == [("roll", "sides")]

    roll = await world.bob.run_command("roll", {"sides": 20}, channel=world.games)
    assert roll.response_type == 5
    await emu.until(lambda: emu.channel_messages(world.games)[0]["content"])
    [reply] = emu.channel_messages(world.games)
    assert reply["content"] == "Rolled a d20"
    assert not reply["flags"] & 128  # the follow-up replaced the "thinking" placeholder
    assert reply["id"] == str(roll.original_message_id)

    again = await world.bob.click(reply, "reroll")
    assert again.response_type == 7
    [updated] = emu.channel_messages(world.games)
    assert updated["content"] == "Rerolled a d20"
    assert updated["components"] == []
