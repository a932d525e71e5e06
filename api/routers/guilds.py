"""``/api/v1/guilds``: servers you share with the bot, their channels and settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from msgspec import UNSET

from api import models
from api.access import Membership, member_or_404, shared_guilds
from api.errors import not_found
from api.routers import ERRORS
from api.routers.games import IdempotencyKey, Wait
from api.services import Web
from api.sessions import SessionDep, WebDep
from api.views import sources
from api.writes import command_id, send
from domain import commands
from domain.rules import can_manage_channels, is_guild_manager
from projections import queries

router = APIRouter(prefix="/api/v1/guilds", tags=["guilds"], responses=ERRORS)
Snowflake = Annotated[str, Path(pattern=r"^\d{1,20}$")]
ALL_SETTINGS = ("max_players", "reminder_minutes", "rules", "waitlist_cap", "category",
                "host_role_ids")  # fmt: skip


@router.get("", response_model=list[models.Guild], summary="Your servers with Muster")
async def list_guilds(web: WebDep, session: SessionDep) -> Any:
    return await shared_guilds(web, session)


async def text_channels(web: Web, guild_id: str) -> list[models.Channel]:
    return [
        models.Channel(id=str(c["id"]), name=c.get("name") or "", topic=c.get("topic"))
        for c in sorted(
            await web.discord.guild_channels(guild_id), key=lambda c: c.get("position", 0)
        )
        if c.get("type") in (0, 5)
    ]


@router.get("/{guild_id}/channels", response_model=list[models.Channel], summary="Channels")
async def channels(guild_id: Snowflake, web: WebDep, session: SessionDep) -> Any:
    """The server's text channels."""
    await member_or_404(web, guild_id, session.user_id)
    return await text_channels(web, guild_id)


async def settings_view(
    web: Web, member: Membership, channel_id: str | None = None
) -> models.SettingsView:
    async with web.pool.connection() as conn:
        guild, channel = await queries.settings_of(conn, member.guild_id, channel_id)
    own_of = channel if channel_id else guild
    own = {n: (list(v) if isinstance(v, tuple) else v)
           for n in ALL_SETTINGS if (v := getattr(own_of, n, None)) is not None}  # fmt: skip
    allowed = (can_manage_channels(member.permissions) if channel_id
               else is_guild_manager(member.permissions))  # fmt: skip
    return models.SettingsView(
        guild_id=member.guild_id, channel_id=channel_id, own=own,
        effective=sources(None, channel, guild, ALL_SETTINGS), can_change=allowed,
    )  # fmt: skip


async def channel_member(web: Web, guild_id: str, channel_id: str, user_id: str) -> Membership:
    member = await member_or_404(web, guild_id, user_id)
    channel = await web.discord.channel(channel_id)
    if channel is None or str(channel.get("guild_id")) != guild_id:
        raise not_found("channel")
    return member


@router.get("/{guild_id}/settings", response_model=models.SettingsView, summary="Settings")
async def guild_settings(guild_id: Snowflake, web: WebDep, session: SessionDep) -> Any:
    """The server's own settings and what each resolves to."""
    return await settings_view(web, await member_or_404(web, guild_id, session.user_id))


def _changes(body: models.SettingsChange) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {n: given.get(n, UNSET) for n in ALL_SETTINGS}
    for name in ("reminder_minutes", "host_role_ids"):
        if isinstance(changes[name], list):
            changes[name] = tuple(changes[name])
    return changes


@router.patch("/{guild_id}/settings", response_model=models.CommandResult, summary="Change")
async def change_guild_settings(
    guild_id: Snowflake, body: models.SettingsChange, web: WebDep, session: SessionDep,
    key: IdempotencyKey = None, wait: Wait = True,
) -> Any:  # fmt: skip
    """Change server-wide defaults (Manage Server, as in Discord)."""
    member = await member_or_404(web, guild_id, session.user_id)
    command = commands.ConfigureGuild(
        command_id=command_id(session.user_id, key), user_id=session.user_id,
        role_ids=member.role_ids, permissions=member.permissions, guild_id=guild_id,
        **_changes(body),
    )  # fmt: skip
    return await send(web, command, wait=wait)


@router.get("/{guild_id}/channels/{channel_id}/settings", response_model=models.SettingsView,
            summary="Channel settings")  # fmt: skip
async def channel_settings(
    guild_id: Snowflake, channel_id: Snowflake, web: WebDep, session: SessionDep
) -> Any:
    member = await channel_member(web, guild_id, channel_id, session.user_id)
    return await settings_view(web, member, channel_id)


@router.patch("/{guild_id}/channels/{channel_id}/settings", response_model=models.CommandResult,
              summary="Change channel settings")  # fmt: skip
async def change_channel_settings(
    guild_id: Snowflake, channel_id: Snowflake, body: models.SettingsChange, web: WebDep,
    session: SessionDep, key: IdempotencyKey = None, wait: Wait = True,
) -> Any:  # fmt: skip
    """Override server defaults in one channel (Manage Channels, as in Discord)."""
    member = await channel_member(web, guild_id, channel_id, session.user_id)
    command = commands.ConfigureChannel(
        command_id=command_id(session.user_id, key), user_id=session.user_id,
        role_ids=member.role_ids, permissions=member.permissions, guild_id=guild_id,
        channel_id=channel_id, **_changes(body),
    )  # fmt: skip
    return await send(web, command, wait=wait)
