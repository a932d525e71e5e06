"""Outbound operations as data (so they can queue, cross NATS and be retried) and how one runs.

Every operation has an ``id``. A message create sends ``id[:25]`` as its ``nonce`` with
``enforce_nonce``, so running the same operation twice (a retry, a redelivery after a crash)
posts once: Discord answers the repeat with the first message. A delete of a message that is
already gone succeeds. An edit may carry a ``version``: the log position its body was rendered
from. The executor claims it in Redis first and skips an edit older than one already claimed, so
a late redelivery or a slower process never undoes newer content; log positions are the same in
every process, so no clock (and no clock skew) takes part. An edit without a version is applied
as it comes and leaves the claimed version alone.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import msgspec
from discord.errors import NotFound
from discord.http import MultipartParameters, Route
from msgspec import UNSET, UnsetType
from redis.asyncio import Redis

from gateways.discord.cache import Cache
from gateways.discord.errors import OutboundError
from gateways.discord.http import DiscordHTTP
from gateways.discord.keys import Keys, Kind

Json = dict[str, Any]
NONCE_LENGTH = 25  # Discord's limit


def new_id() -> str:
    return uuid.uuid4().hex


class Body(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a message shows; unset fields are left out (for an edit: left unchanged)."""

    content: str | UnsetType | None = UNSET
    embeds: list[Json] | UnsetType = UNSET
    components: list[Json] | UnsetType = UNSET
    allowed_mentions: Json | UnsetType = UNSET

    def payload(self) -> Json:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]

    def merged(self, newer: Body) -> Body:
        """This body with every field ``newer`` sets replaced."""
        return msgspec.structs.replace(
            self,
            **{
                f: getattr(newer, f)
                for f in self.__struct_fields__
                if getattr(newer, f) is not UNSET
            },
        )


class SendMessage(msgspec.Struct, frozen=True, kw_only=True, tag="send"):
    channel_id: str
    body: Body
    id: str = msgspec.field(default_factory=new_id)


class EditMessage(msgspec.Struct, frozen=True, kw_only=True, tag="edit"):
    """Show ``body`` on a message (fields it leaves unset stay as they are)."""

    channel_id: str
    message_id: str
    body: Body
    version: int | None = None  # log position the body was rendered from (None: unordered)
    id: str = msgspec.field(default_factory=new_id)
    admitted: bool = False  # the channel slot was already taken when it was queued
    slot: str | None = None  # that slot's id, released when the edit is answered


class DeleteMessage(msgspec.Struct, frozen=True, kw_only=True, tag="delete"):
    channel_id: str
    message_id: str
    id: str = msgspec.field(default_factory=new_id)


class SendDM(msgspec.Struct, frozen=True, kw_only=True, tag="dm"):
    user_id: str
    body: Body
    id: str = msgspec.field(default_factory=new_id)


class FetchHistory(msgspec.Struct, frozen=True, kw_only=True, tag="history"):
    channel_id: str
    limit: int = 50
    before: str | None = None
    after: str | None = None
    id: str = msgspec.field(default_factory=new_id)


class FetchEmojis(msgspec.Struct, frozen=True, kw_only=True, tag="emojis"):
    guild_id: str
    id: str = msgspec.field(default_factory=new_id)


Op = SendMessage | EditMessage | DeleteMessage | SendDM | FetchHistory | FetchEmojis


def op_name(op: Op) -> str:
    return type(op).__struct_config__.tag  # type: ignore[return-value]


def lane_of(op: Op) -> str:
    """Operations in one lane run in order, one at a time (a channel, a DM, a guild)."""
    if isinstance(op, SendDM):
        return f"dm:{op.user_id}"
    if isinstance(op, FetchEmojis):
        return f"guild:{op.guild_id}"
    return f"channel:{op.channel_id}"


def edit_route(channel_id: str, message_id: str) -> Route:
    return Route(
        "PATCH",
        "/channels/{channel_id}/messages/{message_id}",
        channel_id=channel_id,
        message_id=message_id,
    )


_CLAIM = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) >= current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
VERSION_TTL_MS = 24 * 3600 * 1000


class Executor:
    """Runs one operation against Discord; safe to run the same operation again."""

    def __init__(self, http: DiscordHTTP, cache: Cache, redis: Redis, keys: Keys) -> None:
        self.http, self.cache, self.keys = http, cache, keys
        self._claim = redis.register_script(_CLAIM)

    async def run(self, op: Op) -> Any:
        """Discord's answer: the message for a send, ``None`` for an edit or a delete."""
        if isinstance(op, SendMessage):
            return await self._send(op.channel_id, op.body, op.id)
        if isinstance(op, EditMessage):
            return await self._edit(op)
        if isinstance(op, DeleteMessage):
            # Already gone: a repeat of this operation, or someone else deleted it.
            with contextlib.suppress(NotFound):
                await self.http.delete_message(op.channel_id, op.message_id)
            return None
        if isinstance(op, SendDM):
            channel = await self.cache.get(
                Kind.DM_CHANNEL,
                [op.user_id],
                lambda: self.http.start_private_message(op.user_id),
                f"DM channel of user {op.user_id}",
            )
            if channel is None:
                raise OutboundError("dm", f"Discord has no DM channel for user {op.user_id}")
            return await self._send(str(channel["id"]), op.body, op.id)
        if isinstance(op, FetchHistory):
            return await self.http.logs_from(op.channel_id, op.limit, op.before, op.after)
        return await self.http.get_all_custom_emojis(op.guild_id)

    async def _send(self, channel_id: str, body: Body, op_id: str) -> Any:
        payload = body.payload()
        payload["nonce"] = op_id[:NONCE_LENGTH]
        payload["enforce_nonce"] = True
        params = MultipartParameters(payload=payload, multipart=None, files=None)
        return await self.http.send_message(channel_id, params=params)

    async def _edit(self, op: EditMessage) -> Any:
        if op.version is not None:
            key = self.keys.edit_version(op.message_id)
            if not await self._claim(keys=[key], args=[op.version, VERSION_TTL_MS]):
                if op.slot is not None:  # its slot was taken for nothing: free it at once
                    await self.http.gate.done(self.http.gate.turn_of(op.slot, op.channel_id))
                return None  # a newer edit of this message was already made
        route = edit_route(op.channel_id, op.message_id)
        return await self.http.request(
            route, json=op.body.payload(), admitted=op.admitted, slot=op.slot
        )
