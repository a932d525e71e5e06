"""How the Discord projection meets Discord's failures, with the in-memory outbound fake that
refuses as told (``tests/fakes/outbound.py``): a failure Discord may recover from stops the
projector, and the restarted one repeats nothing that was done; a refusal for good is kept and
the rest goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from domain.commands import JoinGame, LeaveGame
from gateways.discord import OutboundError, OutboundTimeout
from tests.fakes.outbound import RefusingOutbound
from tests.integration.discord_projection.discord_world import World, world

pytestmark = pytest.mark.integration


@pytest.fixture
async def w(
    nc: NATS, redis: Redis, event_log_env: dict[str, str], database_url: str, read_schema: str
) -> AsyncIterator[World]:
    fake = RefusingOutbound()
    async with world(nc, redis, event_log_env, database_url, read_schema, outbound=fake) as w:
        fake.blocked.add(str(w.eve.id))
        fake.discord.channels[str(w.games.id)] = []  # the fake Discord knows the channel
        w.start_read_models()
        w.start_projector()
        yield w
        await fake.close()


def posts(w: World, game_id: str) -> list[dict[str, object]]:
    wanted = f"muster:join:{game_id}"
    shown = w.outbound.discord.messages(w.games.id)
    return [m for m in shown if any(c["custom_id"] == wanted
                                    for r in m["components"] for c in r["components"])]  # fmt: skip


async def failed(w: World) -> BaseException:
    error = await w.failed()
    await w.stop()
    return error


async def test_a_dm_interrupted_by_a_discord_outage_is_sent_once_after_restart(w: World) -> None:
    alice, bob = w.members[:2]
    game_id = await w.create("Root", max_players=1, players=(str(alice.id), str(bob.id)))
    await w.settled()
    w.outbound.fail_next("dm", OutboundError("dm", "Discord returned 503", 503))
    await w.send(LeaveGame(command_id="leave", user_id=str(alice.id), game_id=game_id))
    assert isinstance(await failed(w), OutboundError)
    assert w.outbound.discord.dms(bob.id) == []
    w.start_projector()
    await w.settled()
    [dm] = w.outbound.discord.dms(bob.id)
    assert dm["content"].startswith("Good news! You're in **Root**")
    assert len(posts(w, game_id)) == 1
    assert w.outbound.discord.calls["create"] == 2  # the post and the DM, each once


async def test_an_edit_that_times_out_is_made_after_restart(w: World) -> None:
    alice = w.members[0]
    game_id = await w.create("Azul")
    await w.settled()
    w.outbound.fail_next("edit", OutboundTimeout("edit", 30))
    await w.send(JoinGame(command_id="join", user_id=str(alice.id), game_id=game_id))
    assert isinstance(await failed(w), OutboundTimeout)
    w.start_projector()
    await w.settled()
    await w.outbound.flush()
    [post] = posts(w, game_id)
    assert post["embeds"][0]["fields"][0]["value"] == f"<@{alice.id}>"  # type: ignore[index]


async def test_a_post_discord_refuses_for_good_is_parked_and_the_rest_goes_on(w: World) -> None:
    w.outbound.fail_next("send", OutboundError("send", "Missing Permissions", 403, 50013))
    refused = await w.create("Refused")
    kept = await w.create("Kept")
    await w.send(JoinGame(command_id="join", user_id=str(w.members[0].id), game_id=refused))
    await w.settled()
    assert posts(w, refused) == []
    assert len(posts(w, kept)) == 1
    [(projector, kind, error)] = await w.sql("SELECT projector, type, error FROM parked_events")
    assert (projector, kind) == ("discord", "announcement")
    assert "Missing Permissions" in error
    assert w.outbound.discord.calls["edit"] == 0  # nothing to edit for the refused game
