"""Members the bot sees (interactions, gateway member events) → the ``PROFILES`` stream.

Display names on the web come from these observations (``projections/names.py``). A member
clicking ten times publishes once: an observation is only re-published when the profile
changed or ``refresh`` seconds have passed. Publishing never delays an answer to a person: it
runs in the background and a failure is logged, not raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import TTLCache

from gateways.profiles import Profile

log = logging.getLogger("muster.bot.profiles")
Publish = Callable[[str, str, Profile], Awaitable[None]]


def profile_of_member(member: Any) -> Profile:
    """What discord.py's ``Member`` (or ``User``) shows: nick > global name > username."""
    avatar = getattr(member, "guild_avatar", None) or getattr(member, "avatar", None)
    return Profile(
        username=member.name,
        global_name=getattr(member, "global_name", None),
        nick=getattr(member, "nick", None),
        avatar=getattr(avatar, "key", None),
    )


class ProfileObserver:
    """Publishes each member's profile once per change (or per ``refresh`` seconds)."""

    def __init__(
        self,
        publish: Publish,
        *,
        refresh: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        max_members: int = 100_000,
    ) -> None:
        self.publish = publish
        self._seen: TTLCache[tuple[str, str], Profile] = TTLCache(max_members, refresh, timer=clock)
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0

    def observe(self, guild_id: int | str | None, member: Any) -> None:
        """Note a member seen in ``guild_id`` (ignored outside guilds)."""
        if guild_id is None or member is None or getattr(member, "bot", False):
            return
        key = (str(guild_id), str(member.id))
        profile = profile_of_member(member)
        if self._seen.get(key) == profile:
            return
        self._seen[key] = profile
        task = asyncio.get_running_loop().create_task(self._publish(key, profile))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, key: tuple[str, str], profile: Profile) -> None:
        try:
            await self.publish(key[0], key[1], profile)
            self.published += 1
        except Exception as error:  # noqa: BLE001 best effort: a name may stay stale, no more
            self._seen.pop(key, None)
            log.warning("could not publish the profile of %s: %s", key[1], error)

    async def drain(self) -> None:
        """Wait for publications in flight (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
