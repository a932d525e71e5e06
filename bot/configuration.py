"""``/config guild`` and ``/config channel``: max players, reminders, rules, waitlist cap,
host roles and time zone.

Options left out keep their value; the word ``default`` clears a setting so it inherits
(channel → server → built-in). Permission checks are the domain's (Manage Server for the
server, Manage Channels for a channel), from the interaction's own permission bits.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from discord import app_commands
from discord.ext import commands

from bot.respond import Interaction, authority, command_id
from domain.commands import ConfigureChannel, ConfigureGuild

if TYPE_CHECKING:
    from bot.client import MusterBot

CLEAR = {"default", "inherit", "none", "reset"}
ROLE = re.compile(r"<@&(\d{1,20})>|(\d{1,20})")
_ZONES: list[str] = []


def zones() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(available_timezones()))
    return _ZONES


def read_settings(
    max_players: int | None, reminders: str | None, rules: str | None,
    waitlist_cap: str | None, host_roles: str | None, time_zone: str | None,
) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """The options given, as command fields (``None`` clears); and problems, per option."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    if max_players is not None:
        fields["max_players"] = max_players
    if reminders is not None:
        if reminders.strip().lower() in CLEAR:
            fields["reminder_minutes"] = None
        else:
            try:
                fields["reminder_minutes"] = tuple(
                    int(p) for p in re.split(r"[,\s]+", reminders.strip()) if p
                )
            except ValueError:
                problems.append("**reminders**: minutes before the start, e.g. `60, 15`.")
    if rules is not None:
        fields["rules"] = None if rules.strip().lower() in CLEAR else rules
    if waitlist_cap is not None:
        cap = waitlist_cap.strip().lower()
        if cap in CLEAR:
            fields["waitlist_cap"] = None
        elif cap == "unlimited" or cap.isdigit():
            fields["waitlist_cap"] = "unlimited" if cap == "unlimited" else int(cap)
        else:
            problems.append("**waitlist cap**: a number (0 = no waitlist) or `unlimited`.")
    if host_roles is not None:
        if host_roles.strip().lower() in CLEAR:
            fields["host_role_ids"] = None
        else:
            found = [a or b for a, b in ROLE.findall(host_roles)]
            if not found:
                problems.append("**host roles**: mention roles, e.g. `@Game Hosts`.")
            fields["host_role_ids"] = tuple(found)
    if time_zone is not None:
        fields["time_zone"] = None if time_zone.strip().lower() in CLEAR else time_zone.strip()
    return fields, problems


class ConfigurationCog(commands.Cog):
    """Server and channel settings."""

    def __init__(self, bot: MusterBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        group = self.bot.config_group
        for name, description, callback in (
            ("guild", "Defaults for the whole server (needs Manage Server)", self.guild),
            ("channel", "Settings for this channel (needs Manage Channels)", self.channel),
        ):
            command = app_commands.Command(name=name, description=description, callback=callback)
            command.autocomplete("time_zone")(self.zone_autocomplete)
            group.add_command(command)

    async def zone_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower().replace(" ", "_")
        found = [z for z in zones() if typed in z.lower()][:25]
        return [app_commands.Choice(name=z, value=z) for z in found]

    @app_commands.describe(
        max_players="Seats per game", reminders="Minutes before start, e.g. 60, 15",
        rules="Shown on announcements", waitlist_cap="A number, or unlimited",
        host_roles="Roles that may host, e.g. @Game Hosts", time_zone="e.g. Europe/Berlin",
    )  # fmt: skip
    async def guild(
        self, interaction: Interaction, max_players: app_commands.Range[int, 1, 100] | None = None,
        reminders: str | None = None, rules: str | None = None, waitlist_cap: str | None = None,
        host_roles: str | None = None, time_zone: str | None = None,
    ) -> None:  # fmt: skip
        fields, problems = read_settings(
            max_players, reminders, rules, waitlist_cap, host_roles, time_zone
        )
        await self._configure(interaction, fields, problems, channel=False)

    @app_commands.describe(
        max_players="Seats per game", reminders="Minutes before start, e.g. 60, 15",
        rules="Shown on announcements", waitlist_cap="A number, or unlimited",
        host_roles="Roles that may host, e.g. @Game Hosts", time_zone="e.g. Europe/Berlin",
    )  # fmt: skip
    async def channel(
        self, interaction: Interaction, max_players: app_commands.Range[int, 1, 100] | None = None,
        reminders: str | None = None, rules: str | None = None, waitlist_cap: str | None = None,
        host_roles: str | None = None, time_zone: str | None = None,
    ) -> None:  # fmt: skip
        fields, problems = read_settings(
            max_players, reminders, rules, waitlist_cap, host_roles, time_zone
        )
        await self._configure(interaction, fields, problems, channel=True)

    async def _configure(
        self, interaction: Interaction, fields: dict[str, Any], problems: list[str],
        *, channel: bool,
    ) -> None:  # fmt: skip
        responder = self.bot.responder
        if not await responder.admit(interaction):
            return

        async def work() -> None:
            if not await responder.defer(interaction):
                return
            if problems:
                await responder.say(interaction, "Nothing was changed:\n• " + "\n• ".join(problems))
                return
            if not fields:
                await responder.say(interaction, "Give at least one setting to change.")
                return
            base: dict[str, Any] = {
                "command_id": command_id(interaction), **authority(interaction),
                "guild_id": str(interaction.guild_id), **fields,
            }  # fmt: skip
            command = (
                ConfigureChannel(channel_id=str(interaction.channel_id), **base)
                if channel
                else ConfigureGuild(**base)
            )
            text, _ = await responder.decide(command)
            await responder.say(interaction, text)

        await responder.guarded(interaction, work)
