"""The emulator's state and every change to it; each change is published as a gateway event."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deploy.emulator import payloads
from deploy.emulator.errors import (
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    UNKNOWN_USER,
    DiscordError,
)
from deploy.emulator.model import (
    DM,
    GUILD_TEXT,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    Application,
    Channel,
    Command,
    Guild,
    Interaction,
    Member,
    Message,
    Overwrite,
    Role,
    User,
)
from deploy.emulator.permissions import DEFAULT_BOT, DEFAULT_EVERYONE
from deploy.emulator.snowflake import Clock, SnowflakeGenerator


@dataclass(slots=True)
class Event:
    """A gateway dispatch; ``build`` makes the payload for a session's intents if set."""

    name: str
    data: dict[str, Any] | None
    guild_id: int | None = None
    channel_id: int | None = None
    intent: int = 0  # the intent a session needs to receive it (0: always)
    author_id: int | None = None  # MESSAGE_*: for the MESSAGE_CONTENT rule
    build: Callable[[int], dict[str, Any]] | None = None
    internal: bool = False  # for inspection only (sandbox page), never sent to the bot

    def payload(self, intents: int) -> dict[str, Any]:
        if self.build is not None:
            return self.build(intents)
        assert self.data is not None
        return self.data


Listener = Callable[[Event], None]


class World:
    """Users, guilds, channels, messages, commands and interactions, plus an event bus."""

    def __init__(self, clock: Clock | None = None, *, app_name: str = "Muster") -> None:
        self.clock = clock or Clock()
        self.ids = SnowflakeGenerator(self.clock)
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id with the bot
        self.commands: dict[int, Command] = {}
        self.interactions: dict[int, Interaction] = {}
        self.listeners: list[Listener] = []
        owner = self.create_user("app-owner", global_name="App Owner")
        bot = self.create_user(app_name.lower(), global_name=None, bot=True)
        self.application = Application(
            id=bot.id,
            name=app_name,
            bot_user_id=bot.id,
            owner_id=owner.id,
            client_secret=secrets.token_urlsafe(24),
            verify_key=secrets.token_hex(32),
        )
        token_id = base64.urlsafe_b64encode(str(bot.id).encode()).decode().rstrip("=")
        self.bot_token = f"{token_id}.{secrets.token_urlsafe(5)}.{secrets.token_urlsafe(27)}"

    # -- events ---------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)

    @property
    def bot_user(self) -> User:
        return self.users[self.application.bot_user_id]

    def now_iso(self) -> str:
        return self.clock.iso()

    # -- lookups --------------------------------------------------------------------------
    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise DiscordError(UNKNOWN_USER) from None

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise DiscordError(UNKNOWN_GUILD) from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise DiscordError(UNKNOWN_CHANNEL) from None

    def member(self, guild_id: int, user_id: int) -> Member:
        try:
            return self.guild(guild_id).members[user_id]
        except KeyError:
            raise DiscordError(UNKNOWN_MEMBER) from None

    def message(self, channel_id: int, message_id: int) -> Message:
        msg = self.messages.get(message_id)
        if msg is None or msg.channel_id != channel_id:
            raise DiscordError(UNKNOWN_MESSAGE)
        return msg

    # -- users, guilds, roles, channels ---------------------------------------------------
    def create_user(
        self,
        username: str,
        *,
        global_name: str | None = None,
        avatar: str | None = None,
        bot: bool = False,
        accepts_dms: bool = True,
        email: str | None = None,
    ) -> User:
        u = User(self.ids.next(), username, global_name, avatar, bot, accepts_dms, email)
        self.users[u.id] = u
        return u

    def create_guild(self, name: str, *, owner_id: int | None = None) -> Guild:
        """A guild with @everyone, the bot as a member with its managed role; GUILD_CREATE."""
        gid = self.ids.next()
        g = Guild(gid, name, owner_id or self.application.owner_id, bot_joined_at=self.now_iso())
        g.roles[gid] = Role(gid, gid, "@everyone", permissions=int(DEFAULT_EVERYONE))
        self.guilds[gid] = g
        bot_role = Role(self.ids.next(), gid, self.application.name, int(DEFAULT_BOT), position=1)
        bot_role.managed, bot_role.bot_id = True, self.application.bot_user_id
        g.roles[bot_role.id] = bot_role
        g.members[g.owner_id] = Member(gid, g.owner_id, self.now_iso())
        g.members[self.application.bot_user_id] = Member(
            gid, self.application.bot_user_id, g.bot_joined_at, roles=[bot_role.id]
        )
        self.publish(
            Event(
                "GUILD_CREATE",
                None,
                guild_id=gid,
                intent=INTENT_GUILDS,
                build=lambda intents: payloads.guild_create(self, g, intents),
            )
        )
        return g

    def create_role(self, guild_id: int, name: str, *, permissions: int = 0, **fields: Any) -> Role:
        g = self.guild(guild_id)
        r = Role(self.ids.next(), guild_id, name, permissions, position=len(g.roles), **fields)
        g.roles[r.id] = r
        self._guild_event("GUILD_ROLE_CREATE", g, {"role": payloads.role(r)})
        return r

    def create_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = GUILD_TEXT,
        topic: str | None = None,
        overwrites: list[Overwrite] | None = None,
    ) -> Channel:
        g = self.guild(guild_id)
        c = Channel(self.ids.next(), type, name, guild_id, len(g.channel_ids), topic)
        c.overwrites = list(overwrites or [])
        self.channels[c.id] = c
        g.channel_ids.append(c.id)
        if g.system_channel_id is None and type == GUILD_TEXT:
            g.system_channel_id = c.id
        self._guild_event("CHANNEL_CREATE", g, payloads.channel(self, c), with_guild_id=False)
        return c

    def dm_channel(self, user_id: int) -> Channel:
        """The DM channel between the bot and a user (created on first use)."""
        self.user(user_id)
        cid = self.dm_channels.get(user_id)
        if cid is None:
            c = Channel(self.ids.next(), DM, None, recipients=[user_id])
            self.channels[c.id] = c
            self.dm_channels[user_id] = cid = c.id
        return self.channels[cid]

    # -- members --------------------------------------------------------------------------
    def add_member(self, guild_id: int, user_id: int, **fields: Any) -> Member:
        g = self.guild(guild_id)
        m = Member(guild_id, self.user(user_id).id, self.now_iso(), **fields)
        g.members[user_id] = m
        data = payloads.member(self, m) | {"guild_id": str(guild_id)}
        self.publish(Event("GUILD_MEMBER_ADD", data, guild_id, intent=INTENT_GUILD_MEMBERS))
        return m

    def update_member(self, guild_id: int, user_id: int, **fields: Any) -> Member:
        m = self.member(guild_id, user_id)
        for key, value in fields.items():
            setattr(m, key, value)
        data = payloads.member(self, m) | {"guild_id": str(guild_id)}
        self.publish(Event("GUILD_MEMBER_UPDATE", data, guild_id, intent=INTENT_GUILD_MEMBERS))
        return m

    def remove_member(self, guild_id: int, user_id: int) -> None:
        g = self.guild(guild_id)
        if g.members.pop(user_id, None) is None:
            raise DiscordError(UNKNOWN_MEMBER)
        data = {"guild_id": str(guild_id), "user": payloads.user(self.user(user_id))}
        self.publish(Event("GUILD_MEMBER_REMOVE", data, guild_id, intent=INTENT_GUILD_MEMBERS))

    # -- messages -------------------------------------------------------------------------
    def add_message(self, channel: Channel, author_id: int, **fields: Any) -> Message:
        """Store a message and publish MESSAGE_CREATE (ephemeral ones stay private)."""
        msg = Message(
            self.ids.next(),
            channel.id,
            author_id,
            fields.pop("content", "") or "",
            self.now_iso(),
            guild_id=channel.guild_id,
            **fields,
        )
        channel.messages[msg.id] = msg
        self.messages[msg.id] = msg
        if msg.visible_to is None:
            channel.last_message_id = msg.id
            self._message_event("MESSAGE_CREATE", msg, payloads.message(self, msg))
        return msg

    def edit_message(self, msg: Message, **fields: Any) -> Message:
        for key, value in fields.items():
            setattr(msg, key, value)
        msg.edited_timestamp = self.now_iso()
        if msg.visible_to is None:
            self._message_event("MESSAGE_UPDATE", msg, payloads.message(self, msg))
        return msg

    def delete_message(self, msg: Message) -> None:
        self.channels[msg.channel_id].messages.pop(msg.id, None)
        self.messages.pop(msg.id, None)
        data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        if msg.visible_to is None:
            self._message_event("MESSAGE_DELETE", msg, data)

    def _message_event(self, name: str, msg: Message, data: dict[str, Any]) -> None:
        intent = INTENT_GUILD_MESSAGES if msg.guild_id is not None else INTENT_DIRECT_MESSAGES
        self.publish(Event(name, data, msg.guild_id, msg.channel_id, intent, msg.author_id))

    def _guild_event(
        self, name: str, g: Guild, data: dict[str, Any], *, with_guild_id: bool = True
    ) -> None:
        if with_guild_id:
            data = data | {"guild_id": str(g.id)}
        self.publish(Event(name, data, g.id, intent=INTENT_GUILDS))
