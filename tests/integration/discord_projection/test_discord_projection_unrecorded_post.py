"""An announcement posted, then the run ended before its message id was kept (a full disk, a
PostgreSQL restart: fault-run finding). The next run must still keep that message true:

* the game was cancelled meanwhile: the projection used to take a game over before it first
  saw it as "old news" and left the posted announcement open, with live Join buttons; it now
  looks for the post and shows the end on it (and posts nothing new if there is none);
* the game changed meanwhile: the repeated post (same nonce) returns Discord's first message,
  which shows the older render; it is edited to the current one, not taken as showing it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from domain.commands import CancelGame, JoinGame
from projections.discord import store
from tests.integration.discord_projection.discord_world import (
    MANAGE_GUILD,
    World,
    button,
    field_named,
)

pytestmark = pytest.mark.integration


async def posted_but_not_kept(w: World, monkeypatch: pytest.MonkeyPatch, title: str) -> str:
    """A game announced in Discord; the projector's run ends before it keeps the message id."""

    async def disk_full(*args: Any, **kwargs: Any) -> None:
        raise psycopg.OperationalError("could not extend file: No space left on device")

    monkeypatch.setattr(store, "posted", disk_full)
    game_id = await w.create(title, max_players=3)
    assert isinstance(await w.failed(), psycopg.OperationalError)
    await w.stop()
    monkeypatch.undo()
    assert len(w.announcements(game_id)) == 1  # Discord shows it
    [(message_id,)] = await w.sql(
        "SELECT message_id FROM discord_announcements WHERE game_id = %s", game_id
    )
    assert message_id is None  # the projection does not know where
    return game_id


async def test_a_post_not_kept_of_a_game_cancelled_meanwhile_shows_the_cancellation(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    game_id = await posted_but_not_kept(w, monkeypatch, "Gloomhaven")
    await w.send(CancelGame(command_id="cancel", user_id=str(w.host.id), permissions=MANAGE_GUILD,
                            game_id=game_id))  # fmt: skip
    w.start_projector()
    await w.settled()
    await w.outbound.flush()
    message = w.announcement(game_id)  # still one
    assert message["embeds"][0]["title"] == "Gloomhaven — Cancelled"
    assert button(message, "join")["disabled"]


async def test_a_post_not_kept_of_a_game_changed_meanwhile_shows_the_change(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    game_id = await posted_but_not_kept(w, monkeypatch, "Azul")
    alice = w.members[0]
    await w.send(JoinGame(command_id="join", user_id=str(alice.id), game_id=game_id))
    w.start_projector()  # inside the nonce window: the repeat returns the first message
    await w.settled()
    await w.outbound.flush()
    players = field_named(w.announcement(game_id), "Players")
    assert players is not None
    assert players["name"] == "Players (1/3)"
    assert str(alice.id) in players["value"]


async def test_a_game_over_whose_post_never_went_out_is_not_announced(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run ended after noting the intent and before the send: nothing to find, and a
    cancelled game nobody saw is not announced."""

    async def refused(*args: Any, **kwargs: Any) -> None:
        raise psycopg.OperationalError("the connection is lost")

    send = w.outbound.send_message
    monkeypatch.setattr(w.outbound, "send_message", refused)
    game_id = await w.create("Brass", max_players=3)
    assert isinstance(await w.failed(), psycopg.OperationalError)
    await w.stop()
    monkeypatch.setattr(w.outbound, "send_message", send)
    await w.send(CancelGame(command_id="cancel", user_id=str(w.host.id), permissions=MANAGE_GUILD,
                            game_id=game_id))  # fmt: skip
    w.start_projector()
    await w.settled()
    assert w.announcements(game_id) == []
    assert await w.sql("SELECT 1 FROM discord_announcements WHERE game_id = %s", game_id) == []
