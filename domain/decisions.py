"""Which aggregate a command addresses, and the pure decision for each command.

``decide(aggregate, command, context) -> events`` reads no clock and does no I/O: the time
and the game's channel and guild settings come in the :class:`~domain.game.Context`.
"""

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from domain import attendance, lifecycle, membership
from domain.aggregates import Aggregate, ChannelSettings, Game, GuildSettings
from domain.commands import (
    AddPlaceholder,
    AnyCommand,
    CancelGame,
    ClaimPlaceholder,
    CompleteGame,
    ConfigureChannel,
    ConfigureGuild,
    CreateGame,
    JoinGame,
    LeaveGame,
    MuteGuildReminders,
    MuteReminders,
    ReconcileSeats,
    RecordAnnouncement,
    RecordAttendance,
    RecordDirectMessage,
    RecordReminder,
    RecordReminderIntent,
    RemovePlaceholder,
    RemovePlayer,
    RescheduleGame,
    StartGame,
    UnmuteGuildReminders,
    UnmuteReminders,
    UpdateGame,
)
from domain.errors import GameAlreadyExists, GameNotFound, InvalidCommand
from domain.events import Event, GameEvent
from domain.game import Context, GameState
from domain.settings import configure_channel, configure_guild, mute_guild

GAME_ID_NAMESPACE = uuid.UUID("8f6f2b1e-4f8a-4a8e-9d43-6f1d6c2a9b57")
"""Namespace for game ids derived from a CreateGame's command_id (uuid5)."""

SETTINGS_DEPENDENT = (
    CreateGame,
    UpdateGame,
    JoinGame,
    LeaveGame,
    ClaimPlaceholder,
    ReconcileSeats,
)
"""Game commands whose decision needs the channel's and guild's settings."""


def target(command: AnyCommand) -> str:
    """The aggregate id a command is decided on."""
    match command:
        case (
            ConfigureGuild(guild_id=guild)
            | MuteGuildReminders(guild_id=guild)
            | UnmuteGuildReminders(guild_id=guild)
        ):
            return f"guild.{_snowflake('guild_id', guild)}"
        case ConfigureChannel(channel_id=channel):
            return f"channel.{_snowflake('channel_id', channel)}"
        case CreateGame(game_id=None, command_id=command_id):
            return f"game.{uuid.uuid5(GAME_ID_NAMESPACE, command_id)}"
        case _:
            return f"game.{canonical_game_id(command.game_id)}"


def canonical_game_id(game_id: str | None) -> str:
    """A game id in canonical UUID form (safe as a subject token)."""
    try:
        return str(uuid.UUID(game_id or ""))
    except ValueError:
        raise InvalidCommand("game_id", f"{game_id!r} is not a game id (a UUID)") from None


def settings_ids(command: AnyCommand, game: GameState | None) -> tuple[str, str] | None:
    """The (channel, guild) aggregate ids whose settings a game decision needs, if any."""
    if not isinstance(command, SETTINGS_DEPENDENT):
        return None
    if isinstance(command, CreateGame):
        return f"channel.{command.channel_id}", f"guild.{command.guild_id}"
    if game is None:
        return None
    return f"channel.{game.channel_id}", f"guild.{game.guild_id}"


GameDecision = Callable[[GameState, Any, Context], Sequence[GameEvent]]
GAME_DECISIONS: dict[type[AnyCommand], GameDecision] = {
    JoinGame: membership.join,
    LeaveGame: membership.leave,
    RemovePlayer: membership.remove_player,
    ClaimPlaceholder: membership.claim_placeholder,
    AddPlaceholder: membership.add_placeholder,
    RemovePlaceholder: membership.remove_placeholder,
    ReconcileSeats: membership.reconcile_seats,
    UpdateGame: lifecycle.update,
    RescheduleGame: lifecycle.reschedule,
    CancelGame: lifecycle.cancel,
    StartGame: lifecycle.start,
    CompleteGame: lifecycle.complete,
    RecordAnnouncement: lifecycle.record_announcement,
    RecordReminder: lifecycle.record_reminder,
    RecordDirectMessage: lifecycle.record_direct_message,
    RecordReminderIntent: lifecycle.record_reminder_intent,
    MuteReminders: lifecycle.mute,
    UnmuteReminders: lifecycle.unmute,
    RecordAttendance: attendance.record_attendance,
}
"""The decision for each command on an existing game."""


def decide(aggregate: Aggregate[Any] | None, command: AnyCommand, ctx: Context) -> list[Event]:
    """The events a command produces, or a DomainError saying why it is refused."""
    match command:
        case ConfigureGuild():
            guild = aggregate.state if isinstance(aggregate, GuildSettings) else None
            return list(configure_guild(guild, command, ctx.now))
        case MuteGuildReminders() | UnmuteGuildReminders():
            guild = aggregate.state if isinstance(aggregate, GuildSettings) else None
            return list(mute_guild(guild, command, ctx.now))
        case ConfigureChannel():
            channel = aggregate.state if isinstance(aggregate, ChannelSettings) else None
            return list(configure_channel(channel, command, ctx.now))
        case CreateGame():
            if aggregate is not None:
                raise GameAlreadyExists(aggregate.id.removeprefix("game."))
            return list(lifecycle.create(target(command).removeprefix("game."), command, ctx))
        case _:
            if not isinstance(aggregate, Game):
                raise GameNotFound(canonical_game_id(command.game_id))
            return list(GAME_DECISIONS[type(command)](aggregate.state, command, ctx))


def _snowflake(field: str, value: str) -> str:
    if not (value.isascii() and value.isdigit() and len(value) <= 20):
        raise InvalidCommand(field, f"must be a Discord id (digits only), got {value!r}")
    return value
