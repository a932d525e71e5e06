"""Due times: which exist, when, and how the log changes them (no clock moves here)."""

from __future__ import annotations

from datetime import timedelta

from domain.commands import (
    CancelGame,
    ConfigureChannel,
    ConfigureGuild,
    LeaveGame,
    RescheduleGame,
    UpdateGame,
)
from projections.scheduler.agenda import Agenda, Due
from tests.unit.scheduler.harness import CHANNEL, GUILD, HOST, MANAGE_GUILD, Harness

H = timedelta(hours=1)


def reminder_times(h: Harness, game_id: str) -> dict[tuple[int, str], float]:
    return {
        (d.offset_minutes, d.user_id): at
        for d, at in h.board.agenda.of_game(game_id).items()
        if d.kind == "remind"
    }


def lifecycle_times(h: Harness, game_id: str) -> dict[str, float]:
    return {d.kind: at for d, at in h.board.agenda.of_game(game_id).items() if d.kind != "remind"}


async def test_each_offset_of_each_joined_player_plus_start_and_end(harness: Harness) -> None:
    h = harness
    game = await h.create(2 * H, players=("7", "8"), max_players=1)  # 8 waits: no reminders
    start = (h.now() + 2 * H).timestamp()
    assert reminder_times(h, game) == {(60, "7"): start - 3600, (15, "7"): start - 900}
    assert lifecycle_times(h, game) == {"start": start, "complete": start + 120 * 60}


async def test_offsets_and_duration_inherit_game_channel_guild_default(harness: Harness) -> None:
    h = harness
    game = await h.create(2 * H, players=("7",))
    start = (h.now() + 2 * H).timestamp()
    await h.send(
        ConfigureGuild(
            command_id=h.cid(),
            user_id=HOST,
            permissions=MANAGE_GUILD,
            guild_id=GUILD,
            reminder_minutes=(30,),
            duration_minutes=90,
        )
    )
    assert reminder_times(h, game) == {(30, "7"): start - 1800}
    assert lifecycle_times(h, game)["complete"] == start + 90 * 60
    await h.send(
        ConfigureChannel(
            command_id=h.cid(),
            user_id=HOST,
            permissions=0x30,
            guild_id=GUILD,
            channel_id=CHANNEL,
            reminder_minutes=(20,),
        )
    )
    assert reminder_times(h, game) == {(20, "7"): start - 1200}
    await h.send(
        UpdateGame(
            command_id=h.cid(),
            user_id=HOST,
            game_id=game,
            reminder_minutes=(10, 5),
            duration_minutes=30,
        )
    )
    assert reminder_times(h, game) == {(10, "7"): start - 600, (5, "7"): start - 300}
    assert lifecycle_times(h, game)["complete"] == start + 30 * 60


async def test_joins_leaves_reschedules_and_cancels_change_the_agenda(harness: Harness) -> None:
    h = harness
    game = await h.create(2 * H, players=("7",), reminder_minutes=(15,))
    await h.join(game, "9")
    assert set(reminder_times(h, game)) == {(15, "7"), (15, "9")}
    await h.send(LeaveGame(command_id=h.cid(), user_id="7", game_id=game))
    assert set(reminder_times(h, game)) == {(15, "9")}
    later = h.now() + 5 * H
    await h.send(RescheduleGame(command_id=h.cid(), user_id=HOST, game_id=game, scheduled_at=later))
    assert reminder_times(h, game) == {(15, "9"): later.timestamp() - 900}
    assert lifecycle_times(h, game)["start"] == later.timestamp()
    await h.send(CancelGame(command_id=h.cid(), user_id=HOST, game_id=game))
    assert h.board.agenda.of_game(game) == {}
    assert game not in h.board.games
    assert len(h.board.agenda) == 0


def test_agenda_pops_in_time_order_and_forgets_replaced_times() -> None:
    agenda = Agenda()
    a, b, c = (Due("remind", "g", n, "7", 1000) for n in (30, 20, 10))
    agenda.set_game("g", {a: 970.0, b: 980.0, c: 990.0})
    agenda.set_game("g", {b: 985.0, c: 990.0})  # a dropped, b moved
    assert agenda.next_at() == 985.0
    assert agenda.pop_due(989.0) == [(985.0, b)]
    assert len(agenda) == 1
    agenda.put(b, 995.0)  # retried later
    assert agenda.pop_due(1e9) == [(990.0, c), (995.0, b)]
    assert agenda.next_at() is None


def test_agenda_compacts_when_stale_entries_pile_up() -> None:
    agenda = Agenda()
    for n in range(5000):  # the same game moved 5,000 times
        agenda.set_game("g", {Due("start", "g", 0, "", 0): float(n)})
    assert len(agenda) == 1
    assert len(agenda._heap) < 2 * 1024 + 2
    assert agenda.pop_due(1e9) == [(4999.0, Due("start", "g", 0, "", 0))]
