"""What happens at due times, on an injected clock: DMs, records, starts and ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from domain.commands import (
    SYSTEM_USER_ID,
    MuteGuildReminders,
    MuteReminders,
    RecordAnnouncement,
    RecordReminderIntent,
    StartGame,
)
from domain.events import (
    GameCompleted,
    GameStarted,
    ReminderIntentRecorded,
    ReminderRecorded,
)
from projections.scheduler import ManualClock, Scheduler, SchedulerMetrics, handle_mute
from projections.scheduler.agenda import Due
from projections.scheduler.message import nonce_of, start_of
from tests.unit.scheduler.harness import GUILD, HOST, Harness, until

H = timedelta(hours=1)
M = timedelta(minutes=1)


async def test_a_reminder_goes_out_at_its_time_once_with_title_times_rules_and_link(
    harness: Harness,
) -> None:
    h = harness
    game = await h.create(2 * H, players=("7", "8"), rules="Bring dice", reminder_minutes=(60,))
    start = int((h.now() + 2 * H).timestamp())
    await h.send(
        RecordAnnouncement(
            command_id=h.cid(),
            user_id=SYSTEM_USER_ID,
            game_id=game,
            channel_id="2000",
            message_id="555",
        )
    )
    assert await h.advance(H - timedelta(seconds=1)) == 0
    assert h.mailbox.messages == []
    await h.advance(timedelta(seconds=1))
    [dm] = h.mailbox.to("7")
    assert len(h.mailbox.to("8")) == 1
    assert f"<t:{start}:R>" in dm["content"]
    assert f"<t:{start}:F>" in dm["content"]
    [embed] = dm["embeds"]
    assert embed["title"] == "Catan"
    assert embed["fields"] == [{"name": "Rules", "value": "Bring dice"}]
    assert embed["url"] == f"https://discord.com/channels/{GUILD}/2000/555"
    buttons = dm["components"][0]["components"]
    assert buttons[0]["custom_id"] == f"muster:mute:{game}"
    assert buttons[1]["custom_id"] == f"muster:muteguild:{GUILD}"
    assert buttons[2]["url"] == embed["url"]
    # The two DMs go out concurrently: each is recorded with its own message, in either order.
    sent_as = {user: f"message {i}" for i, (user, _, _) in enumerate(h.mailbox.messages)}
    assert sorted(sent_as.values()) == ["message 0", "message 1"]
    assert h.reminders(game) == {(60, u): ("sent", sent_as[u]) for u in ("7", "8")}
    kinds = [
        type(e) for e in h.history(game) if isinstance(e, ReminderIntentRecorded | ReminderRecorded)
    ]
    assert kinds.index(ReminderIntentRecorded) < kinds.index(ReminderRecorded)
    assert h.metrics.value("muster_scheduler_reminders_total", status="sent") == 2
    await h.advance(10 * M)
    assert len(h.mailbox.messages) == 2


async def test_without_an_announcement_there_is_no_link(harness: Harness) -> None:
    h = harness
    await h.create(2 * H, players=("7",), reminder_minutes=(60,))
    await h.advance(H)
    [dm] = h.mailbox.to("7")
    assert "url" not in dm["embeds"][0]
    assert len(dm["components"][0]["components"]) == 2


async def test_start_and_complete_on_time_as_muster(harness: Harness) -> None:
    h = harness
    game = await h.create(H, players=("7",), reminder_minutes=(15,), duration_minutes=30)
    await h.advance(H - timedelta(seconds=1))
    assert not any(isinstance(e, GameStarted) for e in h.history(game))
    await h.advance(timedelta(seconds=1))
    [started] = [e for e in h.history(game) if isinstance(e, GameStarted)]
    assert (started.command_id, started.actor_id) == (f"start:{game}", SYSTEM_USER_ID)
    assert started.occurred_at == h.now()
    await h.advance(30 * M)
    [completed] = [e for e in h.history(game) if isinstance(e, GameCompleted)]
    assert completed.command_id == f"complete:{game}"
    assert game not in h.board.games
    assert len(h.board.agenda) == 0


async def test_a_late_joiner_gets_the_reminders_still_ahead(harness: Harness) -> None:
    h = harness
    game = await h.create(2 * H, players=("7",), reminder_minutes=(60, 15))
    await h.advance(90 * M)  # 30 minutes before: the 60-minute reminder went to 7
    await h.join(game, "9")
    await h.advance(timedelta(0))
    assert h.mailbox.to("9") == []
    assert h.reminders(game)[(60, "9")][0] == "skipped"
    assert "joined after" in h.reminders(game)[(60, "9")][1]
    await h.advance(15 * M)
    assert len(h.mailbox.to("9")) == 1
    assert h.reminders(game)[(15, "9")][0] == "sent"
    assert len(h.mailbox.to("7")) == 2


async def test_a_game_created_inside_its_reminder_window_gets_one_reminder(
    harness: Harness,
) -> None:
    h = harness
    game = await h.create(2 * M, players=("7", "8"), reminder_minutes=(60, 15))
    await h.advance(timedelta(0))
    assert len(h.mailbox.to("7")) == 1
    assert len(h.mailbox.to("8")) == 1
    assert h.reminders(game)[(15, "7")][0] == "sent"
    assert h.reminders(game)[(60, "7")] == ("skipped", "a later reminder was due at the same time")


async def test_missed_while_down_sent_late_if_not_started_else_skipped(harness: Harness) -> None:
    h = harness
    waiting = await h.create(2 * H, players=("7",), reminder_minutes=(60,))
    started = await h.create(2 * H, players=("8",), reminder_minutes=(60,))
    overrun = await h.create(2 * H, players=("9",), reminder_minutes=(60,))
    h.clock.advance((H + 10 * M).total_seconds())  # down across the reminders
    await h.send(StartGame(command_id=h.cid(), user_id=HOST, game_id=started))
    await h.advance(timedelta(0))
    assert len(h.mailbox.to("7")) == 1  # late, the game has not started
    assert h.reminders(waiting)[(60, "7")][0] == "sent"
    assert h.mailbox.to("8") == []
    assert h.reminders(started)[(60, "8")][0] == "skipped"
    h.clock.advance(2 * H.total_seconds())  # down across the next start as well
    # sent late beside "7"'s, concurrently: recorded with whichever message it got
    [nine] = [i for i, (user, _, _) in enumerate(h.mailbox.messages) if user == "9"]
    assert h.reminders(overrun) == {(60, "9"): ("sent", f"message {nine}")}
    await h.advance(timedelta(0))
    assert any(isinstance(e, GameStarted) for e in h.history(overrun))


async def test_the_start_time_passed_while_down_counts_as_started(harness: Harness) -> None:
    h = harness
    game = await h.create(H, players=("7",), reminder_minutes=(30,))
    h.clock.advance((H + M).total_seconds())
    await h.advance(timedelta(0))
    assert h.mailbox.messages == []
    status, detail = h.reminders(game)[(30, "7")]
    assert status == "skipped"
    assert "already started" in detail
    assert any(isinstance(e, GameStarted) for e in h.history(game))


async def test_muted_players_are_recorded_as_skipped(harness: Harness) -> None:
    h = harness
    game = await h.create(2 * H, players=("7", "8", "9"), reminder_minutes=(60,))
    await h.send(MuteReminders(command_id=h.cid(), user_id="7", game_id=game))
    await h.send(MuteGuildReminders(command_id=h.cid(), user_id="8", guild_id=GUILD))
    await h.advance(H)
    assert [u for u, _, _ in h.mailbox.messages] == ["9"]
    assert h.reminders(game)[(60, "7")] == ("skipped", "the player muted these reminders")
    assert h.reminders(game)[(60, "8")] == ("skipped", "the player muted these reminders")


async def test_the_mute_buttons(harness: Harness) -> None:
    h = harness
    game = await h.create(2 * H, players=("7",))
    reply = await handle_mute(h.port, "7", f"muster:mute:{game}", "111")
    assert reply == "You will get no more reminders about this game."
    assert await handle_mute(h.port, "7", f"muster:mute:{game}", "112") == (
        "Reminders were already muted; nothing changed."
    )
    assert await handle_mute(h.port, "7", f"muster:mute:{game}", "111") == reply  # redelivery
    reply = await handle_mute(h.port, "7", f"muster:muteguild:{GUILD}", "113")
    assert reply == "You will get no more reminders about any game in this server."
    assert "not a game id" in await handle_mute(h.port, "7", "muster:mute:nope", "114")
    assert "not one of Muster's" in await handle_mute(h.port, "7", "muster:join:x", "115")
    h.sync()
    assert "7" in h.board.games[game].muted
    assert "7" in h.board.guild_muted[GUILD]


async def test_a_member_who_refuses_dms_is_recorded_failed_and_not_retried(
    harness: Harness,
) -> None:
    h = harness
    game = await h.create(2 * H, players=("7",), reminder_minutes=(60, 15))
    h.mailbox.refusing.add("7")
    await h.advance(H)
    assert h.reminders(game)[(60, "7")] == ("failed", "50007: Cannot send messages to this user")
    await h.advance(10 * M)
    assert h.mailbox.sends == 1


async def test_discord_down_is_retried_with_backoff_then_sent_once(harness: Harness) -> None:
    h = harness
    game = await h.create(2 * H, players=("7",), reminder_minutes=(60,))
    h.mailbox.down = True
    await h.advance(H)
    assert h.reminders(game) == {}
    assert h.board.agenda.next_at() == h.clock.now() + 1.0
    await h.advance(timedelta(seconds=1))
    assert h.mailbox.sends == 2
    assert h.board.agenda.next_at() == h.clock.now() + 2.0
    h.mailbox.down = False
    await h.advance(timedelta(seconds=2))
    assert len(h.mailbox.to("7")) == 1
    assert h.reminders(game)[(60, "7")][0] == "sent"
    assert h.mailbox.finds == 2  # the intent was there: it looked before each resend


async def test_after_a_crash_between_send_and_record_the_dm_is_found_not_resent(
    harness: Harness,
) -> None:
    h = harness
    game = await h.create(2 * H, players=("7",), reminder_minutes=(60,))
    due = Due("remind", game, 60, "7", int((h.now() + 2 * H).timestamp()))
    h.clock.advance(H.total_seconds())
    # the crashed process: intent recorded, DM sent, result never recorded
    await h.send(
        RecordReminderIntent(
            command_id=f"reminder-intent:{due.key}",
            user_id=SYSTEM_USER_ID,
            game_id=game,
            recipient_id="7",
            offset_minutes=60,
            scheduled_at=start_of(due),
        )
    )
    await h.mailbox.send("7", {"content": "x"}, nonce_of(due))
    await h.advance(timedelta(0))
    assert len(h.mailbox.messages) == 1
    assert h.reminders(game)[(60, "7")] == ("sent", "message 0 (found after a restart)")


async def test_two_schedulers_record_and_send_once(harness: Harness) -> None:
    h = harness
    other = Scheduler(h.port, h.mailbox, clock=h.clock, metrics=SchedulerMetrics())
    game = await h.create(2 * H, players=tuple(str(u) for u in range(10, 30)), max_players=20)
    for n in h.app.recorder.select_notifications(1, 10_000):
        other.board.apply(str(n.originator_id), h.mapper.decode(n.topic, n.state))
    other.board.refresh_all()
    h.clock.advance(H.total_seconds())
    await asyncio.gather(h.scheduler.tick(), other.tick())
    h.sync()
    assert len(h.mailbox.messages) == 20
    assert len(h.reminders(game)) == 20


async def test_an_unknown_game_is_logged_and_skipped(harness: Harness) -> None:
    h = harness
    ghost = "00000000-0000-4000-8000-000000000000"
    h.board.agenda.put(Due("start", ghost, 0, "", 0), 0.0)
    h.board.agenda.put(Due("remind", ghost, 15, "7", 900), 0.0)
    assert await h.scheduler.tick() == 2
    assert len(h.board.agenda) == 0
    assert h.scheduler.last_error == ""


class RecordingClock(ManualClock):
    """Records how long the scheduler's main loop asks to sleep."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.timeouts: list[float | None] = []
        self.loop_wake: asyncio.Event | None = None

    async def wait(self, wake: asyncio.Event, timeout: float | None) -> None:
        if wake is self.loop_wake:
            self.timeouts.append(timeout)
        await super().wait(wake, timeout)


async def test_the_loop_sleeps_exactly_until_the_next_due_time(harness: Harness) -> None:
    h = harness
    clock = RecordingClock(h.clock.now())
    h.clock = clock
    h.scheduler = Scheduler(h.port, h.mailbox, clock=clock, metrics=SchedulerMetrics())
    clock.loop_wake = h.scheduler._wake
    h.position = 0
    game = await h.create(H + timedelta(seconds=30), players=("7",), reminder_minutes=(60,))
    stop = asyncio.Event()
    loop = asyncio.create_task(h.scheduler.run(stop))
    await until(lambda: clock.timeouts)
    assert clock.timeouts[-1] == 30.0  # not a polling interval: the reminder's own time
    clock.advance(30.0)
    await until(lambda: h.mailbox.messages)
    stop.set()
    await asyncio.wait_for(loop, 5)
    h.sync()
    assert h.reminders(game)[(60, "7")][0] == "sent"
    assert clock.timeouts[-1] == 60.0  # only the wall-clock guard once nothing is due soon


async def test_dm_channels_are_opened_ahead_for_reminders_within_the_hour(
    harness: Harness,
) -> None:
    h = harness
    await h.create(H + 30 * M, players=("7", "8"), reminder_minutes=(60,))  # due in 30 min
    await h.create(3 * H, players=("9",), reminder_minutes=(15,))  # due in 2 h 45 min
    stop = asyncio.Event()
    loop = asyncio.create_task(h.scheduler.run(stop))
    await until(lambda: len(h.mailbox.prepared) >= 2)
    assert sorted(h.mailbox.prepared) == ["7", "8"]
    assert h.mailbox.messages == []
    stop.set()
    await asyncio.wait_for(loop, 5)
