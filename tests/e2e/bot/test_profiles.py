"""Members seen in interactions and in gateway member events are published to PROFILES."""

from __future__ import annotations

import asyncio

import msgspec
import nats.js.errors
import pytest

from gateways.profiles import Profile
from tests.e2e.bot.conftest import Muster

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def profile(muster: Muster, user_id: int) -> Profile | None:
    subject = f"{muster.profiles_prefix}.{muster.guild.id}.{user_id}"
    try:
        msg = await muster.nc.jetstream().get_last_msg(muster.profiles_prefix.upper(), subject)
    except nats.js.errors.NotFoundError:
        return None
    return msgspec.json.decode(msg.data or b"", type=Profile)


async def until_profile(muster: Muster, user_id: int, nick: str | None) -> Profile:
    async with asyncio.timeout(10):
        while True:
            found = await profile(muster, user_id)
            if found is not None and found.nick == nick:
                return found
            await asyncio.sleep(0.02)


async def test_a_clicking_member_is_published(muster: Muster) -> None:
    game = await muster.new_game()
    a = muster.members[0]
    await muster.answered(await a.click(muster.posted[0], f"muster:join:{game}"))
    found = await until_profile(muster, a.id, None)
    assert found == Profile(username="player0", global_name="Player 0")


async def test_member_events_publish_the_new_nick(muster: Muster) -> None:
    b = muster.members[1]
    b.set_nick("Captain B")  # GUILD_MEMBER_UPDATE
    assert (await until_profile(muster, b.id, "Captain B")).display_name == "Captain B"
    newcomer = muster.guild.member("newbie", global_name="New Person", nick="Newt")  # MEMBER_ADD
    assert (await until_profile(muster, newcomer.id, "Newt")).global_name == "New Person"
