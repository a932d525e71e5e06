"""Scripted people: build guilds, channels, roles and members, then act as a member."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from deploy.emulator.interactions import ScriptError
from deploy.emulator.model import (
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    Overwrite,
    Role,
    User,
)
from deploy.emulator.permissions import Permission

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

MessageRef = Message | dict[str, Any] | int | str


def _id(obj: Any) -> int:
    """The snowflake of a model object, a payload dict, or an id."""
    if isinstance(obj, dict):
        return int(obj["id"])
    if isinstance(obj, int | str):
        return int(obj)
    return int(obj.id)


class People:
    """Entry point: ``emu.people.guild("Test")`` then ``guild.member("alice")``."""

    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu

    def user(
        self,
        username: str,
        *,
        global_name: str | None = None,
        avatar: str | None = None,
        accepts_dms: bool = True,
        email: str | None = None,
    ) -> User:
        """A Discord account that is not (yet) in any guild."""
        return self.emu.world.create_user(
            username, global_name=global_name, avatar=avatar, accepts_dms=accepts_dms, email=email
        )

    def guild(self, name: str, *, owner: User | None = None) -> GuildScript:
        """Create a guild the bot is in (sends GUILD_CREATE to a connected bot)."""
        g = self.emu.world.create_guild(name, owner_id=owner.id if owner else None)
        return GuildScript(self.emu, g)

    def guild_of(self, guild_id: int) -> GuildScript:
        return GuildScript(self.emu, self.emu.world.guild(guild_id))

    def person(self, guild_id: int, user_id: int) -> Person:
        """Act as an existing member."""
        self.emu.world.member(guild_id, user_id)
        return Person(self.emu, guild_id, user_id)


class GuildScript:
    """Builds one guild's channels, roles and members."""

    def __init__(self, emu: DiscordEmulator, guild: Guild) -> None:
        self.emu = emu
        self.model = guild
        self.id = guild.id

    def text_channel(
        self, name: str, *, topic: str | None = None, hidden_from_everyone: bool = False
    ) -> Channel:
        overwrites = []
        if hidden_from_everyone:
            overwrites.append(Overwrite(self.id, 0, deny=int(Permission.VIEW_CHANNEL)))
        return self.emu.world.create_channel(self.id, name, topic=topic, overwrites=overwrites)

    def role(self, name: str, *, permissions: int = 0, color: int = 0, hoist: bool = False) -> Role:
        return self.emu.world.create_role(
            self.id, name, permissions=int(permissions), color=color, hoist=hoist
        )

    def member(
        self,
        username: str,
        *,
        global_name: str | None = None,
        nick: str | None = None,
        avatar: str | None = None,
        roles: list[Role] | tuple[Role, ...] = (),
        permissions: int | None = None,
        accepts_dms: bool = True,
    ) -> Person:
        """A new user who joins this guild (GUILD_MEMBER_ADD); ``permissions`` adds a role."""
        user = self.emu.world.create_user(
            username, global_name=global_name, avatar=avatar, accepts_dms=accepts_dms
        )
        role_ids = [r.id for r in roles]
        if permissions is not None:
            role_ids.append(self.role(f"{username} permissions", permissions=permissions).id)
        return self.add(user, nick=nick, roles=role_ids)

    def person(self, user_id: int) -> Person:
        """Act as someone who is already a member (e.g. the owner)."""
        self.emu.world.member(self.id, user_id)
        return Person(self.emu, self.id, user_id)

    def add(self, user: User, *, nick: str | None = None, roles: list[int] | None = None) -> Person:
        """An existing user joins this guild."""
        self.emu.world.add_member(self.id, user.id, nick=nick, roles=list(roles or []))
        return Person(self.emu, self.id, user.id)


class Person:
    """One member acting through the Discord client."""

    def __init__(self, emu: DiscordEmulator, guild_id: int | None, user_id: int) -> None:
        self.emu = emu
        self.guild_id = guild_id
        self.id = user_id

    @property
    def user(self) -> User:
        return self.emu.world.users[self.id]

    @property
    def member(self) -> Member:
        assert self.guild_id is not None
        return self.emu.world.member(self.guild_id, self.id)

    def _channel(self, channel: Channel | int | None) -> Channel:
        if channel is not None:
            return self.emu.world.channel(_id(channel))
        guild = self.emu.world.guild(self.guild_id or 0)
        if guild.system_channel_id is None:
            raise ScriptError("the guild has no text channel; pass channel=")
        return self.emu.world.channels[guild.system_channel_id]

    async def click(
        self,
        message: MessageRef,
        custom_id: str,
        *,
        values: list[str] | None = None,
        wait: bool = True,
    ) -> Interaction:
        """Press a button (or choose ``values`` in a select); waits for the bot's answer."""
        msg = self.emu.world.messages.get(_id(message))
        if msg is None:
            raise ScriptError(f"unknown message {message!r}")
        it = self.emu.interactions.click(self.id, msg, custom_id, values)
        return await self._maybe_wait(it, wait)

    async def run_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        channel: Channel | int | None = None,
        wait: bool = True,
    ) -> Interaction:
        """Run ``/name`` with options; users, roles and channels may be passed as objects."""
        values = {
            k: (_id(v) if isinstance(v, User | Role | Channel | Person | Member) else v)
            for k, v in (options or {}).items()
        }
        it = self.emu.interactions.command(self.id, self._channel(channel), name, values)
        return await self._maybe_wait(it, wait)

    async def autocomplete(
        self,
        name: str,
        focused: str,
        typed: str = "",
        options: dict[str, Any] | None = None,
        *,
        channel: Channel | int | None = None,
    ) -> list[dict[str, Any]]:
        """Type ``typed`` into option ``focused`` of ``/name``; the choices the bot offers."""
        values = {
            k: (_id(v) if isinstance(v, User | Role | Channel | Person | Member) else v)
            for k, v in (options or {}).items()
        }
        values[focused] = typed
        it = self.emu.interactions.command(
            self.id, self._channel(channel), name, values, focused=focused
        )
        await self._maybe_wait(it, True)
        return list((it.response_data or {}).get("choices") or [])

    async def submit_modal(
        self, opened_by: Interaction, values: dict[str, Any], *, wait: bool = True
    ) -> Interaction:
        """Fill in the modal the bot opened in answer to ``opened_by`` and submit it."""
        it = self.emu.interactions.submit_modal(self.id, opened_by, values)
        return await self._maybe_wait(it, wait)

    def say(self, content: str, *, channel: Channel | int | None = None) -> Message:
        """Post a message as this member (MESSAGE_CREATE)."""
        return self.emu.messages.create(self._channel(channel), self.id, {"content": content})

    def set_nick(self, nick: str | None) -> None:
        assert self.guild_id is not None
        self.emu.world.update_member(self.guild_id, self.id, nick=nick)

    def set_roles(self, roles: list[Role]) -> None:
        assert self.guild_id is not None
        self.emu.world.update_member(self.guild_id, self.id, roles=[r.id for r in roles])

    def leave(self) -> None:
        assert self.guild_id is not None
        self.emu.world.remove_member(self.guild_id, self.id)

    def dms(self) -> list[dict[str, Any]]:
        """DMs this person received (and sent) with the bot."""
        return self.emu.inspect.dms(self.id)

    async def _maybe_wait(self, it: Interaction, wait: bool) -> Interaction:
        if wait:
            await wait_for_answer(it, self.emu.responses.deadline)
        return it


async def wait_for_answer(it: Interaction, within: float) -> bool:
    """Wait until the bot acknowledged ``it``; False if it did not ``within`` seconds."""
    try:
        await asyncio.wait_for(it.acknowledged.wait(), within)
    except TimeoutError:
        return False
    return True
