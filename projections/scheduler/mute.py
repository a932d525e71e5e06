"""The reminder DM's mute buttons: ``muster:mute:<game_id>`` and ``muster:muteguild:<guild_id>``.

The bot calls :func:`handle_mute` when such a button is clicked and shows the returned text as
an ephemeral reply; the clicked interaction's id is the command id, so a repeated delivery of
the same click changes nothing.
"""

from __future__ import annotations

from domain.commands import MuteGuildReminders, MuteReminders
from domain.errors import DomainError
from domain.ports import CommandPort
from projections.scheduler.message import MUTE_GUILD_PREFIX, MUTE_PREFIX


async def handle_mute(port: CommandPort, user_id: str, custom_id: str, interaction_id: str) -> str:
    """Mute reminders for the game or guild the button names; the reply for the user."""
    command: MuteReminders | MuteGuildReminders
    if custom_id.startswith(MUTE_GUILD_PREFIX):
        guild_id = custom_id.removeprefix(MUTE_GUILD_PREFIX)
        command = MuteGuildReminders(command_id=interaction_id, user_id=user_id, guild_id=guild_id)
    elif custom_id.startswith(MUTE_PREFIX):
        game_id = custom_id.removeprefix(MUTE_PREFIX)
        command = MuteReminders(command_id=interaction_id, user_id=user_id, game_id=game_id)
    else:
        return "This button is not one of Muster's mute buttons."
    try:
        outcome = await port.send(command)
    except DomainError as error:
        return error.message
    if outcome.result == "unchanged":
        return "Reminders were already muted; nothing changed."
    return outcome.message
