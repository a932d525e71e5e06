"""Discord permission bits and how a member's permissions in a channel are computed."""

from __future__ import annotations

from enum import IntFlag
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.emulator.model import Channel, Guild


class Permission(IntFlag):
    """The permission bits the emulator checks or reports."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL = (1 << 51) - 1

# What @everyone gets in a new guild (close to Discord's default).
DEFAULT_EVERYONE = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.MENTION_EVERYONE
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.CHANGE_NICKNAME
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.SEND_MESSAGES_IN_THREADS
)

# What the bot's managed role gets when the emulator "installs" the bot in a guild.
DEFAULT_BOT = DEFAULT_EVERYONE | Permission.MANAGE_MESSAGES


def base_permissions(guild: Guild, user_id: int) -> int:
    """Guild-level permissions of a member: owner, @everyone, then their roles."""
    if user_id == guild.owner_id:
        return ALL
    member = guild.members.get(user_id)
    perms = guild.roles[guild.id].permissions
    if member is not None:
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                perms |= role.permissions
    if perms & Permission.ADMINISTRATOR:
        return ALL
    return perms


def channel_permissions(guild: Guild, channel: Channel, user_id: int) -> int:
    """A member's permissions in a channel, applying overwrites in Discord's order."""
    perms = base_permissions(guild, user_id)
    if perms == ALL:
        return ALL
    overwrites = {ow.id: ow for ow in channel.overwrites}
    everyone = overwrites.get(guild.id)
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    member = guild.members.get(user_id)
    roles = member.roles if member is not None else []
    allow = deny = 0
    for role_id in roles:
        ow = overwrites.get(role_id)
        if ow is not None:
            allow |= ow.allow
            deny |= ow.deny
    perms = (perms & ~deny) | allow
    own = overwrites.get(user_id)
    if own is not None:
        perms = (perms & ~own.deny) | own.allow
    return perms
