"""Guild members: get, list, search, edit (nick, roles), role add/remove, kick."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, identity, json_body, no_content, ok, snowflake
from deploy.emulator.errors import (
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_ROLE,
    DiscordError,
    FormErrors,
)
from deploy.emulator.model import INTENT_GUILD_MEMBERS, Guild
from deploy.emulator.permissions import Permission, base_permissions
from deploy.emulator.routes.common import guild_for, limit_of

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator


class MemberRoutes:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.world = emu.world

    def register(self, api: Api) -> None:
        # "search" and "@me" before "{user_id}": routes match in registration order.
        api.route("GET", "/guilds/{guild_id}/members", self.members)
        api.route("GET", "/guilds/{guild_id}/members/search", self.search)
        api.route("PATCH", "/guilds/{guild_id}/members/@me", self.edit_member)
        api.route("GET", "/guilds/{guild_id}/members/{user_id}", self.member)
        api.route("PATCH", "/guilds/{guild_id}/members/{user_id}", self.edit_member)
        api.route("DELETE", "/guilds/{guild_id}/members/{user_id}", self.kick)
        api.route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.role)
        api.route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.role)

    async def members(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request)
        if not self.world.application.privileged_intents & INTENT_GUILD_MEMBERS:
            raise DiscordError(MISSING_ACCESS)  # listing needs the privileged members intent
        limit = limit_of(request, 1, 1000)
        after = int(request.query.get("after", "0") or 0)
        found = sorted(
            (m for m in guild.members.values() if m.user_id > after), key=lambda m: m.user_id
        )
        return ok([payloads.member(self.world, m) for m in found[:limit]])

    async def search(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request)
        query = request.query.get("query", "").lower()
        limit = limit_of(request, 1, 1000)
        found = []
        for m in guild.members.values():
            u = self.world.users[m.user_id]
            names = (u.username, u.global_name or "", m.nick or "")
            if any(n.lower().startswith(query) for n in names if n):
                found.append(payloads.member(self.world, m))
        return ok(found[:limit])

    async def member(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request)
        found = self.world.member(guild.id, snowflake(request, "user_id"))
        return ok(payloads.member(self.world, found))

    async def edit_member(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request)
        own_id = identity(request).user_id or 0
        raw = request.match_info.get("user_id", "@me")
        user_id = own_id if raw == "@me" else snowflake(request, "user_id")
        changes = self._changes(guild, own_id, user_id, await json_body(request))
        return ok(
            payloads.member(self.world, self.world.update_member(guild.id, user_id, **changes))
        )

    def _changes(
        self, guild: Guild, own_id: int, user_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        perms = base_permissions(guild, own_id)
        if "nick" in body:
            needs = Permission.CHANGE_NICKNAME if user_id == own_id else Permission.MANAGE_NICKNAMES
            if not perms & needs:
                raise DiscordError(MISSING_PERMISSIONS)
            errors = FormErrors()
            errors.max_length(("nick",), body["nick"], 32)
            errors.raise_if_any()
            changes["nick"] = body["nick"] or None
        if "roles" in body:
            if not perms & Permission.MANAGE_ROLES:
                raise DiscordError(MISSING_PERMISSIONS)
            changes["roles"] = [int(r) for r in body["roles"] or []]
            if any(r not in guild.roles for r in changes["roles"]):
                raise DiscordError(UNKNOWN_ROLE)
        return changes

    async def role(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request, Permission.MANAGE_ROLES)
        target = self.world.member(guild.id, snowflake(request, "user_id"))
        role_id = snowflake(request, "role_id")
        if role_id not in guild.roles:
            raise DiscordError(UNKNOWN_ROLE)
        roles = [r for r in target.roles if r != role_id]
        if request.method == "PUT":
            roles.append(role_id)
        self.world.update_member(guild.id, target.user_id, roles=roles)
        return no_content()

    async def kick(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request, Permission.KICK_MEMBERS)
        self.world.remove_member(guild.id, snowflake(request, "user_id"))
        return no_content()


def setup(api: Api, emu: DiscordEmulator) -> None:
    MemberRoutes(emu).register(api)
