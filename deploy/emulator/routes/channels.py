"""Channels and their messages: get, history, create (nonce), edit, delete, typing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, identity, json_body, no_content, ok, snowflake
from deploy.emulator.errors import MISSING_ACCESS, DiscordError, FormErrors
from deploy.emulator.model import DM, Channel
from deploy.emulator.permissions import Permission, channel_permissions

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator


def setup(api: Api, emu: DiscordEmulator) -> None:
    world = emu.world

    def channel_for(request: web.Request, needs: int = Permission.VIEW_CHANNEL) -> Channel:
        channel = world.channel(snowflake(request, "channel_id"))
        me = identity(request).user_id or 0
        if channel.type == DM:
            if me != world.application.bot_user_id:
                raise DiscordError(MISSING_ACCESS)
            return channel
        guild = world.guild(channel.guild_id or 0)
        perms = channel_permissions(guild, channel, me)
        if (perms & needs) != needs:
            raise DiscordError(MISSING_ACCESS)
        return channel

    async def get_channel(request: web.Request) -> web.Response:
        return ok(payloads.channel(world, channel_for(request)))

    async def history(request: web.Request) -> web.Response:
        channel = channel_for(request, Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)
        q = request.query
        raw_limit = q.get("limit", "50")
        limit = int(raw_limit) if raw_limit.isdigit() else 0
        if not 1 <= limit <= 100:
            errors = FormErrors()
            errors.add(("limit",), "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
            errors.raise_if_any()
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
        return ok([payloads.message(world, m) for m in picked])

    async def get_message(request: web.Request) -> web.Response:
        channel = channel_for(request, Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)
        msg = world.message(channel.id, snowflake(request, "message_id"))
        if msg.visible_to is not None:
            world.message(channel.id, 0)  # ephemeral messages are not reachable over REST
        return ok(payloads.message(world, msg))

    async def create(request: web.Request) -> web.Response:
        channel = world.channel(snowflake(request, "channel_id"))
        body = await json_body(request)
        msg = emu.messages.create(channel, identity(request).user_id or 0, body)
        return ok(payloads.message(world, msg))

    async def edit(request: web.Request) -> web.Response:
        channel = channel_for(request)
        msg = world.message(channel.id, snowflake(request, "message_id"))
        body = await json_body(request)
        return ok(
            payloads.message(world, emu.messages.edit(msg, identity(request).user_id or 0, body))
        )

    async def delete(request: web.Request) -> web.Response:
        channel = channel_for(request)
        msg = world.message(channel.id, snowflake(request, "message_id"))
        emu.messages.delete(msg, identity(request).user_id or 0)
        return no_content()

    async def typing(request: web.Request) -> web.Response:
        channel_for(request, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)
        return no_content()

    api.route("GET", "/channels/{channel_id}", get_channel)
    api.route("GET", "/channels/{channel_id}/messages", history)
    api.route("POST", "/channels/{channel_id}/messages", create)
    api.route("GET", "/channels/{channel_id}/messages/{message_id}", get_message)
    api.route("PATCH", "/channels/{channel_id}/messages/{message_id}", edit)
    api.route("DELETE", "/channels/{channel_id}/messages/{message_id}", delete)
    api.route("POST", "/channels/{channel_id}/typing", typing)
