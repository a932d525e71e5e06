"""A DM the Discord projection repeats after Discord's nonce window (finding 3 of the fault
run): the projector crashed after the send and before recording it, and restarts when Discord
has forgotten the nonce. It first looks through the member's DM channel, finds the DM by its
nonce, records it as sent and sends nothing again. Without the search the member gets it twice
(the second case shows what the search prevents)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.commands import LeaveGame, RecordDirectMessage
from domain.errors import ConcurrencyConflict
from gateways.discord.dm_search import DmSearch
from projections.discord.projector import NONCE_WINDOW
from tests.integration.discord_projection.discord_world import World

pytestmark = pytest.mark.integration


async def sent_but_not_recorded(w: World, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """Bob's promotion DM delivered, then the projector ends before the log is told."""
    alice, bob = w.members[:2]
    game_id = await w.create("Root", max_players=1, players=(str(alice.id), str(bob.id)))
    await w.settled()
    send = w.port.send

    async def busy_for_dms(command: Any) -> Any:
        if isinstance(command, RecordDirectMessage):
            raise ConcurrencyConflict(command.game_id, 3)  # the run ends before recording
        return await send(command)

    monkeypatch.setattr(w.port, "send", busy_for_dms)
    await w.send(LeaveGame(command_id="leave", user_id=str(alice.id), game_id=game_id))
    assert isinstance(await w.failed(), ConcurrencyConflict)
    await w.stop()
    monkeypatch.setattr(w.port, "send", send)
    [(status,)] = await w.sql("SELECT status FROM discord_dms WHERE user_id = %s", str(bob.id))
    assert status == "pending"
    assert len(w.dms(bob)) == 1
    w.emu.messages._nonces.clear()  # Discord has forgotten the nonce (its window has passed)
    return bob, game_id


async def test_a_dm_pending_past_the_nonce_window_and_delivered_is_not_sent_again(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob, _ = await sent_but_not_recorded(w, monkeypatch)
    later = datetime.now(UTC) + NONCE_WINDOW + timedelta(seconds=1)
    w.start_projector(clock=lambda: later, find_dm=DmSearch(w.outbound.rest, w.outbound).find)
    await w.settled()
    [dm] = w.emu.inspect.dms(bob.id)
    assert dm["content"].startswith("Good news! You're in **Root**")
    [(status, message_id)] = await w.sql(
        "SELECT status, message_id FROM discord_dms WHERE user_id = %s", str(bob.id)
    )
    assert (status, message_id) == ("sent", str(dm["id"]))
    [(recorded,)] = await w.sql(
        "SELECT body->>'status' FROM timeline WHERE type = 'game.direct_message_recorded.v1'"
    )
    assert recorded == "sent"


async def test_a_dm_pending_inside_the_nonce_window_is_not_searched(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the window the nonce does the work, so no search is made (and without Discord's
    nonce, which this test has cleared, the repeat is delivered: what the search prevents)."""
    bob, _ = await sent_but_not_recorded(w, monkeypatch)
    searched: list[str] = []

    async def find(user: str, nonce: str) -> str | None:
        searched.append(nonce)
        return None

    w.start_projector(find_dm=find)
    await w.settled()
    assert searched == []
    assert len(w.dms(bob)) == 2
