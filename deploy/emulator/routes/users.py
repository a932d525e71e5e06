"""Users, the current user (bot or OAuth2 bearer), DMs, the application and gateway info."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, identity, json_body, ok, snowflake
from deploy.emulator.errors import MISSING_ACCESS, UNKNOWN_GUILD, DiscordError
from deploy.emulator.permissions import base_permissions

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

SESSION_START_LIMIT = {
    "total": 1000,
    "remaining": 999,
    "reset_after": 14_400_000,
    "max_concurrency": 1,
}


class UserRoutes:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu
        self.world = emu.world

    def register(self, api: Api) -> None:
        api.route("GET", "/gateway", self.gateway, auth="none")
        api.route("GET", "/gateway/bot", self.gateway_bot)
        api.route("GET", "/users/@me", self.me, auth="bot_or_bearer")
        api.route("GET", "/users/@me/guilds", self.my_guilds, auth="bot_or_bearer")
        api.route("GET", "/users/@me/guilds/{guild_id}/member", self.my_member, auth="bearer")
        api.route("POST", "/users/@me/channels", self.open_dm)
        api.route("GET", "/users/{user_id}", self.get_user)
        api.route("GET", "/oauth2/applications/@me", self.application)
        api.route("GET", "/applications/@me", self.application)
        api.route("GET", "/oauth2/@me", self.oauth_me, auth="bearer")

    @staticmethod
    def _caller(request: web.Request, scope: str) -> int:
        """The calling user's id; a bearer token must carry ``scope`` (else 50001)."""
        ident = identity(request)
        if ident.kind == "bearer" and scope not in ident.scopes:
            raise DiscordError(MISSING_ACCESS)
        assert ident.user_id is not None
        return ident.user_id

    async def gateway(self, request: web.Request) -> web.Response:
        return ok({"url": self.emu.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        return ok(
            {
                "url": self.emu.gateway_url,
                "shards": self.emu.shard_count(),
                "session_start_limit": SESSION_START_LIMIT,
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        user = self.world.user(self._caller(request, "identify"))
        return ok(payloads.current_user(user, with_email="email" in identity(request).scopes))

    async def get_user(self, request: web.Request) -> web.Response:
        return ok(payloads.user(self.world.user(snowflake(request, "user_id"))))

    async def my_guilds(self, request: web.Request) -> web.Response:
        user_id = self._caller(request, "guilds")
        counts = request.query.get("with_counts") in ("true", "1")
        out = []
        for g in self.world.guilds.values():
            if user_id not in g.members:
                continue
            entry: dict[str, Any] = {
                "id": str(g.id),
                "name": g.name,
                "icon": g.icon,
                "banner": None,
                "owner": g.owner_id == user_id,
                "permissions": str(base_permissions(g, user_id)),
                "features": list(g.features),
            }
            if counts:
                entry.update(approximate_member_count=len(g.members), approximate_presence_count=0)
            out.append(entry)
        return ok(out)

    async def my_member(self, request: web.Request) -> web.Response:
        user_id = self._caller(request, "guilds.members.read")
        guild = self.world.guilds.get(snowflake(request, "guild_id"))
        if guild is None or user_id not in guild.members:
            raise DiscordError(UNKNOWN_GUILD)
        return ok(payloads.member(self.world, guild.members[user_id]))

    async def open_dm(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        channel = self.world.dm_channel(int(body.get("recipient_id") or 0))
        return ok(payloads.channel(self.world, channel))

    async def application(self, request: web.Request) -> web.Response:
        return ok(payloads.application(self.world, self.world.application))

    async def oauth_me(self, request: web.Request) -> web.Response:
        ident = identity(request)
        grant = self.emu.oauth.grant_for_access_token(ident.token)
        assert grant is not None
        assert ident.user_id is not None
        return ok(
            {
                "application": payloads.application(self.world, self.world.application),
                "scopes": sorted(grant.scopes),
                "expires": self.world.clock.iso(grant.expires_at),
                "user": payloads.user(self.world.user(ident.user_id)),
            }
        )


def setup(api: Api, emu: DiscordEmulator) -> None:
    UserRoutes(emu).register(api)
