"""Bursts, a dropped gateway mid-burst, health, the intents check and a graceful stop."""

from __future__ import annotations

import asyncio
from collections import Counter

import discord
import msgspec
import pytest

from bot.client import wanted_intents
from bot.run import IntentsMissing, check_intents
from deploy.emulator import DiscordEmulator, point_discord_py_at
from deploy.emulator.requestlog import RequestRecord
from domain.events import PlayerJoined, PlayerWaitlisted
from gateways.health import HealthReporter, read_health
from tests.e2e.bot.conftest import Muster

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"


def clicks_of(muster: Muster, game: str) -> Counter[str]:
    seated = (PlayerJoined, PlayerWaitlisted)
    return Counter(e.command_id for e in muster.events(game) if isinstance(e, seated))


async def burst(muster: Muster, game: str, count: int, *, drop_after: int | None = None) -> list:
    people = [muster.guild.member(f"burst{n}") for n in range(count)]
    msg = muster.posted[0]
    started = []
    for n, person in enumerate(people):
        if n == drop_after:
            muster.emu.faults.drop_websocket()
        started.append(await person.click(msg, f"muster:join:{game}", wait=False))
    return started


async def settled(muster: Muster, its: list) -> None:
    """Every interaction answered (follow-up filled in) or visibly failed."""

    def done() -> bool:
        for it in its:
            failed = it.response_type is None and (
                muster.emu.world.clock.time() - it.created_at > muster.emu.responses.deadline
            )
            msg = muster.emu.world.messages.get(it.original_message_id or 0)
            if not failed and (msg is None or msg.flags & 128):
                return False
        return True

    await muster.emu.until(done, within=30)


async def test_fifty_joins_in_a_second_get_one_answer_and_one_event_each(muster: Muster) -> None:
    game = await muster.new_game(max_players=40)
    its = await burst(muster, game, 50)
    await settled(muster, its)
    replies = [muster.reply(it) for it in its]
    assert Counter(r.split(" — ")[0] for r in replies)["You're in"] == 40
    assert sum(r.startswith("The game is full: you are #") for r in replies) == 10
    events = clicks_of(muster, game)
    assert sorted(events) == sorted(f"discord:{it.id}" for it in its)
    assert set(events.values()) == {1}
    assert sum(muster.emu.requests.rate_limited.values()) == 0
    followups = [i for i in muster.emu.inspect.interactions() if i["failed"]]
    assert followups == []


async def test_gateway_dropped_mid_burst_loses_no_click(muster: Muster) -> None:
    await muster.start_announcements()
    game = await muster.announced_game(max_players=50)
    its = await burst(muster, game, 30, drop_after=12)
    await settled(muster, its)
    events = clicks_of(muster, game)
    assert set(events.values()) <= {1}  # never twice
    failed = {str(i["id"]) for i in muster.emu.inspect.interactions() if i["failed"]}
    for it in its:
        # Every click has exactly one event, or the member saw "This interaction failed".
        assert (f"discord:{it.id}" in events) != (str(it.id) in failed), it.id
    # The announcement converges to the read model: its Players are exactly those seated.
    joined = await muster.converged(game)
    assert len(joined) == len(events)


async def test_fifty_members_join_in_a_second_through_the_announcement(muster: Muster) -> None:
    """Clicks on the real announcement: the final message is right, at most 3 edits, no 429."""
    await muster.start_announcements()
    game = await muster.announced_game(max_players=50)
    message_id = muster.posted[0]
    edits_before = len(edits_of(muster, message_id))
    its = await burst(muster, game, 50)
    assert its[-1].created_at - its[0].created_at < 1.0  # the 50 clicks came within a second
    await settled(muster, its)
    assert all(muster.reply(it).startswith("You're in — ") for it in its)
    joined = await muster.converged(game)
    assert sorted(joined) == sorted(str(it.user_id) for it in its)
    message = muster.announcement(game)
    assert message is not None
    assert [f["name"] for f in message["embeds"][0]["fields"]] == ["Players (50/50)"]
    [join] = [c for row in message["components"] for c in row["components"]
              if c["custom_id"] == f"muster:join:{game}"]  # fmt: skip
    assert join["label"] == "Join waitlist"
    edits = edits_of(muster, message_id)[edits_before:]
    print(f"50 joins through the bot: {len(edits)} edits, {muster.emu.requests.total_429} x 429")
    assert 1 <= len(edits) <= 3
    assert muster.emu.requests.total_429 == 0


def edits_of(muster: Muster, message_id: int) -> list[RequestRecord]:
    """The emulator's log of PATCHes of one message (its edits), oldest first."""
    return [
        r for r in muster.emu.requests.entries(EDIT_ROUTE)
        if r.path.rstrip("/").endswith(f"/messages/{message_id}")
    ]  # fmt: skip


async def test_health_reports_the_bot(muster: Muster) -> None:
    reporter = HealthReporter(muster.nc, "bot-test", muster.bot.figures)
    reporter.state = "running"
    await reporter.report()
    health = (await read_health(muster.nc))["bot-test"]
    figures = health.figures
    assert figures["connected"] is True
    assert figures["ready"] is True
    assert figures["guilds"] == 1
    assert figures["latency_ms"] is not None
    assert msgspec.json.encode(health)


async def test_graceful_stop_answers_what_is_in_flight(muster: Muster) -> None:
    game = await muster.new_game(max_players=10)
    gate = asyncio.Event()
    real_send = muster.port.send

    async def slow_send(command):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await real_send(command)

    muster.bot.responder.commands = type("Slow", (), {"send": staticmethod(slow_send)})()
    a, b = muster.members[:2]
    first = await a.click(muster.posted[0], f"muster:join:{game}")  # deferred, waiting
    finishing = asyncio.create_task(muster.bot.responder.finish(10))
    late = await b.click(muster.posted[0], f"muster:join:{game}")
    assert "restarting" in muster.reply(late)
    gate.set()
    assert await finishing
    assert await muster.answered(first) == "You're in — 1/10."


async def test_missing_privileged_intent_is_refused_with_a_clear_message() -> None:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        async with DiscordEmulator(privileged_intents=0) as emu:
            await point_discord_py_at(emu.api_base)
            client = discord.Client(intents=wanted_intents())
            try:
                await client.login(emu.bot_token)
                with pytest.raises(IntentsMissing, match="SERVER MEMBERS INTENT"):
                    await check_intents(client)
            finally:
                await client.close()
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
