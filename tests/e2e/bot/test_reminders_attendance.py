"""Players mute reminders (the DM's buttons, ``/reminders``); the host records attendance."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from domain.commands import SYSTEM_USER_ID, CompleteGame, JoinGame, StartGame
from domain.events import (
    AttendanceRecorded,
    RemindersMuted,
    RemindersUnmuted,
)
from projections.scheduler.message import MUTE_GUILD_PREFIX, MUTE_PREFIX
from tests.e2e.bot.conftest import Muster

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def reminder_dm(muster: Muster, person: Any, game: str) -> int:
    """A reminder DM with the scheduler's two mute buttons (as projections/scheduler sends)."""
    buttons = [
        {"type": 2, "style": 2, "label": "Mute this game", "custom_id": MUTE_PREFIX + game},
        {"type": 2, "style": 2, "label": "Mute this server",
         "custom_id": f"{MUTE_GUILD_PREFIX}{muster.guild.id}"},
    ]  # fmt: skip
    channel = muster.emu.world.dm_channel(person.id)
    msg = muster.emu.messages.create(
        channel,
        muster.emu.world.application.bot_user_id,
        {"content": "Reminder: **Catan**", "components": [{"type": 1, "components": buttons}]},
    )
    return msg.id


async def test_mute_buttons_on_a_reminder_dm(muster: Muster) -> None:
    game = await muster.new_game()
    a = muster.members[0]
    dm = reminder_dm(muster, a, game)

    # Through the emulator's HTTP control API, as the sandbox page does.
    root = muster.emu.api_base.removesuffix("/api/v10") + "/_emulator"
    async with aiohttp.ClientSession() as session:
        body = {"user_id": str(a.id), "message_id": str(dm), "custom_id": MUTE_PREFIX + game}
        async with session.post(f"{root}/interactions/click", json=body) as response:
            assert response.status == 200, await response.text()
            clicked = await response.json()
    it = muster.emu.world.interactions[int(clicked["id"])]
    assert await muster.answered(it) == "You will get no more reminders about this game."
    [muted] = [e for e in muster.events(game) if isinstance(e, RemindersMuted)]
    assert muted.user_id == str(a.id)
    assert muted.command_id == f"discord:{it.id}"

    again = await a.click(dm, MUTE_PREFIX + game)
    assert await muster.answered(again) == (
        "Reminders about this game were already muted; nothing changed."
    )
    server = await a.click(dm, f"{MUTE_GUILD_PREFIX}{muster.guild.id}")
    assert await muster.answered(server) == (
        "You will get no more reminders about any game in this server."
    )
    assert not [i for i in muster.emu.inspect.interactions() if i["failed"]]


async def test_reminders_command_mutes_and_unmutes(muster: Muster) -> None:
    game = await muster.new_game(title="Gloomhaven")
    a = muster.members[0]
    await muster.projected()
    choices = await a.autocomplete("reminders game", "game", "gloom", channel=muster.games)
    assert [c["value"] for c in choices] == [game]
    mute = await a.run_command("reminders game", {"game": game}, channel=muster.games)
    assert await muster.answered(mute) == "You will get no more reminders about this game."
    unmute = await a.run_command(
        "reminders game", {"game": game, "action": "unmute"}, channel=muster.games
    )
    assert await muster.answered(unmute) == "You will get reminders about this game again."
    twice = await a.run_command(
        "reminders game", {"game": "Gloomhaven", "action": "unmute"}, channel=muster.games
    )
    assert await muster.answered(twice) == (
        "Reminders about **Gloomhaven** were not muted; nothing changed."
    )
    kinds = [
        type(e) for e in muster.events(game) if isinstance(e, RemindersMuted | RemindersUnmuted)
    ]
    assert kinds == [RemindersMuted, RemindersUnmuted]

    server = await a.run_command("reminders server", channel=muster.games)
    assert await muster.answered(server) == (
        "You will get no more reminders about any game in this server."
    )
    back = await a.run_command("reminders server", {"action": "unmute"}, channel=muster.games)
    assert await muster.answered(back) == "You will get reminders about games in this server again."
    muster.clock.now += 10.5  # past the per-user limit (5 in 10 s)
    unknown = await a.run_command("reminders game", {"game": "Nope"}, channel=muster.games)
    assert "I don't know a game 'Nope' here" in await muster.answered(unknown)


async def completed_game(muster: Muster) -> tuple[str, int]:
    game = await muster.new_game(title="Azul", max_players=4)
    for person in muster.members[:3]:
        await muster.port.send(
            JoinGame(command_id=f"test:{uuid.uuid4()}", user_id=str(person.id), game_id=game)
        )
    for kind in (StartGame, CompleteGame):
        await muster.port.send(
            kind(command_id=f"test:{uuid.uuid4()}", user_id=SYSTEM_USER_ID, game_id=game)
        )
    await muster.projected()
    attend = {"type": 2, "style": 1, "label": "Record attendance",
              "custom_id": f"muster:attend:{game}"}  # fmt: skip
    msg = muster.emu.messages.create(
        muster.games,
        muster.emu.world.application.bot_user_id,
        {"content": "**Azul** — Completed", "components": [{"type": 1, "components": [attend]}]},
    )
    return game, msg.id


async def test_host_records_attendance_others_are_refused(muster: Muster) -> None:
    game, msg = await completed_game(muster)
    a, b, c = muster.members

    refused = await a.click(msg, f"muster:attend:{game}")
    assert await muster.answered(refused) == (
        f"Only the host (<@{muster.host.id}>) or someone with Manage Server can record attendance."
    )

    opened = await muster.host.click(msg, f"muster:attend:{game}")
    text = await muster.answered(opened)
    assert text.startswith("Attendance for **Azul**: pick who did **not** come")
    form = muster.emu.world.messages[opened.original_message_id]
    [row_select, _] = form.components
    select = row_select["components"][0]
    assert [o["value"] for o in select["options"]] == [str(p.id) for p in (a, b, c)]
    assert [o["label"] for o in select["options"]] == ["Player 0", "Player 1", "Player 2"]

    picked = await muster.host.click(form.id, select["custom_id"], values=[str(b.id)])
    assert await muster.answered(picked) == "Attendance recorded: 2 came, 1 did not."
    [recorded] = [e for e in muster.events(game) if isinstance(e, AttendanceRecorded)]
    assert recorded.no_shows == (str(b.id),)
    assert recorded.present == (str(a.id), str(c.id))
    assert recorded.command_id == f"discord:{picked.id}"

    again = await muster.host.click(msg, f"muster:attend:{game}")
    await muster.answered(again)
    form2 = muster.emu.world.messages[again.original_message_id]
    everyone = form2.components[1]["components"][0]
    assert everyone["label"] == "Everyone came"
    all_came = await muster.host.click(form2.id, everyone["custom_id"])
    assert await muster.answered(all_came) == "Attendance recorded: 3 came, 0 did not."
    assert not [i for i in muster.emu.inspect.interactions() if i["failed"]]
