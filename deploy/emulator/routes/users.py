"""Users, the current user (bot or OAuth2 bearer), DMs, the application and gateway info."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, identity, json_body, ok, snowflake
from deploy.emulator.errors import MISSING_ACCESS, UNKNOWN_GUILD, DiscordError
from deploy.emulator.permissions import base_permissions

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator


def setup(api: Api, emu: DiscordEmulator) -> None:
    world = emu.world

    def need_scope(request: web.Request, scope: str) -> int:
        ident = identity(request)
        if ident.kind == "bearer" and scope not in ident.scopes:
            raise DiscordError(MISSING_ACCESS)
        assert ident.user_id is not None
        return ident.user_id

    async def gateway(request: web.Request) -> web.Response:
        return ok({"url": emu.gateway_url})

    async def gateway_bot(request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return ok({"url": emu.gateway_url, "shards": 1, "session_start_limit": limit})

    async def me(request: web.Request) -> web.Response:
        user_id = need_scope(request, "identify")
        email = "email" in identity(request).scopes
        return ok(payloads.current_user(world.user(user_id), with_email=email))

    async def get_user(request: web.Request) -> web.Response:
        return ok(payloads.user(world.user(snowflake(request, "user_id"))))

    async def my_guilds(request: web.Request) -> web.Response:
        user_id = need_scope(request, "guilds")
        out = []
        for g in world.guilds.values():
            if user_id not in g.members:
                continue
            entry = {
                "id": str(g.id),
                "name": g.name,
                "icon": g.icon,
                "banner": None,
                "owner": g.owner_id == user_id,
                "permissions": str(base_permissions(g, user_id)),
                "features": list(g.features),
            }
            if request.query.get("with_counts") in ("true", "1"):
                entry.update(approximate_member_count=len(g.members), approximate_presence_count=0)
            out.append(entry)
        return ok(out)

    async def my_member(request: web.Request) -> web.Response:
        user_id = need_scope(request, "guilds.members.read")
        guild = world.guilds.get(snowflake(request, "guild_id"))
        if guild is None or user_id not in guild.members:
            raise DiscordError(UNKNOWN_GUILD)
        return ok(payloads.member(world, guild.members[user_id]))

    async def open_dm(request: web.Request) -> web.Response:
        body = await json_body(request)
        channel = world.dm_channel(int(body.get("recipient_id") or 0))
        return ok(payloads.channel(world, channel))

    async def application(request: web.Request) -> web.Response:
        return ok(payloads.application(world, world.application))

    async def oauth_me(request: web.Request) -> web.Response:
        ident = identity(request)
        grant = emu.oauth.grant_for_access_token(ident.token)
        assert grant is not None
        assert ident.user_id is not None
        return ok(
            {
                "application": payloads.application(world, world.application),
                "scopes": sorted(grant.scopes),
                "expires": world.clock.iso(grant.expires_at),
                "user": payloads.user(world.user(ident.user_id)),
            }
        )

    api.route("GET", "/gateway", gateway, auth="none")
    api.route("GET", "/gateway/bot", gateway_bot)
    api.route("GET", "/users/@me", me, auth="bot_or_bearer")
    api.route("GET", "/users/@me/guilds", my_guilds, auth="bot_or_bearer")
    api.route("GET", "/users/@me/guilds/{guild_id}/member", my_member, auth="bearer")
    api.route("POST", "/users/@me/channels", open_dm)
    api.route("GET", "/users/{user_id}", get_user)
    api.route("GET", "/oauth2/applications/@me", application)
    api.route("GET", "/applications/@me", application)
    api.route("GET", "/oauth2/@me", oauth_me, auth="bearer")
