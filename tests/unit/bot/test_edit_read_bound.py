"""``/game edit`` answers with a modal, which cannot follow a deferral, so the game is read
first; with PostgreSQL restarting that read may hang past Discord's 3 s. It is bounded, and the
member is told to try again instead of seeing "The application did not respond" (finding 2 of
the fault run)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

import bot.listing
from bot.forms import LiveForms
from bot.games import GamesCog
from bot.limits import PerUserLimit
from bot.listing import CANNOT_READ, choose_game
from bot.respond import Responder

GAME_ID = "0b2f3c4d-1111-4222-8333-444455556666"


class HangingReads:
    """The read side with PostgreSQL down: every read waits until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.asked = asyncio.Event()

    async def game(self, game_id: str) -> Any:
        self.asked.set()
        await self.release.wait()
        return None

    async def channel_games(self, channel_id: str) -> list[Any]:
        return await self.game("")  # type: ignore[no-any-return]


class QuickReads:
    async def game(self, game_id: str) -> Any:
        return SimpleNamespace(
            game_id=game_id, guild_id="1", title="Catan", description="", duration_minutes=None,
            settings=SimpleNamespace(rules=""), scheduled_at=datetime.now(UTC),
        )  # fmt: skip


class Response:
    def __init__(self) -> None:
        self.said: list[tuple[str, bool]] = []
        self.modals: list[Any] = []

    async def send_message(self, text: str, *, ephemeral: bool = False) -> None:
        self.said.append((text, ephemeral))

    async def send_modal(self, modal: Any) -> None:
        self.modals.append(modal)

    def is_done(self) -> bool:
        return bool(self.said or self.modals)


def interaction() -> Any:
    return SimpleNamespace(
        id=1, guild_id=1, channel_id=2, user=SimpleNamespace(id=7), response=Response()
    )


def cog(reads: Any) -> GamesCog:
    responder = Responder(SimpleNamespace(), PerUserLimit())
    fake_bot: Any = SimpleNamespace(
        responder=responder, parts=SimpleNamespace(reads=reads), forms=LiveForms()
    )
    return GamesCog(fake_bot)


@pytest.fixture
def short_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.listing, "UNDEFERRED_READ", 0.01)


@pytest.mark.usefixtures("short_bound")
async def test_edit_answers_when_the_read_does_not_come_in_time() -> None:
    reads = HangingReads()
    asked = interaction()
    await cog(reads).edit(asked, GAME_ID)
    assert reads.asked.is_set()
    assert asked.response.said == [(CANNOT_READ, True)]
    assert asked.response.modals == []
    assert CANNOT_READ == "Muster cannot read its games right now; try again in a few seconds."


@pytest.mark.usefixtures("short_bound")
async def test_a_title_typed_by_hand_is_bounded_too() -> None:
    asked = interaction()
    assert await choose_game(cog(HangingReads()).bot, asked, "Catan") is None
    assert asked.response.said == [(CANNOT_READ, True)]


async def test_a_read_in_time_opens_the_modal() -> None:
    asked = interaction()
    await cog(QuickReads()).edit(asked, GAME_ID)
    assert asked.response.said == []
    [modal] = asked.response.modals
    assert type(modal).__name__ == "EditModal"
