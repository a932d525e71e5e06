"""The responder's follow-up (``bot.respond.follow_up``) is the request discord.py's
``interaction.followup.send(text, ephemeral=True)`` makes, and it fills the deferred reply."""

from __future__ import annotations

from typing import Any

import discord

from bot.respond import follow_up
from deploy.emulator.model import Interaction
from tests.e2e.emulator.conftest import StartClient, World

TEXT = "You're in — 1/4. <@1> & *co*"


class TwoWays(discord.Client):
    """Defers every click, then answers ``via:ours`` with ``follow_up`` and ``via:theirs``
    with discord.py's ``followup.send``."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.1)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = TEXT
        if (interaction.data or {}).get("custom_id") == "via:ours":
            await follow_up(interaction, text)
        else:
            await interaction.followup.send(text, ephemeral=True)


async def test_follow_up_sends_what_discord_py_sends(
    world: World, start_client: StartClient
) -> None:
    emu = world.emu
    bodies: dict[str, dict[str, Any]] = {}
    followup = emu.responses.followup

    def noted(it: Interaction, data: dict[str, Any]) -> Any:
        bodies[it.data["custom_id"]] = data
        return followup(it, data)

    emu.responses.followup = noted  # type: ignore[method-assign]
    await start_client(TwoWays())
    buttons = [
        {"type": 2, "style": 1, "label": via, "custom_id": f"via:{via}"}
        for via in ("ours", "theirs")
    ]
    body = {"content": "Pick", "components": [{"type": 1, "components": buttons}]}
    message = emu.messages.create(world.games, emu.world.application.bot_user_id, body)
    ours = await world.alice.click(message, "via:ours")
    theirs = await world.bob.click(message, "via:theirs")
    await emu.until(lambda: len(bodies) == 2)
    assert bodies["via:ours"] == bodies["via:theirs"]
    assert bodies["via:ours"]["flags"] == 64
    for it in (ours, theirs):
        assert emu.world.messages[it.original_message_id or 0].content == TEXT
    routes = [r.route for r in emu.requests.entries() if r.route.startswith("POST /webhooks")]
    assert routes == ["POST /webhooks/{webhook_id}/{webhook_token}"] * 2
