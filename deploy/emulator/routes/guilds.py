"""Guilds, their channels, roles and members."""

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
from deploy.emulator.model import INTENT_GUILD_MEMBERS, Guild, Overwrite
from deploy.emulator.permissions import Permission, base_permissions

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator


def setup(api: Api, emu: DiscordEmulator) -> None:
    world = emu.world

    def guild_for(request: web.Request, needs: int = 0) -> Guild:
        guild = world.guild(snowflake(request, "guild_id"))
        bot_id = identity(request).user_id or 0
        if bot_id not in guild.members:
            raise DiscordError(MISSING_ACCESS)
        if needs and not base_permissions(guild, bot_id) & needs:
            raise DiscordError(MISSING_PERMISSIONS)
        return guild

    def limit_of(request: web.Request, default: int, high: int) -> int:
        raw = request.query.get("limit", str(default))
        errors = FormErrors()
        value = int(raw) if raw.isdigit() else -1
        if not 1 <= value <= high:
            errors.add(("limit",), "NUMBER_TYPE_MAX", f"int value should be between 1 and {high}.")
        errors.raise_if_any()
        return value

    async def get_guild(request: web.Request) -> web.Response:
        guild = guild_for(request)
        data = payloads.guild(guild)
        if request.query.get("with_counts") in ("true", "1"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return ok(data)

    async def channels(request: web.Request) -> web.Response:
        guild = guild_for(request)
        return ok([payloads.channel(world, world.channels[c]) for c in guild.channel_ids])

    async def create_channel(request: web.Request) -> web.Response:
        guild = guild_for(request, Permission.MANAGE_CHANNELS)
        body = await json_body(request)
        errors = FormErrors()
        errors.bad_length(("name",), len(body.get("name") or ""), 1, 100)
        errors.raise_if_any()
        overwrites = [
            Overwrite(
                int(o["id"]),
                int(o.get("type", 0)),
                int(o.get("allow") or 0),
                int(o.get("deny") or 0),
            )
            for o in body.get("permission_overwrites") or []
        ]
        channel = world.create_channel(
            guild.id,
            body["name"],
            type=body.get("type") or 0,
            topic=body.get("topic"),
            overwrites=overwrites,
        )
        return ok(payloads.channel(world, channel), 201)

    async def roles(request: web.Request) -> web.Response:
        return ok([payloads.role(r) for r in guild_for(request).roles.values()])

    async def role(request: web.Request) -> web.Response:
        found = guild_for(request).roles.get(snowflake(request, "role_id"))
        if found is None:
            raise DiscordError(UNKNOWN_ROLE)
        return ok(payloads.role(found))

    async def create_role(request: web.Request) -> web.Response:
        guild = guild_for(request, Permission.MANAGE_ROLES)
        body = await json_body(request)
        created = world.create_role(
            guild.id,
            body.get("name") or "new role",
            permissions=int(body.get("permissions") or 0),
            color=int(body.get("color") or 0),
            hoist=bool(body.get("hoist")),
            mentionable=bool(body.get("mentionable")),
        )
        return ok(payloads.role(created))

    async def members(request: web.Request) -> web.Response:
        guild = guild_for(request)
        if not world.application.privileged_intents & INTENT_GUILD_MEMBERS:
            raise DiscordError(MISSING_ACCESS)
        limit = limit_of(request, 1, 1000)
        after = int(request.query.get("after", "0") or 0)
        found = sorted(
            (m for m in guild.members.values() if m.user_id > after), key=lambda m: m.user_id
        )
        return ok([payloads.member(world, m) for m in found[:limit]])

    async def search(request: web.Request) -> web.Response:
        guild = guild_for(request)
        query = request.query.get("query", "").lower()
        limit = limit_of(request, 1, 1000)
        found = []
        for m in guild.members.values():
            u = world.users[m.user_id]
            names = (u.username, u.global_name or "", m.nick or "")
            if any(n.lower().startswith(query) for n in names if n):
                found.append(payloads.member(world, m))
        return ok(found[:limit])

    async def member(request: web.Request) -> web.Response:
        guild = guild_for(request)
        return ok(payloads.member(world, world.member(guild.id, snowflake(request, "user_id"))))

    async def edit_member(request: web.Request) -> web.Response:
        guild = guild_for(request)
        own_id = identity(request).user_id or 0
        raw = request.match_info.get("user_id", "@me")
        user_id = own_id if raw == "@me" else snowflake(request, "user_id")
        body = await json_body(request)
        changes: dict[str, Any] = {}
        bot_perms = base_permissions(guild, own_id)
        if "nick" in body:
            own = user_id == own_id
            if not bot_perms & (Permission.CHANGE_NICKNAME if own else Permission.MANAGE_NICKNAMES):
                raise DiscordError(MISSING_PERMISSIONS)
            errors = FormErrors()
            errors.max_length(("nick",), body["nick"], 32)
            errors.raise_if_any()
            changes["nick"] = body["nick"] or None
        if "roles" in body:
            if not bot_perms & Permission.MANAGE_ROLES:
                raise DiscordError(MISSING_PERMISSIONS)
            changes["roles"] = [int(r) for r in body["roles"] or []]
            if any(r not in guild.roles for r in changes["roles"]):
                raise DiscordError(UNKNOWN_ROLE)
        return ok(payloads.member(world, world.update_member(guild.id, user_id, **changes)))

    async def add_role(request: web.Request) -> web.Response:
        guild = guild_for(request, Permission.MANAGE_ROLES)
        target = world.member(guild.id, snowflake(request, "user_id"))
        role_id = snowflake(request, "role_id")
        if role_id not in guild.roles:
            raise DiscordError(UNKNOWN_ROLE)
        roles = list(target.roles)
        if request.method == "PUT" and role_id not in roles:
            roles.append(role_id)
        elif request.method == "DELETE" and role_id in roles:
            roles.remove(role_id)
        world.update_member(guild.id, target.user_id, roles=roles)
        return no_content()

    async def kick(request: web.Request) -> web.Response:
        guild = guild_for(request, Permission.KICK_MEMBERS)
        world.remove_member(guild.id, snowflake(request, "user_id"))
        return no_content()

    api.route("GET", "/guilds/{guild_id}", get_guild)
    api.route("GET", "/guilds/{guild_id}/channels", channels)
    api.route("POST", "/guilds/{guild_id}/channels", create_channel)
    api.route("GET", "/guilds/{guild_id}/roles", roles)
    api.route("POST", "/guilds/{guild_id}/roles", create_role)
    api.route("GET", "/guilds/{guild_id}/roles/{role_id}", role)
    api.route("GET", "/guilds/{guild_id}/members", members)
    api.route("GET", "/guilds/{guild_id}/members/search", search)
    api.route("PATCH", "/guilds/{guild_id}/members/@me", edit_member)
    api.route("GET", "/guilds/{guild_id}/members/{user_id}", member)
    api.route("PATCH", "/guilds/{guild_id}/members/{user_id}", edit_member)
    api.route("DELETE", "/guilds/{guild_id}/members/{user_id}", kick)
    api.route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", add_role)
    api.route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", add_role)
