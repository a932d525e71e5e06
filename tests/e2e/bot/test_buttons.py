"""Join and Leave on an announcement: one ephemeral answer per click, the right events."""

from __future__ import annotations

import pytest

from domain.commands import CancelGame
from domain.events import PlayerJoined, PlayerLeft, PlayerPromoted, PlayerWaitlisted
from tests.e2e.bot.conftest import Muster

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def test_join_full_waitlist_leave_promotes(muster: Muster) -> None:
    game = await muster.new_game(max_players=2)
    [msg] = muster.posted
    a, b, c = muster.members

    first = await a.click(msg, f"muster:join:{game}")
    assert first.response_type == 5  # deferred (thinking), ephemeral
    assert await muster.answered(first) == "You're in — 1/2."
    assert await muster.answered(await b.click(msg, f"muster:join:{game}")) == "You're in — 2/2."
    waiting = await c.click(msg, f"muster:join:{game}")
    assert await muster.answered(waiting) == "The game is full: you are #1 on the waitlist."
    again = await a.click(msg, f"muster:join:{game}")
    assert await muster.answered(again) == "You're already in this game."

    left = await a.click(msg, f"muster:leave:{game}")
    assert await muster.answered(left) == (
        f"You left the game. <@{c.id}> moved up from the waitlist and takes your seat."
    )
    twice = await a.click(msg, f"muster:leave:{game}")
    assert await muster.answered(twice) == (
        "You already left: you are not in this game or its waitlist."
    )
    kinds = [type(e) for e in muster.events(game)[1:]]
    assert kinds == [PlayerJoined, PlayerJoined, PlayerWaitlisted, PlayerLeft, PlayerPromoted]
    joined = [e for e in muster.events(game) if isinstance(e, PlayerJoined)]
    assert [e.command_id for e in joined] == [f"discord:{first.id}", joined[1].command_id]
    # Only the clicker sees an answer: nothing but the announcement is public.
    assert [m["id"] for m in muster.emu.channel_messages(muster.games)] == [str(msg)]
    assert not [i for i in muster.emu.inspect.interactions() if i["failed"]]


async def test_clicks_on_a_cancelled_game_are_answered(muster: Muster) -> None:
    game = await muster.new_game()
    [msg] = muster.posted
    await muster.port.send(
        CancelGame(command_id="test:cancel", user_id=str(muster.host.id), game_id=game)
    )
    a = muster.members[0]
    join = await a.click(msg, f"muster:join:{game}")
    assert await muster.answered(join) == "You can't join: the game was cancelled."
    leave = await a.click(msg, f"muster:leave:{game}")
    assert await muster.answered(leave) == "You can't leave: the game was cancelled."


async def test_member_over_the_limit_is_asked_to_wait(muster: Muster) -> None:
    game = await muster.new_game(max_players=10)
    [msg] = muster.posted
    a = muster.members[0]
    for n in range(5):
        it = await a.click(msg, f"muster:join:{game}" if n % 2 == 0 else f"muster:leave:{game}")
        await muster.answered(it)
    sixth = await a.click(msg, f"muster:join:{game}")
    assert sixth.response_type == 4  # answered at once, nothing sent to the domain
    assert "Wait a few seconds" in muster.reply(sixth)
    muster.clock.now += 10.5
    seventh = await a.click(msg, f"muster:leave:{game}")
    assert await muster.answered(seventh) == "You left the game."
    assert sum(e.command_id.startswith("discord:") for e in muster.events(game)) == 6
