"""Autocomplete: a member typing into an option gets the bot's choices (type 4 → type 8)."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from deploy.emulator import ScriptError
from tests.e2e.emulator.conftest import StartClient, World, intents

pytestmark = pytest.mark.e2e

GAMES = ["Catan", "Carcassonne", "Chess", "Go", "Azul"]


class PickBot(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=intents(), guild_ready_timeout=0.1)
        self.tree = app_commands.CommandTree(self)
        self.typed: list[str] = []
        group = app_commands.Group(name="game", description="Games")

        async def choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            self.typed.append(current)
            return [
                app_commands.Choice(name=g, value=g.lower())
                for g in GAMES
                if current.lower() in g.lower()
            ]

        @group.command(name="pick", description="Pick a game")
        @app_commands.autocomplete(game=choices)
        async def pick(interaction: discord.Interaction, game: str, seats: int) -> None:
            await interaction.response.send_message(f"{game} for {seats}", ephemeral=True)

        self.tree.add_command(group)

    async def setup_hook(self) -> None:
        await self.tree.sync()


async def test_autocomplete_offers_choices_then_the_command_runs(
    world: World, start_client: StartClient
) -> None:
    bot = await start_client(PickBot())
    found = await world.alice.autocomplete("game pick", "game", "ca", channel=world.games)
    assert found == [
        {"name": "Catan", "value": "catan"},
        {"name": "Carcassonne", "value": "carcassonne"},
    ]
    assert bot.typed == ["ca"]
    # Other options typed so far go along; required ones may still be missing.
    found = await world.alice.autocomplete(
        "game pick", "game", "", {"seats": 4}, channel=world.games
    )
    assert len(found) == len(GAMES)
    [it] = [i for i in world.emu.inspect.interactions() if i["type"] == 4][:1]
    assert it["response_type"] == 8
    run = await world.alice.run_command(
        "game pick", {"game": "catan", "seats": 4}, channel=world.games
    )
    assert run.response_type == 4


async def test_autocomplete_only_where_the_option_has_it(
    world: World, start_client: StartClient
) -> None:
    await start_client(PickBot())
    with pytest.raises(ScriptError, match="no autocomplete"):
        await world.alice.autocomplete("game pick", "seats", "4", channel=world.games)
