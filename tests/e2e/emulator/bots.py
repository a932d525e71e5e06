"""Small discord.py bots used by the emulator tests."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord

from tests.e2e.emulator.conftest import intents


class AckButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"ack:(?P<n>\d+)"):
    """Defers every click (after the bot's ``delay``) and records what happened."""

    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"Ack {n}", custom_id=f"ack:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> AckButton:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: AckBot = interaction.client  # type: ignore[assignment]
        if bot.delay:
            await asyncio.sleep(bot.delay)
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            bot.errors.append(exc)
            return
        bot.acked.append(interaction.id)


class AckBot(discord.Client):
    """Acknowledges ``ack:<n>`` buttons; counts resumes and readies."""

    def __init__(self, *, delay: float = 0.0, **options: Any) -> None:
        super().__init__(
            intents=options.pop("intents", intents()), guild_ready_timeout=0.1, **options
        )
        self.delay = delay
        self.acked: list[int] = []
        self.errors: list[discord.HTTPException] = []
        self.resumed = asyncio.Event()
        self.ready_count = 0

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AckButton)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before a re-IDENTIFY by default; tests need not."""

    async def on_ready(self) -> None:
        self.ready_count += 1

    async def on_resumed(self) -> None:
        self.resumed.set()

    async def post_buttons(self, channel_id: int, count: int = 1) -> discord.Message:
        """Post a message with ``count`` ack buttons through discord.py (REST)."""
        channel = self.get_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        view = discord.ui.View(timeout=None)
        for n in range(count):
            view.add_item(AckButton(n))
        return await channel.send("Click me", view=view)


class EchoBot(discord.Client):
    """Posts a Join button in #games and answers each click with who clicked it."""

    def __init__(self, games_id: int) -> None:
        super().__init__(intents=intents(), guild_ready_timeout=0.1)
        self.games_id = games_id

    async def setup_hook(self) -> None:
        self.add_view(self.view())

    def view(self) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        button: discord.ui.Button[Any] = discord.ui.Button(label="Join", custom_id="echo:join")

        async def clicked(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"{interaction.user.display_name} joined!")

        button.callback = clicked
        view.add_item(button)
        return view

    async def on_ready(self) -> None:
        channel = self.get_channel(self.games_id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("Board games tonight", view=self.view())
