"""The emulator's world: users, guilds, channels, roles, members, messages, interactions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

# Channel types
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4

# Message flags
EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_COMPONENTS_V2 = 1 << 15

# Gateway intents
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT


@dataclass(slots=True)
class User:
    """A Discord account (a person or the bot)."""

    id: int
    username: str
    global_name: str | None = None
    avatar: str | None = None
    bot: bool = False
    accepts_dms: bool = True  # False: the user blocks DMs from the bot (50007)
    email: str | None = None
    locale: str = "en-US"


@dataclass(slots=True)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    color: int = 0
    hoist: bool = False
    position: int = 0
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None


@dataclass(slots=True)
class Overwrite:
    """A channel permission overwrite; ``type`` 0 is a role, 1 a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass(slots=True)
class Member:
    guild_id: int
    user_id: int
    joined_at: str
    nick: str | None = None
    roles: list[int] = field(default_factory=list)
    avatar: str | None = None
    pending: bool = False
    deaf: bool = False
    mute: bool = False
    flags: int = 0


@dataclass(slots=True)
class Channel:
    id: int
    type: int
    name: str | None
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    recipients: list[int] = field(default_factory=list)  # DM channels
    last_message_id: int | None = None
    messages: dict[int, Message] = field(default_factory=dict)  # insertion = creation order


@dataclass(slots=True)
class Guild:
    id: int
    name: str
    owner_id: int
    icon: str | None = None
    description: str | None = None
    preferred_locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    system_channel_id: int | None = None
    roles: dict[int, Role] = field(default_factory=dict)  # @everyone has the guild's id
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)
    bot_joined_at: str = ""


@dataclass(slots=True)
class Message:
    id: int
    channel_id: int
    author_id: int
    content: str
    timestamp: str
    guild_id: int | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    edited_timestamp: str | None = None
    nonce: str | int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    visible_to: int | None = None  # ephemeral: only this user sees it


@dataclass(slots=True)
class Application:
    id: int
    name: str
    bot_user_id: int
    owner_id: int
    client_secret: str
    verify_key: str
    privileged_intents: int = PRIVILEGED_INTENTS
    redirect_uris: list[str] = field(default_factory=list)
    description: str = ""


@dataclass(slots=True)
class Command:
    """A registered application command (global when ``guild_id`` is None)."""

    id: int
    name: str
    payload: dict[str, Any]
    version: int
    guild_id: int | None = None


@dataclass(slots=True)
class Interaction:
    """One interaction from a person to the bot, with what the bot answered."""

    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    guild_id: int | None
    data: dict[str, Any]
    created_at: float
    message_id: int | None = None  # the message a component sits on
    payload: dict[str, Any] = field(default_factory=dict)
    response_type: int | None = None
    response_data: dict[str, Any] | None = None
    responded_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # error codes the bot ran into
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened in answer (response type 9), if any."""
        return self.response_data if self.response_type == 9 else None
