"""The outbound contract, run against the direct, in_process and external modes."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateways.discord import Body, Outbound, OutboundError
from tests.integration.discord_rest.conftest import CREATE_ROUTE, EDIT_ROUTE, Stage

pytestmark = pytest.mark.integration


async def test_send_returns_the_message_and_posts_it(outbound: Outbound, stage: Stage) -> None:
    sent = await outbound.send_message(stage.games.id, Body(content="Catan tonight"))
    assert sent is not None
    [shown] = stage.emu.channel_messages(stage.games)
    assert shown["id"] == sent["id"]
    assert shown["content"] == "Catan tonight"


async def test_a_retried_send_posts_once(outbound: Outbound, stage: Stage) -> None:
    first = await outbound.send_message(stage.games.id, Body(content="once"), op_id="a" * 32)
    again = await outbound.send_message(stage.games.id, Body(content="once"), op_id="a" * 32)
    assert first is not None
    assert again is not None
    assert first["id"] == again["id"]
    assert len(stage.emu.channel_messages(stage.games)) == 1
    assert stage.emu.requests.count(CREATE_ROUTE) in (1, 2)  # the repeat may reach Discord


async def test_a_burst_of_edits_coalesces(outbound: Outbound, stage: Stage) -> None:
    emu = stage.emu
    sent = await outbound.send_message(stage.games.id, Body(content="players: 0"))
    assert sent is not None
    started = time.monotonic()
    for n in range(1, 51):
        await outbound.edit_message(stage.games.id, sent["id"], Body(content=f"players: {n}"))
        await asyncio.sleep(0.005)
    await emu.until(lambda: emu.channel_messages(stage.games)[0]["content"] == "players: 50")
    visible_after = time.monotonic() - started
    await outbound.flush()
    assert emu.requests.count(EDIT_ROUTE) <= 3
    assert emu.requests.total_429 == 0
    assert visible_after < 1.5


async def test_edits_set_only_the_fields_they_name(outbound: Outbound, stage: Stage) -> None:
    sent = await outbound.send_message(stage.games.id, Body(content="title"))
    assert sent is not None
    embed = {"title": "Catan", "description": "4 players"}
    await outbound.edit_message(stage.games.id, sent["id"], Body(embeds=[embed]))
    await outbound.edit_message(stage.games.id, sent["id"], Body(content="new title"), wait=True)
    [shown] = stage.emu.channel_messages(stage.games)
    assert shown["content"] == "new title"
    assert shown["embeds"][0]["title"] == "Catan"


async def test_update_several_messages(outbound: Outbound, stage: Stage) -> None:
    channels = [stage.games, *(stage.guild.text_channel(f"more-{i}") for i in range(2))]
    sent = [await outbound.send_message(c.id, Body(content="old")) for c in channels]
    edits = [
        (c.id, m["id"], Body(content=f"new {c.name}"))
        for c, m in zip(channels, sent, strict=True)
        if m
    ]
    started = time.monotonic()
    await outbound.update_messages(edits, wait=True)
    assert time.monotonic() - started < 1.5  # channels are paced independently
    shown = [m["content"] for c in channels for m in stage.emu.channel_messages(c)]
    assert shown == [f"new {c.name}" for c in channels]


async def test_delete_is_idempotent(outbound: Outbound, stage: Stage) -> None:
    sent = await outbound.send_message(stage.games.id, Body(content="bye"))
    assert sent is not None
    await outbound.delete_message(stage.games.id, sent["id"])
    await outbound.delete_message(stage.games.id, sent["id"])
    assert stage.emu.channel_messages(stage.games) == []


async def test_dm_and_history(outbound: Outbound, stage: Stage) -> None:
    alice = stage.members[0]
    await outbound.send_dm(alice.id, Body(content="Catan starts in 15 minutes"))
    await outbound.send_dm(alice.id, Body(content="Catan starts now"))
    assert [m["content"] for m in alice.dms()] == ["Catan starts in 15 minutes", "Catan starts now"]
    assert stage.emu.requests.count("POST /users/@me/channels") == 1  # DM channel cached
    for i in range(3):
        await outbound.send_message(stage.games.id, Body(content=f"h{i}"))
    history = await outbound.fetch_history(stage.games.id, limit=2)
    assert [m["content"] for m in history] == ["h2", "h1"]


async def test_discord_refusing_raises_outbound_error(outbound: Outbound, stage: Stage) -> None:
    with pytest.raises(OutboundError) as caught:
        await outbound.send_message(stage.games.id, Body(content=""))
    assert caught.value.status == 400
    assert caught.value.code == 50006
    assert stage.emu.requests.count(CREATE_ROUTE) == 1  # a 4xx is not retried
