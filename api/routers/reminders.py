"""Reminder mutes (a game, a whole server) and attendance, through the command port."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from api import models
from api.access import member_or_404
from api.routers import ERRORS
from api.routers.games import IdempotencyKey, Wait
from api.routers.guilds import Snowflake
from api.services import Web
from api.sessions import SessionDep, WebDep
from api.views import game_or_404
from api.writes import command_id, send
from domain import commands

router = APIRouter(prefix="/api/v1", tags=["reminders"], responses=ERRORS)
Mute = commands.MuteReminders | commands.UnmuteReminders
GuildMute = commands.MuteGuildReminders | commands.UnmuteGuildReminders


def mute_command(
    scope: Literal["game", "guild"], mute: bool, cid: str, user_id: str, target: str
) -> Mute | GuildMute:
    """The (un)mute command for a game or a guild."""
    if scope == "guild":
        kind: Any = commands.MuteGuildReminders if mute else commands.UnmuteGuildReminders
        return kind(command_id=cid, user_id=user_id, guild_id=target)  # type: ignore[no-any-return]
    kind = commands.MuteReminders if mute else commands.UnmuteReminders
    return kind(command_id=cid, user_id=user_id, game_id=target)  # type: ignore[no-any-return]


async def attendance_command(
    web: Web, game: Any, user_id: str, cid: str, no_shows: list[str]
) -> commands.RecordAttendance:
    """``RecordAttendance`` with the user's roles and permissions in the game's guild."""
    member = await member_or_404(web, game.guild_id, user_id, "game")
    return commands.RecordAttendance(
        command_id=cid, user_id=user_id, role_ids=member.role_ids,
        permissions=member.permissions, game_id=game.game_id, no_shows=tuple(no_shows),
    )  # fmt: skip


async def _game_mute(web: Web, game_id: str, user_id: str, key: str | None, mute: bool,
                     wait: bool) -> models.CommandResult:  # fmt: skip
    game, _ = await game_or_404(web, game_id, user_id)
    command = mute_command("game", mute, command_id(user_id, key), user_id, game.game_id)
    return await send(web, command, wait=wait)


@router.post("/games/{game_id}/reminders/mute", response_model=models.CommandResult,
             summary="Mute this game's reminders")  # fmt: skip
async def mute_game(game_id: str, web: WebDep, session: SessionDep, key: IdempotencyKey = None,
                    wait: Wait = True) -> Any:  # fmt: skip
    """No more reminder DMs about this game for you."""
    return await _game_mute(web, game_id, session.user_id, key, True, wait)


@router.post("/games/{game_id}/reminders/unmute", response_model=models.CommandResult,
             summary="Unmute this game's reminders")  # fmt: skip
async def unmute_game(game_id: str, web: WebDep, session: SessionDep,
                      key: IdempotencyKey = None, wait: Wait = True) -> Any:  # fmt: skip
    return await _game_mute(web, game_id, session.user_id, key, False, wait)


async def _guild_mute(web: Web, guild_id: str, user_id: str, key: str | None, mute: bool,
                      wait: bool) -> models.CommandResult:  # fmt: skip
    await member_or_404(web, guild_id, user_id)
    command = mute_command("guild", mute, command_id(user_id, key), user_id, guild_id)
    return await send(web, command, wait=wait)


@router.post("/guilds/{guild_id}/reminders/mute", response_model=models.CommandResult,
             summary="Mute reminders for the server")  # fmt: skip
async def mute_guild(guild_id: Snowflake, web: WebDep, session: SessionDep,
                     key: IdempotencyKey = None, wait: Wait = True) -> Any:  # fmt: skip
    """No reminder DMs for you about any game in this server."""
    return await _guild_mute(web, guild_id, session.user_id, key, True, wait)


@router.post("/guilds/{guild_id}/reminders/unmute", response_model=models.CommandResult,
             summary="Unmute reminders for the server")  # fmt: skip
async def unmute_guild(guild_id: Snowflake, web: WebDep, session: SessionDep,
                       key: IdempotencyKey = None, wait: Wait = True) -> Any:  # fmt: skip
    return await _guild_mute(web, guild_id, session.user_id, key, False, wait)


@router.post("/games/{game_id}/attendance", response_model=models.CommandResult,
             summary="Record attendance")  # fmt: skip
async def record_attendance(
    game_id: str, body: models.Attendance, web: WebDep, session: SessionDep,
    key: IdempotencyKey = None, wait: Wait = True,
) -> Any:  # fmt: skip
    """After the start, the host (or a manager) names the seated players who did not come;
    every other seated player counts as present. Recording again replaces the record."""
    game, _ = await game_or_404(web, game_id, session.user_id)
    command = await attendance_command(
        web, game, session.user_id, command_id(session.user_id, key), body.no_shows
    )
    return await send(web, command, wait=wait)
