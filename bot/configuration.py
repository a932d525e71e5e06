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


def read_settings(options: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The options given, as command fields (``None`` clears); and problems, per option."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in options.items():
        if value is None:
            continue
        if isinstance(value, str) and value.strip().lower() in CLEAR:
            fields[_FIELD.get(name, name)] = None
            continue
        reader = _READERS.get(name)
        if reader is None:
            fields[name] = value
            continue
        found, problem = reader(value)
        if problem:
            problems.append(problem)
        else:
            fields[_FIELD.get(name, name)] = found
    return fields, problems


def _reminders(text: str) -> tuple[Any, str | None]:
    try:
        return tuple(int(p) for p in re.split(r"[,\s]+", text.strip()) if p), None
    except ValueError:
        return None, "**reminders**: minutes before the start, e.g. `60, 15`."


def _waitlist_cap(text: str) -> tuple[Any, str | None]:
    cap = text.strip().lower()
    if cap == "unlimited":
        return "unlimited", None
    if cap.isascii() and cap.isdigit() and len(cap) <= 9:  # not "²", not 5,000 digits
        return int(cap), None
    return None, "**waitlist cap**: a number (0 = no waitlist) or `unlimited`."


def _host_roles(text: str) -> tuple[Any, str | None]:
    found = tuple(a or b for a, b in ROLE.findall(text))
    return (found, None) if found else (None, "**host roles**: mention roles, e.g. `@Game Hosts`.")


def _time_zone(text: str) -> tuple[Any, str | None]:
    return text.strip(), None


_READERS = {
    "reminders": _reminders, "waitlist_cap": _waitlist_cap, "host_roles": _host_roles,
    "time_zone": _time_zone,
}  # fmt: skip
_FIELD = {"reminders": "reminder_minutes", "host_roles": "host_role_ids"}


SETTING_OPTIONS = {
    "max_players": "Seats per game", "reminders": "Minutes before start, e.g. 60, 15",
    "rules": "Shown on announcements", "waitlist_cap": "A number, or unlimited",
    "host_roles": "Roles that may host, e.g. @Game Hosts", "time_zone": "e.g. Europe/Berlin",
}  # fmt: skip


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
            command: app_commands.Command[Any, ..., None] = app_commands.Command(
                name=name, description=description, callback=callback
            )
            command.autocomplete("time_zone")(self.zone_autocomplete)
            group.add_command(command)

    async def _current(self, interaction: Interaction) -> str:
        """The settings a new game here inherits (when no option was given)."""
        reads = self.bot.parts.reads
        if reads is None:
            return "Give at least one setting to change."
        now = await reads.settings(str(interaction.guild_id), str(interaction.channel_id))
        cap = "unlimited" if now.waitlist_cap is None else str(now.waitlist_cap)
        roles = " ".join(f"<@&{r}>" for r in now.host_role_ids) or "anyone with Manage Server"
        return "\n".join([
            "Settings for new games in this channel (give an option to change one; "
            "`default` makes it inherit):",
            f"• max players: {now.max_players}",
            f"• reminders: {', '.join(str(m) for m in now.reminder_minutes) or 'none'} "
            "minutes before",
            f"• waitlist cap: {cap}",
            f"• host roles: {roles}",
            f"• time zone: {now.time_zone}",
            f"• rules: {now.rules or 'none'}",
        ])  # fmt: skip

    async def zone_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower().replace(" ", "_")
        found = [z for z in zones() if typed in z.lower()][:25]
        return [app_commands.Choice(name=z, value=z) for z in found]

    @app_commands.describe(**SETTING_OPTIONS)
    async def guild(
        self, interaction: Interaction, *,
        max_players: app_commands.Range[int, 1, 100] | None = None,
        reminders: str | None = None, rules: str | None = None, waitlist_cap: str | None = None,
        host_roles: str | None = None, time_zone: str | None = None,
    ) -> None:  # fmt: skip
        await self._configure(
            interaction, channel=False, max_players=max_players, reminders=reminders, rules=rules,
            waitlist_cap=waitlist_cap, host_roles=host_roles, time_zone=time_zone,
        )  # fmt: skip

    @app_commands.describe(**SETTING_OPTIONS)
    async def channel(
        self, interaction: Interaction, *,
        max_players: app_commands.Range[int, 1, 100] | None = None,
        reminders: str | None = None, rules: str | None = None, waitlist_cap: str | None = None,
        host_roles: str | None = None, time_zone: str | None = None,
    ) -> None:  # fmt: skip
        await self._configure(
            interaction, channel=True, max_players=max_players, reminders=reminders, rules=rules,
            waitlist_cap=waitlist_cap, host_roles=host_roles, time_zone=time_zone,
        )  # fmt: skip

    async def _configure(self, interaction: Interaction, *, channel: bool, **typed: Any) -> None:
        fields, problems = read_settings(typed)
        responder = self.bot.responder

        async def work() -> None:
            if problems:
                await responder.say(interaction, "Nothing was changed:\n• " + "\n• ".join(problems))
                return
            if not fields:
                await responder.say(interaction, await self._current(interaction))
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
            await responder.answer(interaction, command)

        await responder.handle(interaction, work)
