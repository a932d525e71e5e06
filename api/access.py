"""Who may see and do what: guild membership (isolation) and Discord permissions.

A user sees a guild's games only while Discord says they are a member of that guild (the bot's
cached member read); anything else answers 404, exactly as for a game that does not exist.
Permissions are computed as Discord does at guild level: the owner has all, else the union of
@everyone's and the member's roles (Administrator implies all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.errors import not_found
from api.services import Web
from api.sessions import Session, save_session
from domain.rules import ADMINISTRATOR

ALL_PERMISSIONS = (1 << 53) - 1


@dataclass(frozen=True)
class Membership:
    """A user in one guild: their role ids and permission bits (what commands carry)."""

    guild_id: str
    user_id: str
    role_ids: tuple[str, ...]
    permissions: int
    owner: bool = False


async def membership(web: Web, guild_id: str, user_id: str) -> Membership | None:
    """The user's membership of the guild, or ``None`` when not a member (or no such guild)."""
    if not (guild_id.isascii() and guild_id.isdigit()) or len(guild_id) > 20:
        return None
    member = await web.discord.member(guild_id, user_id)
    if member is None:
        return None
    guild = await web.discord.guild(guild_id) or {}
    roles = {
        str(r["id"]): int(r.get("permissions") or 0) for r in await web.discord.roles(guild_id)
    }
    role_ids = tuple(str(r) for r in member.get("roles") or ())
    owner = str(guild.get("owner_id")) == user_id
    bits = roles.get(guild_id, 0)
    for role in role_ids:
        bits |= roles.get(role, 0)
    if owner or bits & ADMINISTRATOR:
        bits = ALL_PERMISSIONS
    return Membership(guild_id, user_id, role_ids, bits, owner)


async def member_or_404(web: Web, guild_id: str, user_id: str, what: str = "guild") -> Membership:
    found = await membership(web, guild_id, user_id)
    if found is None:
        raise not_found(what)
    return found


async def access_token(web: Web, session: Session) -> str:
    """The user's Discord access token, refreshed when it is about to expire."""
    if session.token_expires_at - web.clock() > 60 or not session.refresh_token:
        return session.access_token
    token = await web.oauth.refresh(session.refresh_token)
    session.access_token = token["access_token"]
    session.refresh_token = token.get("refresh_token", session.refresh_token)
    session.token_expires_at = web.clock() + float(token.get("expires_in", 604800))
    await save_session(web, session)
    return session.access_token


async def shared_guilds(web: Web, session: Session) -> list[dict[str, Any]]:
    """The user's guilds that the bot is in too (name and icon), by name."""
    token = await access_token(web, session)
    found = []
    for guild in await web.discord.user_guilds(session.user_id, token):
        if await web.discord.guild(guild["id"]) is not None:
            found.append({"id": str(guild["id"]), "name": guild.get("name", ""),
                          "icon": guild.get("icon")})  # fmt: skip
    return sorted(found, key=lambda g: g["name"].lower())
