"""``/game create``, ``/game edit``, ``/game reschedule``, ``/game cancel``.

``/game create`` opens a modal (title, when, max players, description, players). Times are
read in the channel's (or guild's) configured zone (``gateways/timeparse.py``); the reply shows
the time as ``<t:unix:F>`` so the host sees it in their own zone. A bad time or a bad
``@mention`` is answered with every problem and a "Try again" button that reopens the modal
with what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.listing import game_choices, on_chosen_game
from bot.mentions import read_roster
from bot.replies import echo
from bot.respond import Interaction, authority, command_id
from domain.commands import CancelGame, CreateGame, RescheduleGame, UpdateGame
from domain.outcome import Outcome
from gateways.timeparse import TimeNotUnderstood, discord_timestamp, minutes_of, parse_when

if TYPE_CHECKING:
    from bot.client import MusterBot
    from projections.queries import GameDetail


@dataclass(frozen=True)
class Draft:
    """What the host typed into the create modal (kept for "Try again")."""

    title: str = ""
    when: str = ""
    max_players: str = ""
    description: str = ""
    players: str = ""
    duration: str = ""


def whole_number(text: str) -> int | None:
    """A count a person typed: ASCII digits only, at most 9 (``str.isdigit`` also accepts "²"
    and "٣", which ``int`` refuses or reads as another digit); None if it is not one."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


class CreateModal(discord.ui.Modal, title="New game"):
    """Five inputs; prefilled from a draft when the host tries again."""

    def __init__(self, bot: MusterBot, draft: Draft) -> None:
        super().__init__(timeout=900)
        bot.forms.add(self)
        self.bot, self.draft = bot, draft
        self.title_input = discord.ui.TextInput[CreateModal](
            label="Title", custom_id="title", max_length=100, default=draft.title or None
        )
        self.when_input = discord.ui.TextInput[CreateModal](
            label="When", custom_id="when", max_length=100, default=draft.when or None,
            placeholder="tomorrow 20:00 · friday 8pm · in 2h · 2026-05-01 19:30",
        )  # fmt: skip
        self.max_input = discord.ui.TextInput[CreateModal](
            label="Max players", custom_id="max_players", required=False, max_length=3,
            default=draft.max_players or None, placeholder="the channel's default",
        )  # fmt: skip
        self.description_input = discord.ui.TextInput[CreateModal](
            label="Description", custom_id="description", required=False, max_length=2000,
            style=discord.TextStyle.paragraph, default=draft.description or None,
        )  # fmt: skip
        self.players_input = discord.ui.TextInput[CreateModal](
            label="Players already in (optional)", custom_id="players", required=False,
            style=discord.TextStyle.paragraph, max_length=1000, default=draft.players or None,
            placeholder="@alice, @bob, Sam (no Discord)",
        )  # fmt: skip
        for item in (
            self.title_input, self.when_input, self.max_input,
            self.description_input, self.players_input,
        ):  # fmt: skip
            self.add_item(item)

    async def on_submit(self, interaction: Interaction) -> None:
        draft = replace(
            self.draft,
            title=self.title_input.value, when=self.when_input.value,
            max_players=self.max_input.value, description=self.description_input.value,
            players=self.players_input.value,
        )  # fmt: skip
        await self.bot.responder.handle(
            interaction, lambda: create_game(self.bot, interaction, draft), defer=False
        )


class TryAgain(discord.ui.View):
    """One button that reopens the create modal with what was typed."""

    def __init__(self, bot: MusterBot, draft: Draft) -> None:
        super().__init__(timeout=900)
        bot.forms.add(self)
        self.bot, self.draft = bot, draft

    @discord.ui.button(label="Try again", style=discord.ButtonStyle.primary)
    async def again(self, interaction: Interaction, _: discord.ui.Button[TryAgain]) -> None:
        await interaction.response.send_modal(CreateModal(self.bot, self.draft))


async def time_zone_of(bot: MusterBot, interaction: Interaction) -> str:
    reads = bot.parts.reads
    if reads is None or interaction.guild_id is None:
        return "UTC"
    return await reads.time_zone(str(interaction.guild_id), str(interaction.channel_id))


async def create_game(bot: MusterBot, interaction: Interaction, draft: Draft) -> None:
    """Read the draft, send CreateGame, answer once (with "Try again" on problems)."""
    responder = bot.responder
    if not await responder.defer(interaction):
        return
    problems: list[str] = []
    zone = await time_zone_of(bot, interaction)
    when = None
    try:
        when = parse_when(draft.when, zone, bot.parts.now())
    except TimeNotUnderstood as error:
        problems.append(f"**When**: {error.reason}")
    max_players = duration = None
    if draft.max_players.strip():
        max_players = whole_number(draft.max_players)
        if max_players is None:
            problems.append(f"**Max players**: {echo(draft.max_players)} is not a number.")
    try:
        duration = minutes_of(draft.duration)
    except ValueError as error:
        problems.append(f"**Duration**: {error}")
    guild_id = str(interaction.guild_id)
    roster = await read_roster(draft.players, guild_id, bot.parts.members)
    problems += [f"**Players**: {p}" for p in roster.problems]
    if problems or when is None:
        await _refused(bot, interaction, draft, "\n".join(f"• {p}" for p in problems))
        return
    command = CreateGame(
        command_id=command_id(interaction), **authority(interaction), guild_id=guild_id,
        channel_id=str(interaction.channel_id), title=draft.title.strip(), scheduled_at=when,
        description=draft.description.strip(), max_players=max_players,
        duration_minutes=duration, players=tuple(roster.players),
        placeholders=tuple(roster.placeholders),
    )  # fmt: skip
    text, outcome = await responder.decide(command, words=lambda o: _created(o, draft, when))
    if outcome is None:
        await _refused(bot, interaction, draft, text)
        return
    await responder.say(interaction, text)


def _created(outcome: Outcome, draft: Draft, when: Any) -> str:
    return (
        f"**{draft.title.strip()}** is on for {discord_timestamp(when)} "
        f"({discord_timestamp(when, 'R')}). The announcement with Join and Leave buttons is "
        "posted in this channel."
    )


async def _refused(bot: MusterBot, interaction: Interaction, draft: Draft, text: str) -> None:
    await bot.responder.say(
        interaction,
        f"The game was not created:\n{text}\nYour text is kept: press **Try again**.",
        view=TryAgain(bot, draft),
    )


class EditModal(discord.ui.Modal, title="Edit game"):
    """Title, description, max players, duration, rules: prefilled with the current values."""

    def __init__(self, bot: MusterBot, game_id: str, current: dict[str, str]) -> None:
        super().__init__(timeout=900)
        bot.forms.add(self)
        self.bot, self.game_id, self.current = bot, game_id, current
        self.inputs: dict[str, discord.ui.TextInput[EditModal]] = {}
        specs = [
            ("title", "Title", 100, True, discord.TextStyle.short),
            ("description", "Description", 2000, False, discord.TextStyle.paragraph),
            ("max_players", "Max players (empty: unchanged)", 3, False,
             discord.TextStyle.short),
            ("duration", "Duration (90, 1h30; empty: none)", 10, False, discord.TextStyle.short),
            ("rules", "Rules (empty: channel default)", 2000, False, discord.TextStyle.paragraph),
        ]  # fmt: skip
        for key, label, length, required, style in specs:
            field = discord.ui.TextInput[EditModal](
                label=label, custom_id=key, max_length=length, required=required, style=style,
                default=current.get(key) or None,
            )  # fmt: skip
            self.inputs[key] = field
            self.add_item(field)

    async def on_submit(self, interaction: Interaction) -> None:
        await self.bot.responder.handle(interaction, lambda: self._submit(interaction), defer=False)

    async def _submit(self, interaction: Interaction) -> None:
        responder = self.bot.responder
        if not await responder.defer(interaction):
            return
        typed = {k: v.value.strip() for k, v in self.inputs.items()}
        changes: dict[str, Any] = {}
        problems = []
        for key, value in typed.items():
            if value == (self.current.get(key) or ""):
                continue
            if key == "max_players":
                number = whole_number(value)
                if value and number is None:
                    problems.append(f"• **Max players**: {echo(value)} is not a number.")
                changes[key] = number
            elif key == "duration":
                try:
                    changes["duration_minutes"] = minutes_of(value)
                except ValueError as error:
                    problems.append(f"• **Duration**: {error}")
            elif key == "rules":
                changes[key] = value or None
            else:
                changes[key] = value
        if problems:
            await responder.say(interaction, "Nothing was changed:\n" + "\n".join(problems))
            return
        if not changes:
            await responder.say(interaction, "Nothing changed.")
            return
        command = UpdateGame(
            command_id=command_id(interaction), **authority(interaction), game_id=self.game_id,
            **changes,
        )  # fmt: skip
        text, _ = await responder.decide(command)
        await responder.say(interaction, text)


class GamesCog(commands.Cog):
    """Creating and changing games."""

    def __init__(self, bot: MusterBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        group = self.bot.game_group
        create: app_commands.Command[Any, ..., None] = app_commands.Command(
            name="create", description="Schedule a game in this channel", callback=self.create
        )
        group.add_command(create)
        for name, description, callback in (
            ("edit", "Change a game's title, description, players or rules", self.edit),
            ("reschedule", "Move a game to another time", self.reschedule),
            ("cancel", "Cancel a game (players are told)", self.cancel),
        ):
            command: app_commands.Command[Any, ..., None] = app_commands.Command(
                name=name, description=description, callback=callback
            )
            command.autocomplete("game")(self.game_autocomplete)
            group.add_command(command)

    async def game_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await game_choices(self.bot, interaction, current)

    @app_commands.describe(duration="How long it lasts, e.g. 90 or 2h (optional)")
    async def create(self, interaction: Interaction, duration: str | None = None) -> None:
        if not await self.bot.responder.admit(interaction):
            return
        draft = Draft(duration=duration or "")
        await interaction.response.send_modal(CreateModal(self.bot, draft))

    @app_commands.describe(game="The game to change")
    async def edit(self, interaction: Interaction, game: str) -> None:
        async def open_form(detail: GameDetail) -> None:
            current = {
                "title": detail.title, "description": detail.description,
                "max_players": "",
                "duration": str(detail.duration_minutes or ""),
                "rules": detail.settings.rules,
            }  # fmt: skip
            await interaction.response.send_modal(EditModal(self.bot, detail.game_id, current))

        await on_chosen_game(self.bot, interaction, game, open_form, defer=False)

    @app_commands.describe(game="The game to move", when="New time, e.g. friday 20:00 or in 2h")
    async def reschedule(self, interaction: Interaction, game: str, when: str) -> None:
        responder = self.bot.responder

        async def move(detail: GameDetail) -> None:
            zone = await time_zone_of(self.bot, interaction)
            try:
                at = parse_when(when, zone, self.bot.parts.now())
            except TimeNotUnderstood as error:
                await responder.say(interaction, f"Not moved: {error.reason}")
                return
            command = RescheduleGame(
                command_id=command_id(interaction), **authority(interaction),
                game_id=detail.game_id, scheduled_at=at,
            )  # fmt: skip
            await responder.answer(
                interaction,
                command,
                words=lambda _: (
                    f"**{detail.title}** moved to {discord_timestamp(at)} "
                    f"({discord_timestamp(at, 'R')}); players are told."
                ),
            )

        await on_chosen_game(self.bot, interaction, game, move)

    @app_commands.describe(game="The game to cancel", reason="Told to the players (optional)")
    async def cancel(self, interaction: Interaction, game: str, reason: str = "") -> None:
        async def cancel_it(detail: GameDetail) -> None:
            command = CancelGame(
                command_id=command_id(interaction), **authority(interaction),
                game_id=detail.game_id, reason=reason,
            )  # fmt: skip
            await self.bot.responder.answer(
                interaction,
                command,
                words=lambda _: f"**{detail.title}** is cancelled; players are told.",
            )

        await on_chosen_game(self.bot, interaction, game, cancel_it)
