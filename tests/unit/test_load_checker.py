"""The fault run's checker can fail: hand-made histories, each with one kind of violation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.load.checker import Evidence, check, dm_nonce, reminder_nonce

G = "11111111-1111-5111-8111-111111111111"
T = 1_800_000_000.0  # a fixed "now" (unix seconds)
START = T + 600


def iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat()


def event(pos: int, type_: str, command_id: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"pos": pos, "game": G, "type": type_, "command_id": command_id, "actor_id": "1",
            "occurred_at": iso(at), **fields}  # fmt: skip


def action(n: int, kind: str, command_id: str, text: str, t0: float = T) -> dict[str, Any]:
    return {"type": "action", "id": n, "kind": kind, "via": "discord", "user": "7", "game": G,
            "command_id": command_id, "t0": t0, "t1": t0 + 1,
            "answer": {"type": "reply", "text": text}}  # fmt: skip


def clean() -> Evidence:
    """A game of 2 seats: a, b join, c waits, a leaves, c is promoted and told; the reminder
    one minute before the start goes to b and c; the announcement is current."""
    events = [
        event(1, "game.created.v1", "api:h:1", T, scheduled_at=iso(START),
              details={"max_players": 2, "reminder_minutes": [1]}),
        event(2, "game.player_joined.v1", "discord:10", T + 1, user_id="a", joined_count=1,
              max_players=2),
        event(3, "game.player_joined.v1", "discord:11", T + 2, user_id="b", joined_count=2,
              max_players=2),
        event(4, "game.player_waitlisted.v1", "discord:12", T + 3, user_id="c", position=1),
        event(5, "game.player_left.v1", "discord:13", T + 4, user_id="a", from_waitlist=False),
        event(6, "game.player_promoted.v1", "discord:13", T + 4, user_id="c", joined_count=2,
              max_players=2),
        event(7, "game.direct_message_recorded.v1", "discord:dm:EVENTS:6:c", T + 5,
              user_id="c", kind="promoted", source_position=6, status="sent"),
    ]  # fmt: skip
    for n, user in enumerate(("b", "c")):
        key = {"user_id": user, "offset_minutes": 1, "scheduled_at": iso(START)}
        events.append(event(8 + 2 * n, "game.reminder_intent_recorded.v1", f"r:{user}",
                            START - 60, **key))  # fmt: skip
        events.append(event(9 + 2 * n, "game.reminder_recorded.v1", f"rr:{user}", START - 59,
                            status="sent", **key))  # fmt: skip
    actions = [
        {**action(1, "create", "api:h:1", ""), "via": "api",
         "answer": {"type": "http", "status": 201}},
        action(2, "join", "discord:10", "You're in — 1/2."),
        action(3, "join", "discord:11", "You're in — 2/2."),
        action(4, "join", "discord:12", "The game is full: you are #1 on the waitlist."),
        action(5, "leave", "discord:13", "You left the game. <@c> moved up from the waitlist."),
        action(6, "join", "discord:14", "You're already in this game."),
    ]  # fmt: skip
    dms = [{"user_id": "c", "nonce": dm_nonce("EVENTS", 6, "c"), "content": "Good news!"}]
    dms += [{"user_id": u, "nonce": reminder_nonce(G, 1, u, int(START)), "content": "Reminder"}
            for u in ("b", "c")]  # fmt: skip
    shown = {"content": "x", "embeds": [{"title": "Catan"}], "components": []}
    return Evidence(
        actions=actions, faults=[], events=events, dms=dms,
        announcements=[{"game_id": G, "shown": shown, "expected": copy.deepcopy(shown)}],
        replay={"exit": 0, "output": "no difference"}, stream="EVENTS", end=START + 300,
    )  # fmt: skip


def test_a_clean_history_passes() -> None:
    report = check(clean())
    assert report.ok, report.lines()
    assert set(report.counts.values()) == {0}


def violations(ev: Evidence) -> dict[str, int]:
    return {name: n for name, n in check(ev).counts.items() if n}


def test_an_acknowledged_join_without_its_event_is_lost() -> None:
    ev = clean()
    ev.actions.append(action(7, "join", "discord:99", "You're in — 2/2."))
    assert violations(ev) == {"lost": 1}


def test_an_unacknowledged_action_may_have_no_effect_but_not_two() -> None:
    ev = clean()
    ev.actions.append({**action(7, "join", "discord:99", ""), "answer": {"type": "silence"}})
    ev.faults.append({"kind": "kill:bot", "t0": T, "t1": T + 5})
    assert violations(ev) == {}
    ev.events.append(event(20, "game.player_left.v1", "discord:99", T + 9, user_id="b",
                           from_waitlist=False))  # fmt: skip
    ev.events.append(event(21, "game.player_left.v1", "discord:13", T + 9, user_id="b",
                           from_waitlist=False))  # fmt: skip
    assert violations(ev) == {"doubled": 1}


def test_a_refusal_that_was_applied_anyway() -> None:
    ev = clean()
    ev.actions[-1] = action(6, "join", "discord:14", "You're already in this game.")
    ev.events.append(event(20, "game.player_waitlisted.v1", "discord:14", T + 9, user_id="a",
                           position=1))  # fmt: skip
    assert violations(ev) == {"refused but applied": 1}


def test_an_overbooked_intermediate_state_is_found() -> None:
    ev = clean()
    ev.events.insert(3, event(4, "game.player_joined.v1", "discord:15", T + 2, user_id="z",
                              joined_count=3, max_players=2))  # fmt: skip
    got = violations(ev)
    assert got["overbooked"] >= 1


def test_a_promotion_that_skips_the_head_of_the_waitlist_is_not_fifo() -> None:
    ev = clean()
    ev.events.insert(4, event(4, "game.player_waitlisted.v1", "discord:16", T + 3, user_id="d",
                              position=2))  # fmt: skip
    ev.events[6] = {**ev.events[6], "user_id": "d"}  # d promoted although c waited first
    assert "waitlist not FIFO" in violations(ev)


def test_a_promotion_told_twice_or_never() -> None:
    twice = clean()
    twice.dms.append(copy.deepcopy(twice.dms[0]))
    assert violations(twice) == {"promotion not told once": 1, "duplicate DMs": 1}
    never = clean()
    never.events = [e for e in never.events if e["type"] != "game.direct_message_recorded.v1"]
    never.dms = never.dms[1:]
    assert violations(never) == {"promotion not told once": 1}


def test_a_replay_difference_fails() -> None:
    ev = clean()
    ev.replay = {"exit": 1, "output": "1 difference(s) with the live schema muster"}
    assert violations(ev) == {"replay differences": 1}


def test_a_stale_announcement_fails() -> None:
    ev = clean()
    ev.announcements[0]["shown"]["embeds"] = [{"title": "Catan (old)"}]
    assert violations(ev) == {"stale announcements": 1}


def test_reminders_duplicated_after_cancel_or_missed() -> None:
    duplicated = clean()
    duplicated.events.append({**duplicated.events[-1], "pos": 30})
    duplicated.dms.append(copy.deepcopy(duplicated.dms[-1]))
    assert violations(duplicated) == {"duplicate reminders": 2, "duplicate DMs": 1}

    after_cancel = clean()
    after_cancel.events.insert(7, event(7, "game.cancelled.v1", "api:h:2", START - 120,
                                        previous_status="scheduled"))  # fmt: skip
    assert violations(after_cancel) == {"reminders after cancel": 2}  # two intents after it

    in_flight = clean()  # decided before the cancellation, recorded sent after it: noted
    in_flight.events.insert(10, event(10, "game.cancelled.v1", "api:h:2", START - 60,
                                      previous_status="scheduled"))  # fmt: skip
    report = check(in_flight)
    assert report.ok, report.lines()
    assert report.notes["reminders in flight at a cancellation"] == 1

    missed = clean()
    missed.events = [e for e in missed.events if not e["type"].startswith("game.reminder")]
    missed.dms = missed.dms[:1]
    assert violations(missed) == {"due reminders missed": 2}

    left_while_deciding = clean()  # b leaves 0.3 s after the due time, before its intent
    left_while_deciding.events = [
        e
        for e in left_while_deciding.events
        if e.get("user_id") != "b" or "remind" not in e["type"]
    ]
    left_while_deciding.events.append(event(30, "game.player_left.v1", "discord:20", START - 59.7,
                                            user_id="b", from_waitlist=False))  # fmt: skip
    left_while_deciding.dms = [d for d in left_while_deciding.dms if d["user_id"] != "b"]
    assert check(left_while_deciding).ok

    left_later = clean()  # b was still seated 10 s after the due time: its reminder is missed
    left_later.events = [
        e for e in left_later.events if e.get("user_id") != "b" or "remind" not in e["type"]
    ]
    left_later.events.append(event(30, "game.player_left.v1", "discord:20", START - 50,
                                   user_id="b", from_waitlist=False))  # fmt: skip
    left_later.dms = [d for d in left_later.dms if d["user_id"] != "b"]
    assert violations(left_later) == {"due reminders missed": 1}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"type": "reply", "text": 'Traceback (most recent call last):\n  File "x", line 1'},
         {"tracebacks": 1}),
        ({"type": "silence"}, {"silences": 1}),
        ({"type": "reply", "text": "KeyError: 'game'"}, {"unrecognised replies": 1}),
        ({"type": "http", "status": 409, "code": "made_up"}, {"undocumented errors": 1}),
        ({"type": "http", "status": 409, "code": "game_full"}, {}),
    ],
)  # fmt: skip
def test_what_people_saw(answer: dict[str, Any], expected: dict[str, int]) -> None:
    ev = clean()
    ev.actions.append({**action(7, "join", "discord:98", ""), "answer": answer})
    assert violations(ev) == expected


def test_a_silence_during_a_bot_outage_is_excused() -> None:
    ev = clean()
    ev.actions.append({**action(7, "join", "discord:98", "", t0=T + 100),
                       "answer": {"type": "silence"}})  # fmt: skip
    ev.faults.append({"kind": "kill:bot", "t0": T + 110, "t1": T + 120})
    assert violations(ev) == {}
    ev.faults[-1] = {"kind": "kill:api", "t0": T + 110, "t1": T + 120}
    assert violations(ev) == {"silences": 1}


def test_a_cap_lowered_after_the_start_is_noted_not_counted() -> None:
    ev = clean()
    ev.events.append(event(20, "game.started.v2", "start:g", START, started_by="schedule"))
    ev.events.append(event(21, "game.updated.v1", "api:h:3", START + 1,
                           details={"max_players": 1}, changed=["max_players"]))  # fmt: skip
    report = check(ev)
    assert report.ok, report.lines()
    assert report.notes["over the cap after the start (cap lowered in progress)"] == 1
