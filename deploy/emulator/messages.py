"""Creating, editing and deleting messages with Discord's rules (nonces, DMs, permissions)."""

from __future__ import annotations

import time
from typing import Any

from deploy.emulator.errors import (
    CANNOT_DM,
    EMPTY_MESSAGE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    NOT_AUTHOR,
    DiscordError,
)
from deploy.emulator.model import DM, EPHEMERAL, IS_COMPONENTS_V2, Channel, Message
from deploy.emulator.permissions import Permission, channel_permissions
from deploy.emulator.validation import validate_message
from deploy.emulator.world import World

NONCE_WINDOW = 300.0  # seconds during which enforce_nonce returns the first message
_SETTABLE_FLAGS = 4 | 4096 | IS_COMPONENTS_V2  # SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, V2


def normalize(payload: dict[str, Any]) -> dict[str, Any]:
    """The message fields a create/edit body sets, shaped as Discord stores them."""
    fields: dict[str, Any] = {}
    if "content" in payload:
        fields["content"] = payload["content"] or ""
    if "embeds" in payload or "embed" in payload:
        embeds = payload.get("embeds")
        if embeds is None and payload.get("embed") is not None:
            embeds = [payload["embed"]]
        fields["embeds"] = [{"type": "rich", **e} for e in embeds or []]
    if "components" in payload:
        fields["components"] = _number(payload["components"] or [])
    if payload.get("_files") or "attachments" in payload:
        fields["attachments"] = [
            {
                "id": str(i),
                "filename": f["filename"],
                "size": f["size"],
                "url": f"https://cdn.discordapp.com/attachments/emulated/{f['filename']}",
                "proxy_url": f"https://media.discordapp.net/attachments/emulated/{f['filename']}",
            }
            for i, f in enumerate(payload.get("_files") or [])
        ]
    return fields


def _number(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every component a numeric ``id`` as Discord does when it stores a message."""
    counter = 0

    def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal counter
        out = []
        for item in items:
            counter += 1
            copy = {"id": counter, **item} if "id" not in item else dict(item)
            if isinstance(copy.get("components"), list):
                copy["components"] = walk(copy["components"])
            out.append(copy)
        return out

    return walk(components)


class Messages:
    """Message operations shared by REST routes, interaction responses and scripted people."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._nonces: dict[tuple[int, int, str], tuple[int, float]] = {}

    def check_can_send(self, channel: Channel, author_id: int) -> None:
        world = self.world
        if channel.type == DM:
            recipient = world.users[channel.recipients[0]]
            shares_guild = any(recipient.id in g.members for g in world.guilds.values())
            if author_id == world.application.bot_user_id and (
                not recipient.accepts_dms or not shares_guild
            ):
                raise DiscordError(CANNOT_DM)
            return
        guild = world.guild(channel.guild_id or 0)
        perms = channel_permissions(guild, channel, author_id)
        if not perms & Permission.VIEW_CHANNEL:
            raise DiscordError(MISSING_ACCESS)
        if not perms & Permission.SEND_MESSAGES:
            raise DiscordError(MISSING_PERMISSIONS)

    def create(self, channel: Channel, author_id: int, payload: dict[str, Any]) -> Message:
        """POST /channels/{id}/messages semantics, including ``nonce``/``enforce_nonce``."""
        self.check_can_send(channel, author_id)
        validate_message(payload)
        fields = normalize(payload)
        if not (
            fields.get("content")
            or fields.get("embeds")
            or fields.get("components")
            or fields.get("attachments")
            or payload.get("sticker_ids")
            or payload.get("poll")
        ):
            raise DiscordError(EMPTY_MESSAGE)
        nonce = payload.get("nonce")
        key = (channel.id, author_id, str(nonce))
        now = time.monotonic()
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and now - seen[1] < NONCE_WINDOW:
                existing = self.world.messages.get(seen[0])
                if existing is not None:
                    return existing
        reference = payload.get("message_reference")
        msg = self.world.add_message(
            channel,
            author_id,
            flags=(payload.get("flags") or 0) & _SETTABLE_FLAGS,
            tts=bool(payload.get("tts")),
            nonce=nonce,
            type=19 if reference else 0,
            message_reference=reference,
            **fields,
        )
        if nonce is not None:
            self._nonces[key] = (msg.id, now)
        return msg

    def edit(self, msg: Message, editor_id: int, payload: dict[str, Any]) -> Message:
        """PATCH a message: only its author may change it."""
        if msg.author_id != editor_id:
            raise DiscordError(NOT_AUTHOR)
        return self.apply_edit(msg, payload)

    def apply_edit(self, msg: Message, payload: dict[str, Any]) -> Message:
        validate_message(payload)
        fields = normalize(payload)
        if "flags" in payload and payload["flags"] is not None:
            fields["flags"] = (msg.flags & EPHEMERAL) | (payload["flags"] & _SETTABLE_FLAGS)
        return self.world.edit_message(msg, **fields)

    def delete(self, msg: Message, deleter_id: int) -> None:
        channel = self.world.channels[msg.channel_id]
        if msg.author_id != deleter_id and channel.guild_id is not None:
            guild = self.world.guild(channel.guild_id)
            if not channel_permissions(guild, channel, deleter_id) & Permission.MANAGE_MESSAGES:
                raise DiscordError(MISSING_PERMISSIONS)
        elif msg.author_id != deleter_id:
            raise DiscordError(MISSING_PERMISSIONS)
        self.world.delete_message(msg)
