"""Guilds, their channels and roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, json_body, ok, snowflake
from deploy.emulator.errors import UNKNOWN_ROLE, DiscordError, FormErrors
from deploy.emulator.model import Overwrite
from deploy.emulator.permissions import Permission
from deploy.emulator.routes.common import guild_for

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator


class GuildRoutes:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.world = emu.world

    def register(self, api: Api) -> None:
        api.route("GET", "/guilds/{guild_id}", self.get_guild)
        api.route("GET", "/guilds/{guild_id}/channels", self.channels)
        api.route("POST", "/guilds/{guild_id}/channels", self.create_channel)
        api.route("GET", "/guilds/{guild_id}/roles", self.roles)
        api.route("POST", "/guilds/{guild_id}/roles", self.create_role)
        api.route("GET", "/guilds/{guild_id}/roles/{role_id}", self.role)

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request)
        data = payloads.guild(guild)
        if request.query.get("with_counts") in ("true", "1"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return ok(data)

    async def channels(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request)
        return ok([payloads.channel(self.world, self.world.channels[c]) for c in guild.channel_ids])

    async def create_channel(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request, Permission.MANAGE_CHANNELS)
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
        channel = self.world.create_channel(
            guild.id,
            body["name"],
            type=body.get("type") or 0,
            topic=body.get("topic"),
            overwrites=overwrites,
        )
        return ok(payloads.channel(self.world, channel), 201)

    async def roles(self, request: web.Request) -> web.Response:
        return ok([payloads.role(r) for r in guild_for(self.world, request).roles.values()])

    async def role(self, request: web.Request) -> web.Response:
        found = guild_for(self.world, request).roles.get(snowflake(request, "role_id"))
        if found is None:
            raise DiscordError(UNKNOWN_ROLE)
        return ok(payloads.role(found))

    async def create_role(self, request: web.Request) -> web.Response:
        guild = guild_for(self.world, request, Permission.MANAGE_ROLES)
        body = await json_body(request)
        created = self.world.create_role(
            guild.id,
            body.get("name") or "new role",
            permissions=int(body.get("permissions") or 0),
            color=int(body.get("color") or 0),
            hoist=bool(body.get("hoist")),
            mentionable=bool(body.get("mentionable")),
        )
        return ok(payloads.role(created))


def setup(api: Api, emu: DiscordEmulator) -> None:
    GuildRoutes(emu).register(api)
