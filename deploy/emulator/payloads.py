"""Discord JSON shapes (API v10) for the emulator's objects; ids are strings as on Discord."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from deploy.emulator.model import (
    DM,
    INTENT_GUILD_MEMBERS,
    Application,
    Channel,
    Command,
    Guild,
    Member,
    Message,
    Role,
    User,
)

if TYPE_CHECKING:
    from deploy.emulator.world import World

_USER_MENTION = re.compile(r"<@!?(\d{15,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{15,20})>")


def user(u: User) -> dict[str, Any]:
    """A public user object."""
    data: dict[str, Any] = {
        "id": str(u.id),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "primary_guild": None,
    }
    if u.bot:
        data["bot"] = True
    return data


def current_user(u: User, *, with_email: bool = False) -> dict[str, Any]:
    """The ``/users/@me`` object (private fields included)."""
    data = user(u)
    data.update(mfa_enabled=False, locale=u.locale, premium_type=0, verified=True)
    if with_email:
        data["email"] = u.email
    return data


def role(r: Role) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(r.id),
        "name": r.name,
        "description": None,
        "color": r.color,
        "colors": {"primary_color": r.color, "secondary_color": None, "tertiary_color": None},
        "hoist": r.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": r.managed,
        "mentionable": r.mentionable,
        "flags": 0,
    }
    if r.bot_id is not None:
        data["tags"] = {"bot_id": str(r.bot_id)}
    return data


def member(world: World, m: Member, *, with_user: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "avatar": m.avatar,
        "banner": None,
        "communication_disabled_until": None,
        "flags": m.flags,
        "joined_at": m.joined_at,
        "nick": m.nick,
        "pending": m.pending,
        "premium_since": None,
        "roles": [str(r) for r in m.roles],
        "deaf": m.deaf,
        "mute": m.mute,
    }
    if with_user:
        data["user"] = user(world.users[m.user_id])
    return data


def channel(world: World, c: Channel) -> dict[str, Any]:
    last = str(c.last_message_id) if c.last_message_id else None
    if c.type == DM:
        return {
            "id": str(c.id),
            "type": DM,
            "last_message_id": last,
            "flags": 0,
            "recipients": [user(world.users[r]) for r in c.recipients],
        }
    return {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild_id),
        "name": c.name,
        "position": c.position,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in c.overwrites
        ],
        "nsfw": c.nsfw,
        "parent_id": str(c.parent_id) if c.parent_id else None,
        "topic": c.topic,
        "last_message_id": last,
        "rate_limit_per_user": c.rate_limit_per_user,
        "flags": 0,
    }


def guild(g: Guild) -> dict[str, Any]:
    """The REST guild object."""
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": g.icon,
        "icon_hash": g.icon,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role(r) for r in g.roles.values()],
        "emojis": [],
        "stickers": [],
        "features": list(g.features),
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": str(g.system_channel_id) if g.system_channel_id else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_presences": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "description": g.description,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": g.preferred_locale,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
    }


def guild_create(world: World, g: Guild, intents: int) -> dict[str, Any]:
    """GUILD_CREATE: the guild plus channels, and members as the intents allow."""
    data = guild(g)
    if intents & INTENT_GUILD_MEMBERS:
        members = list(g.members.values())
    else:  # without the members intent Discord only sends the bot itself
        members = [m for m in g.members.values() if m.user_id == world.application.bot_user_id]
    data.update(
        joined_at=g.bot_joined_at,
        large=len(g.members) > 250,
        unavailable=False,
        member_count=len(g.members),
        members=[member(world, m) for m in members],
        channels=[channel(world, world.channels[c]) for c in g.channel_ids],
        threads=[],
        presences=[],
        voice_states=[],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
    )
    return data


def message(world: World, m: Message) -> dict[str, Any]:
    author = world.users[m.author_id]
    data: dict[str, Any] = {
        "id": str(m.id),
        "type": m.type,
        "channel_id": str(m.channel_id),
        "author": user(author),
        "content": m.content,
        "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp,
        "tts": m.tts,
        "mention_everyone": "@everyone" in m.content,
        "mentions": [
            user(world.users[int(uid)])
            for uid in dict.fromkeys(_USER_MENTION.findall(m.content))
            if int(uid) in world.users
        ],
        "mention_roles": list(dict.fromkeys(_ROLE_MENTION.findall(m.content))),
        "attachments": m.attachments,
        "embeds": m.embeds,
        "pinned": False,
        "flags": m.flags,
        "components": m.components,
    }
    if m.guild_id is not None:
        data["guild_id"] = str(m.guild_id)
        gm = world.guilds[m.guild_id].members.get(m.author_id)
        if gm is not None and m.webhook_id is None:
            data["member"] = member(world, gm, with_user=False)
    if m.nonce is not None:
        data["nonce"] = m.nonce
    if m.webhook_id is not None:
        data["webhook_id"] = str(m.webhook_id)
    if m.application_id is not None:
        data["application_id"] = str(m.application_id)
    if m.interaction_metadata is not None:
        data["interaction_metadata"] = m.interaction_metadata
    if m.message_reference is not None:
        data["message_reference"] = m.message_reference
    return data


def application_flags(app: Application) -> int:
    """GATEWAY_*_LIMITED flags for the privileged intents the application may use."""
    flags = 0
    limited = {1 << 1: 1 << 15, 1 << 8: 1 << 13, 1 << 15: 1 << 19}  # intent -> *_LIMITED flag
    for intent, flag in limited.items():
        if app.privileged_intents & intent:
            flags |= flag
    return flags


def application(world: World, app: Application) -> dict[str, Any]:
    """The ``/oauth2/applications/@me`` object."""
    flags = application_flags(app)
    return {
        "id": str(app.id),
        "name": app.name,
        "icon": None,
        "description": app.description,
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": app.verify_key,
        "flags": flags,
        "owner": user(world.users[app.owner_id]),
        "bot": user(world.users[app.bot_user_id]),
        "redirect_uris": list(app.redirect_uris),
        "interactions_endpoint_url": None,
        "tags": [],
        "approximate_guild_count": len(world.guilds),
    }


def command(world: World, cmd: Command) -> dict[str, Any]:
    p = cmd.payload
    data: dict[str, Any] = {
        "id": str(cmd.id),
        "application_id": str(world.application.id),
        "version": str(cmd.version),
        "type": p.get("type", 1),
        "name": p["name"],
        "name_localizations": p.get("name_localizations"),
        "description": p.get("description", ""),
        "description_localizations": p.get("description_localizations"),
        "default_member_permissions": p.get("default_member_permissions"),
        "dm_permission": p.get("dm_permission", True),
        "nsfw": p.get("nsfw", False),
        "contexts": p.get("contexts"),
        "integration_types": p.get("integration_types", [0]),
    }
    if p.get("options"):
        data["options"] = p["options"]
    if cmd.guild_id is not None:
        data["guild_id"] = str(cmd.guild_id)
    return data
