"""The Discord projection against the emulator and real servers: commands go through the port
(no bot), the projectors run as tasks, and what Discord shows is read from the emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from domain.commands import (
    CancelGame,
    ConfigureChannel,
    JoinGame,
    LeaveGame,
    RemovePlayer,
    RescheduleGame,
    UpdateGame,
)
from gateways.discord import Body, DiscordRest, open_outbound
from gateways.discord.metrics import Metrics
from gateways.postgres import connect
from projections.discord import store
from tests.integration.discord_projection.discord_world import (
    CREATE_ROUTE,
    EDIT_ROUTE,
    MANAGE_GUILD,
    World,
    button,
    field_named,
    world,
)

pytestmark = pytest.mark.integration


async def dm_statuses(w: World, game_id: str) -> list[tuple[int, str, str, str]]:
    conn = await connect(w.database_url, w.schema)
    try:
        return await store.dm_statuses(conn, game_id)
    finally:
        await conn.close()


async def join(w: World, game_id: str, person: object, tag: str = "") -> None:
    await w.send(JoinGame(command_id=f"join-{tag}{person.id}-{game_id}",  # type: ignore[attr-defined]
                          user_id=str(person.id), game_id=game_id))  # type: ignore[attr-defined]  # fmt: skip


async def test_a_game_is_announced_once_and_shows_its_players(w: World) -> None:
    alice, bob, chen = w.members[:3]
    game_id = await w.create(
        "Catan night", max_players=2, rules="Be kind", players=(str(alice.id),)
    )
    await w.emu.until(lambda: w.announcements(game_id), within=10)
    for person in (bob, chen):
        await join(w, game_id, person)
    await w.settled()
    message = w.announcement(game_id)
    embed = message["embeds"][0]
    assert embed["title"] == "Catan night"
    assert f"<@{w.host.id}>" in embed["description"]
    assert "<t:" in embed["description"]
    assert ":R>" in embed["description"]
    assert field_named(message, "Rules")["value"] == "Be kind"  # type: ignore[index]
    players = field_named(message, "Players (2/2)")
    assert players is not None
    assert players["value"] == f"<@{alice.id}>\n<@{bob.id}>"
    assert field_named(message, "Waitlist")["value"] == f"1. <@{chen.id}>"  # type: ignore[index]
    assert button(message, "join")["label"] == "Join waitlist"
    assert not button(message, "join")["disabled"]
    assert w.emu.requests.count(CREATE_ROUTE) == 1
    [(message_id,)] = await w.sql(
        "SELECT announcement_message_id FROM games WHERE game_id = %s", game_id
    )
    assert message_id == message["id"]  # recorded in the log, seen by the read model


async def test_a_burst_of_50_joins_costs_at_most_3_edits(
    nc: NATS, redis: Redis, event_log_env: dict[str, str], database_url: str, read_schema: str
) -> None:
    async with world(nc, redis, event_log_env, database_url, read_schema, players=50) as w:
        w.start_read_models()
        w.start_projector()
        game_id = await w.create("Big game", max_players=50)
        await w.emu.until(lambda: w.announcements(game_id), within=10)
        await w.settled()
        edits_before = w.emu.requests.count(EDIT_ROUTE)
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(join(w, game_id, p) for p in w.members))
        assert asyncio.get_running_loop().time() - started < 1.0, "the burst took over 1 s"
        await w.emu.until(
            lambda: field_named(w.announcement(game_id), "Players (50/50)") is not None, within=10
        )
        await w.settled()
        await w.outbound.flush()
        message = w.announcement(game_id)
        shown = field_named(message, "Players (50/50)")["value"]  # type: ignore[index]
        *lines, more = shown.splitlines()
        assert len(set(lines)) == len(lines)
        assert set(lines) <= {f"<@{p.id}>" for p in w.members}
        assert more == f"+{50 - len(lines)} more"
        assert button(message, "join")["label"] == "Join waitlist"
        edits = w.emu.requests.count(EDIT_ROUTE) - edits_before
        print(f"50 joins: {edits} edits, {w.emu.requests.total_429} x 429")
        assert edits <= 3
        assert w.emu.requests.total_429 == 0


async def test_leave_promotes_the_head_of_the_waitlist_who_is_told_once(w: World) -> None:
    alice, bob = w.members[:2]
    game_id = await w.create("Gloomhaven", max_players=1, players=(str(alice.id), str(bob.id)))
    await w.settled()
    await w.send(LeaveGame(command_id="leave-alice", user_id=str(alice.id), game_id=game_id))
    await w.emu.until(lambda: w.dms(bob), within=10)
    await w.settled()
    [text] = w.dms(bob)
    message = w.announcement(game_id)
    assert text.startswith("Good news! You're in **Gloomhaven**, <t:")
    assert f"/channels/{w.guild.id}/{w.games.id}/{message['id']}" in text
    assert w.dms(alice) == []
    assert field_named(message, "Players (1/1)")["value"] == f"<@{bob.id}>"  # type: ignore[index]
    [(source, user, kind, status)] = await dm_statuses(w, game_id)
    assert (user, kind, status) == (str(bob.id), "promoted", "sent")
    recorded = await w.sql(
        "SELECT body->>'status', (body->>'source_position')::int FROM timeline "
        "WHERE type = 'game.direct_message_recorded.v1'"
    )
    assert recorded == [("sent", source)]

    # Redelivered from the very start (as after a crash before any commit): nothing again.
    await w.stop()
    await w.sql("UPDATE projector_position SET position = 0 WHERE name = 'discord'")
    w.start_projector()
    await w.settled()
    assert w.dms(bob) == [text]
    assert len(w.announcements(game_id)) == 1


async def test_cancelling_disables_the_buttons_and_tells_the_players(w: World) -> None:
    alice, bob, chen = w.members[:3]
    game_id = await w.create("Pandemic", max_players=2,
                             players=(str(alice.id), str(bob.id), str(chen.id)))  # fmt: skip
    await w.settled()
    await w.send(CancelGame(command_id="cancel", user_id=str(w.host.id), permissions=MANAGE_GUILD,
                            game_id=game_id, reason="the host is ill"))  # fmt: skip
    await w.settled()
    await w.outbound.flush()
    message = w.announcement(game_id)
    assert message["embeds"][0]["title"] == "Pandemic — Cancelled"
    assert button(message, "join")["disabled"]
    assert button(message, "leave")["disabled"]
    for person in (alice, bob, chen):  # the waiting player too
        [text] = w.dms(person)
        assert "**Pandemic**" in text
        assert "cancelled" in text
        assert "the host is ill" in text
    assert w.dms(w.host) == []


async def test_a_reschedule_is_told_to_the_players(w: World) -> None:
    alice = w.members[0]
    game_id = await w.create("Azul", players=(str(alice.id),))
    await w.settled()
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    await w.send(RescheduleGame(
        command_id="move", user_id=str(w.host.id), permissions=MANAGE_GUILD, game_id=game_id,
        scheduled_at=when,
    ))  # fmt: skip
    await w.settled()
    await w.outbound.flush()
    [text] = w.dms(alice)
    assert f"<t:{int(when.timestamp())}:F>" in text
    assert f"<t:{int(when.timestamp())}:F>" in w.announcement(game_id)["embeds"][0]["description"]


async def test_a_member_who_blocks_dms_is_recorded_and_not_retried(w: World) -> None:
    alice = w.members[0]
    game_id = await w.create("Root", max_players=1, players=(str(alice.id), str(w.eve.id)))
    await w.settled()
    await w.send(LeaveGame(command_id="leave", user_id=str(alice.id), game_id=game_id))
    await w.settled()
    [(_, user, kind, status)] = await dm_statuses(w, game_id)
    assert (user, kind, status) == (str(w.eve.id), "promoted", "refused")
    recorded = await w.sql(
        "SELECT body->>'status', body->>'detail' FROM timeline "
        "WHERE type = 'game.direct_message_recorded.v1'"
    )
    assert recorded == [("refused", "the member does not accept direct messages from the bot")]
    attempts = w.emu.requests.count(CREATE_ROUTE)
    await w.stop()
    await w.sql("UPDATE projector_position SET position = 0 WHERE name = 'discord'")
    w.start_projector()
    await w.settled()
    assert w.emu.requests.count(CREATE_ROUTE) == attempts  # neither the DM nor the post again


async def test_an_older_render_never_overwrites_a_newer_one(w: World, redis: Redis) -> None:
    alice = w.members[0]
    game_id = await w.create("Carcassonne")
    await w.settled()
    stale = w.announcement(game_id)
    [(old_position,)] = await w.sql("SELECT position FROM games WHERE game_id = %s", game_id)
    await join(w, game_id, alice)
    await w.settled()
    await w.outbound.flush()
    newer = w.announcement(game_id)
    assert field_named(newer, "Players (1/")["value"] == f"<@{alice.id}>"  # type: ignore[index]
    # Another process (its own REST client, the same Redis), late, sends the render of an older
    # position: it is dropped.
    assert w.config is not None
    async with DiscordRest(w.config, redis, metrics=Metrics()) as rest:
        other = await open_outbound(rest)
        await other.edit_message(w.games.id, stale["id"],
                                 Body(embeds=stale["embeds"], components=stale["components"]),
                                 version=old_position, wait=True)  # fmt: skip
        await other.close()
    assert w.announcement(game_id)["embeds"] == newer["embeds"]
    assert w.announcement(game_id)["embeds"] != stale["embeds"]


async def test_a_lowered_cap_tells_the_players_moved_to_the_waitlist(w: World) -> None:
    alice, bob, chen, dana = w.members[:4]
    players = tuple(str(p.id) for p in (alice, bob, chen, dana))
    game_id = await w.create("Twilight Imperium", max_players=3, players=players)
    await w.settled()
    await w.send(UpdateGame(command_id="cap", user_id=str(w.host.id), permissions=MANAGE_GUILD,
                            game_id=game_id, max_players=1))  # fmt: skip
    await w.settled()
    await w.outbound.flush()
    assert w.dms(alice) == []
    for person, position in ((bob, 1), (chen, 2)):
        [text] = w.dms(person)
        assert text.startswith(
            "A change by the host moved you to the waitlist of **Twilight Imperium**, "
            f"position {position}."
        )
    assert w.dms(dana) == []  # already waiting: still waiting, now third
    message = w.announcement(game_id)
    assert field_named(message, "Players (1/1)")["value"] == f"<@{alice.id}>"  # type: ignore[index]
    waitlist = field_named(message, "Waitlist")["value"]  # type: ignore[index]
    assert waitlist == f"1. <@{bob.id}>\n2. <@{chen.id}>\n3. <@{dana.id}>"


async def test_a_channel_settings_change_re_renders_its_games(w: World) -> None:
    game_id = await w.create("Dominion")
    await w.settled()
    assert field_named(w.announcement(game_id), "Rules") is None
    await w.send(ConfigureChannel(
        command_id="rules", user_id=str(w.host.id), permissions=MANAGE_GUILD | 0x10,
        guild_id=str(w.guild.id), channel_id=str(w.games.id), rules="Phones away",
    ))  # fmt: skip
    await w.settled()
    await w.outbound.flush()
    rules = field_named(w.announcement(game_id), "Rules")
    assert rules is not None
    assert rules["value"] == "Phones away"


async def test_a_dm_for_an_old_event_is_recorded_as_skipped(
    nc: NATS, redis: Redis, event_log_env: dict[str, str], database_url: str, read_schema: str
) -> None:
    """As on the first run over an old log: what was news two days ago is not sent now."""
    async with world(nc, redis, event_log_env, database_url, read_schema) as w:
        alice, bob = w.members[:2]
        w.start_read_models()
        game_id = await w.create("Old news", max_players=1, players=(str(alice.id), str(bob.id)),
                                 scheduled_at=datetime.now(UTC) + timedelta(days=5))  # fmt: skip
        await w.send(LeaveGame(command_id="leave", user_id=str(alice.id), game_id=game_id))
        later = datetime.now(UTC) + timedelta(days=2)
        w.start_projector(clock=lambda: later)
        await w.settled()
        assert len(w.announcements(game_id)) == 1  # the game itself is still to come
        assert w.dms(bob) == []
        [(_, user, kind, status)] = await dm_statuses(w, game_id)
        assert (user, kind, status) == (str(bob.id), "promoted", "skipped")
        [(recorded,)] = await w.sql(
            "SELECT body->>'status' FROM timeline WHERE type = 'game.direct_message_recorded.v1'"
        )
        assert recorded == "skipped"


async def test_a_player_removed_by_the_host_is_told(w: World) -> None:
    alice, bob = w.members[:2]
    game_id = await w.create("Scythe", max_players=1, players=(str(alice.id), str(bob.id)))
    await w.settled()
    await w.send(RemovePlayer(command_id="kick", user_id=str(w.host.id), permissions=MANAGE_GUILD,
                              game_id=game_id, player_id=str(alice.id)))  # fmt: skip
    await w.settled()
    [removed] = w.dms(alice)
    assert removed.startswith("The host removed you from **Scythe** (<t:")
    [promoted] = w.dms(bob)
    assert promoted.startswith("Good news! You're in **Scythe**")
    await w.stop()  # then redelivered from the very start: nobody is told twice
    await w.sql("UPDATE projector_position SET position = 0 WHERE name = 'discord'")
    w.start_projector()
    await w.settled()
    assert (w.dms(alice), w.dms(bob)) == ([removed], [promoted])
