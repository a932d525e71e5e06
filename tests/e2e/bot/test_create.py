"""/game create through the modal, times in the channel's zone, bad input kept for a retry,
/config, autocomplete, /game list, /game mine, reschedule, cancel and a non-host's edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.events import GameCancelled, GameCreated, GameRescheduled
from gateways.timeparse import discord_timestamp
from tests.e2e.bot.conftest import Muster

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def modal_values(it: Any) -> dict[str, str]:
    """custom_id → prefilled value of the modal the bot opened."""
    found: dict[str, str] = {}
    stack = list(it.modal["components"])
    while stack:
        comp = stack.pop()
        stack.extend(comp.get("components") or [])
        if comp.get("custom_id"):
            found[comp["custom_id"]] = comp.get("value") or ""
    return found


async def create(muster: Muster, who: Any, **values: str) -> tuple[Any, str]:
    opened = await who.run_command("game create", channel=muster.games)
    assert opened.response_type == 9, opened.failures
    submitted = await who.submit_modal(opened, values)
    return submitted, await muster.answered(submitted)


async def test_create_in_the_channel_time_zone(muster: Muster) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    muster.bot.parts.now = lambda: now
    host, p1 = muster.host, muster.members[1]
    it = await host.run_command(
        "config channel", {"time_zone": "America/New_York"}, channel=muster.games
    )
    assert await muster.answered(it) == "Channel settings updated: time zone."
    await muster.projected()

    year = now.year + 1
    submitted, text = await create(
        muster, host, title="Board games", when=f"{year}-07-04 20:00", max_players="4",
        description="Bring snacks", players=f"@player1, Sam (no Discord), <@{host.id}>",
    )  # fmt: skip
    when = datetime(year, 7, 5, 0, 0, tzinfo=UTC)  # 20:00 EDT (UTC-4)
    assert text.startswith(f"**Board games** is on for {discord_timestamp(when)}")
    [created] = [e for e in muster.events_of_guild() if isinstance(e, GameCreated)]
    assert created.command_id == f"discord:{submitted.id}"
    assert created.scheduled_at == when
    assert created.details.max_players == 4
    assert created.details.description == "Bring snacks"
    await muster.projected()
    game = created_game = await muster.reads.game(muster.game_ids()[0])
    assert game is not None
    assert [p.user_id for p in game.participants if p.kind == "joined"] == [
        str(p1.id),
        str(host.id),
    ]
    assert [p.label for p in game.participants if p.kind == "placeholder"] == ["Sam (no Discord)"]

    # Autocomplete offers it; reschedule by choice, in the zone; list and mine show it.
    choices = await host.autocomplete("game reschedule", "game", "board", channel=muster.games)
    assert [c["value"] for c in choices] == [created_game.game_id]
    moved = await host.run_command(
        "game reschedule", {"game": choices[0]["value"], "when": f"{year}-12-24 18:00"},
        channel=muster.games,
    )  # fmt: skip
    later = datetime(year, 12, 24, 23, 0, tzinfo=UTC)  # 18:00 EST (UTC-5)
    assert await muster.answered(moved) == (
        f"**Board games** moved to {discord_timestamp(later)} "
        f"({discord_timestamp(later, 'R')}); players are told."
    )
    assert isinstance(muster.events(created_game.game_id)[-1], GameRescheduled)
    await muster.projected()
    listed = await p1.run_command("game list", channel=muster.games)
    assert "**Board games** — " in await muster.answered(listed)
    mine = await p1.run_command("game mine", channel=muster.games)
    assert (await muster.answered(mine)).startswith("You joined:\n• **Board games**")

    # Someone who is not the host cannot edit or cancel it; the host can cancel by title.
    edit = await p1.run_command("game edit", {"game": "Board games"}, channel=muster.games)
    assert modal_values(edit)["title"] == "Board games"
    refused = await p1.submit_modal(edit, {"title": "Mine now"})
    assert "Only the host" in await muster.answered(refused)
    cancel = await host.run_command(
        "game cancel", {"game": "board games", "reason": "rain"}, channel=muster.games
    )
    assert await muster.answered(cancel) == "**Board games** is cancelled; players are told."
    assert isinstance(muster.events(created_game.game_id)[-1], GameCancelled)


async def test_bad_time_and_mentions_keep_the_text_for_a_retry(muster: Muster) -> None:
    host = muster.host
    typed = {
        "title": "Chess", "when": "whenever suits", "max_players": "two",
        "players": "@player, @nobody, @player2",
    }  # fmt: skip
    submitted, text = await create(muster, host, **typed)
    assert text.startswith("The game was not created:")
    assert "**When**: I could not read 'whenever suits' as a time." in text
    assert "**Max players**: 'two' is not a number." in text
    assert "@player matches 3 members. Did you mean `@player0` (Player 0)" in text
    assert "No member is called @nobody." in text
    assert "@player2" not in text.split("Players**: ")[-1] or "player2 matches" not in text
    assert muster.events_of_guild() == []

    reply = muster.emu.world.messages[submitted.original_message_id]
    [button] = [c for row in reply.components for c in row["components"]]
    assert button["label"] == "Try again"
    again = await host.click(reply.id, button["custom_id"])
    assert again.response_type == 9
    assert modal_values(again) == {**typed, "description": ""}
    fixed = await host.submit_modal(
        again, {**typed, "when": "in 2 hours", "max_players": "2", "players": "@player2"}
    )
    text = await muster.answered(fixed)
    assert text.startswith("**Chess** is on for <t:"), text
    [created] = muster.events_of_guild()
    assert isinstance(created, GameCreated)
    assert created.details.max_players == 2


async def test_config_needs_manage_server(muster: Muster) -> None:
    it = await muster.members[0].run_command(
        "config guild", {"time_zone": "Europe/Berlin"}, channel=muster.games
    )
    assert await muster.answered(it) == (
        "To change this server's Muster settings you need the Manage Server permission."
    )
    bad = await muster.host.run_command(
        "config guild", {"time_zone": "Mars/Olympus"}, channel=muster.games
    )
    assert "is not an IANA time zone name" in await muster.answered(bad)
    shown = await muster.host.run_command("config channel", channel=muster.games)
    text = await muster.answered(shown)
    assert "• max players: 10" in text
    assert "• time zone: UTC" in text
    zones = await muster.host.autocomplete(
        "config guild", "time_zone", "berl", channel=muster.games
    )
    assert zones == [{"name": "Europe/Berlin", "value": "Europe/Berlin"}]


async def test_a_form_opened_before_a_restart_is_answered(muster: Muster) -> None:
    opened = await muster.host.run_command("game create", channel=muster.games)
    await muster.restart_bot()
    submitted = await muster.host.submit_modal(opened, {"title": "Go", "when": "in 1h"})
    assert submitted.response_type == 4
    assert "no longer active" in muster.reply(submitted)
    assert muster.events_of_guild() == []
