"""Channels and their messages: get, history, create (nonce), edit, delete, typing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, identity, json_body, no_content, ok, snowflake
from deploy.emulator.errors import MISSING_ACCESS, UNKNOWN_MESSAGE, DiscordError
from deploy.emulator.model import DM, Channel, Message
from deploy.emulator.permissions import Permission, channel_permissions
from deploy.emulator.routes.common import limit_of

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

READ = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY


class ChannelRoutes:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.world = emu.world
        self.messages = emu.messages

    def register(self, api: Api) -> None:
        api.route("GET", "/channels/{channel_id}", self.get_channel)
        api.route("GET", "/channels/{channel_id}/messages", self.history)
        api.route("POST", "/channels/{channel_id}/messages", self.create)
        api.route("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        api.route("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit)
        api.route("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete)
        api.route("POST", "/channels/{channel_id}/typing", self.typing)

    def _channel(self, request: web.Request, needs: int = Permission.VIEW_CHANNEL) -> Channel:
        """The channel in the path, if the caller can see it (and holds ``needs``)."""
        channel = self.world.channel(snowflake(request, "channel_id"))
        me = identity(request).user_id or 0
        if channel.type == DM:
            if me != self.world.application.bot_user_id:
                raise DiscordError(MISSING_ACCESS)
            return channel
        guild = self.world.guild(channel.guild_id or 0)
        if channel_permissions(guild, channel, me) & needs != needs:
            raise DiscordError(MISSING_ACCESS)
        return channel

    def _message(self, request: web.Request, channel: Channel) -> Message:
        msg = self.world.message(channel.id, snowflake(request, "message_id"))
        if msg.visible_to is not None:  # ephemeral messages are not reachable over REST
            raise DiscordError(UNKNOWN_MESSAGE)
        return msg

    async def get_channel(self, request: web.Request) -> web.Response:
        return ok(payloads.channel(self.world, self._channel(request)))

    async def history(self, request: web.Request) -> web.Response:
        """Newest first, like Discord; ``before``/``after``/``around`` and ``limit`` 1-100."""
        channel = self._channel(request, READ)
        q = request.query
        limit = limit_of(request, 50, 100)
        visible = [m for m in channel.messages.values() if m.visible_to is None]
        if "after" in q:
            after = int(q["after"])
            picked = [m for m in visible if m.id > after][:limit]
            picked.reverse()
        elif "around" in q:
            around = int(q["around"])
            older = [m for m in visible if m.id <= around][-((limit + 1) // 2) :]
            newer = [m for m in visible if m.id > around][: limit // 2]
            picked = list(reversed(older + newer))
        else:
            before = int(q.get("before", "0") or 0)
            candidates = [m for m in visible if not before or m.id < before]
            picked = list(reversed(candidates[-limit:]))
        return ok([payloads.message(self.world, m) for m in picked])

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request, READ)
        return ok(payloads.message(self.world, self._message(request, channel)))

    async def create(self, request: web.Request) -> web.Response:
        channel = self.world.channel(snowflake(request, "channel_id"))
        body = await json_body(request)
        msg = self.messages.create(channel, identity(request).user_id or 0, body)
        return ok(payloads.message(self.world, msg))

    async def edit(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        msg = self._message(request, channel)
        body = await json_body(request)
        edited = self.messages.edit(msg, identity(request).user_id or 0, body)
        return ok(payloads.message(self.world, edited))

    async def delete(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self.messages.delete(self._message(request, channel), identity(request).user_id or 0)
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        self._channel(request, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)
        return no_content()


def setup(api: Api, emu: DiscordEmulator) -> None:
    ChannelRoutes(emu).register(api)
