"""MusterApp: idempotency, optimistic concurrency, caching and thread safety."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, cast

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.aggregates import Aggregate, Recorded, replay
from domain.app import MusterApp
from domain.commands import CreateGame, JoinGame, LeaveGame
from domain.errors import AlreadyJoined, ConcurrencyConflict, InvalidCommand
from domain.events import PlayerJoined, PlayerWaitlisted
from tests.unit.domain.scenario import (
    CHANNEL,
    GAME,
    GAME_AGG,
    GUILD,
    HOST,
    LATER,
    MANAGE_GUILD,
    NOW,
    Scenario,
)


def new_game(app: MusterApp, max_players: int = 10, **fields: Any) -> None:
    app.handle(
        CreateGame(
            command_id="create",
            user_id=HOST,
            permissions=MANAGE_GUILD,
            guild_id=GUILD,
            channel_id=CHANNEL,
            title="Game night",
            scheduled_at=LATER,
            max_players=max_players,
            game_id=GAME,
            **fields,
        )
    )


def join(user: str, command_id: str | None = None) -> JoinGame:
    return JoinGame(command_id=command_id or f"join-{user}", user_id=user, game_id=GAME)


def sharing_log(app: MusterApp) -> MusterApp:
    """A second app (another process, in effect) on the same in-memory log."""
    other = MusterApp(clock=app.clock)
    other.events.recorder = app.events.recorder
    other.recorder = app.recorder
    return other


def test_a_repeated_command_returns_the_first_outcome_and_stores_nothing(
    scenario: Scenario,
) -> None:
    app = scenario.app
    new_game(app, max_players=1)
    first = app.handle(join("7"))
    stored = len(app.history(GAME_AGG))
    again = app.handle(join("7"))
    assert again == msgspec.structs.replace(first, replayed=True, notification_ids=())
    assert first.notification_ids
    assert not first.replayed
    assert len(app.history(GAME_AGG)) == stored
    waitlisted = app.handle(join("8"))
    assert app.handle(join("8")).waitlist_position == waitlisted.waitlist_position == 1


def test_repeats_are_recognised_long_after_and_after_a_restart(scenario: Scenario) -> None:
    app = scenario.app
    new_game(app, max_players=2)
    first = app.handle(join("7"))
    for user in range(100, 150):
        app.handle(join(str(user)))
    scenario.now = NOW + timedelta(days=30)
    assert app.handle(join("7")).replayed
    restarted = sharing_log(app)
    replay = restarted.handle(join("7"))
    assert replay == msgspec.structs.replace(first, replayed=True, notification_ids=())


def test_memory_of_commands_is_bounded(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Aggregate, "REMEMBERED_COMMANDS", 3)
    app = scenario.app
    new_game(app)
    app.handle(join("7"))
    for user in "89AB":
        app.handle(join(str(ord(user))))
    aggregate = app.aggregate(GAME_AGG)
    assert aggregate is not None
    assert len(aggregate.recent) == 3
    with pytest.raises(AlreadyJoined):
        app.handle(join("7"))


def test_a_repeated_command_of_several_events_returns_them_all(scenario: Scenario) -> None:
    app = scenario.app
    new_game(app, max_players=1)
    app.handle(join("7"))
    app.handle(join("8"))  # waitlisted
    app.handle(join("9"))
    first = app.handle(LeaveGame(command_id="leave-7", user_id="7", game_id=GAME))
    assert first.promoted == ("8",)
    app.handle(join("10"))
    again = app.handle(LeaveGame(command_id="leave-7", user_id="7", game_id=GAME))
    assert again == msgspec.structs.replace(first, replayed=True, notification_ids=())


def test_remembered_commands_keep_their_versions_not_their_events(scenario: Scenario) -> None:
    """A cached game's memory of its commands must not be its whole history (every process
    that handles commands caches up to 10,000 games)."""
    app = scenario.app
    new_game(app, max_players=100)
    for user in range(300):
        app.handle(join(str(10**17 + user)))
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        aggregate = replay(None, cast("Iterator[Recorded]", app.events.get(GAME_AGG)))
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert aggregate is not None
    assert len(aggregate.recent) == 301
    assert kept / 301 < 350  # bytes per command, its state included (570 with its events)


def test_command_id_is_passed_to_the_recorder(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = scenario.app.events.recorder
    original = recorder.insert_events
    seen: list[dict[str, Any]] = []

    def spy(stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        seen.append(kwargs)
        return original(stored_events, **kwargs)

    monkeypatch.setattr(recorder, "insert_events", spy)
    new_game(scenario.app)
    scenario.app.handle(join("7", command_id="interaction-1"))
    assert [kw.get("command_id") for kw in seen] == ["create", "interaction-1"]


def test_a_cached_game_is_not_read_from_the_log_on_the_happy_path(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = scenario.app
    app.SETTINGS_MAX_AGE = 3600.0
    new_game(app, max_players=3)
    app.handle(join("7"))
    reads: list[str] = []
    original = app.events.recorder.select_events

    def spy(originator_id: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        reads.append(str(originator_id))
        return original(originator_id, **kwargs)

    monkeypatch.setattr(app.events.recorder, "select_events", spy)
    for user in range(10, 20):
        app.handle(join(str(user)))
    app.handle(LeaveGame(command_id="leave", user_id="7", game_id=GAME))
    assert reads == []


def test_another_writer_is_detected_by_the_append_and_the_command_decided_again(
    scenario: Scenario,
) -> None:
    app = scenario.app
    new_game(app, max_players=2)
    other = sharing_log(app)
    app.handle(join("7"))
    assert other.handle(join("8")).joined_count == 2, "other process catches up first"
    outcome = app.handle(join("9"))  # app's cache is stale: it believes one seat is free
    assert (outcome.result, outcome.waitlist_position) == ("waitlisted", 1)
    assert [type(e) for e in app.history(GAME_AGG)[-3:]] == [
        PlayerJoined,
        PlayerJoined,
        PlayerWaitlisted,
    ]


def test_a_refusal_is_only_given_after_catching_up(scenario: Scenario) -> None:
    app = scenario.app
    new_game(app)
    other = sharing_log(app)
    app.handle(join("1"))  # app caches the game
    other.handle(join("7"))
    outcome = app.handle(LeaveGame(command_id="leave-7", user_id="7", game_id=GAME))
    assert outcome.result == "left", "a stale cache must not answer 'you are not in this game'"
    with pytest.raises(AlreadyJoined):
        other.handle(join("1", command_id="again"))


def test_a_command_repeated_on_another_process_is_recognised(scenario: Scenario) -> None:
    app = scenario.app
    new_game(app)
    other = sharing_log(app)
    other.handle(join("1"))  # caches the game on `other`
    first = app.handle(join("7"))
    assert other.handle(join("7")) == msgspec.structs.replace(
        first, replayed=True, notification_ids=()
    )


def test_endless_conflicts_end_in_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    app = MusterApp(clock=lambda: NOW)
    rival = sharing_log(app)
    new_game(app)
    insert = app.events.recorder.insert_events
    rivals = iter(range(5000, 6000))
    rival_writing = []

    def lose_to_the_rival(stored: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not rival_writing:  # the rival shares this recorder: let its own append through
            rival_writing.append(True)
            rival.handle(join(str(next(rivals))))  # another process appends just before us
            rival_writing.clear()
        return insert(stored, **kwargs)

    monkeypatch.setattr(app.events.recorder, "insert_events", lose_to_the_rival)
    with pytest.raises(ConcurrencyConflict) as conflict:
        app.handle(join("7"))
    assert conflict.value.attempts == MusterApp.MAX_ATTEMPTS
    assert conflict.value.aggregate_id == GAME_AGG
    assert "7" not in app.game(GAME).joined
    assert len(app.game(GAME).joined) == MusterApp.MAX_ATTEMPTS


def test_a_command_id_used_by_another_command_is_reported(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_game(scenario.app)
    insert = scenario.app.events.recorder.insert_events

    def refuse_repeats(stored: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if kwargs.get("command_id") == "used-elsewhere":  # as JetStream's Nats-Msg-Id dedupe
            raise IntegrityError("command 'used-elsewhere' was recorded before")
        return insert(stored, **kwargs)

    monkeypatch.setattr(scenario.app.events.recorder, "insert_events", refuse_repeats)
    with pytest.raises(InvalidCommand) as reused:
        scenario.app.handle(join("7", command_id="used-elsewhere"))
    assert reused.value.field == "command_id"
    assert scenario.app.handle(join("7")).result == "joined"


def test_concurrent_joins_from_threads_never_overbook(scenario: Scenario) -> None:
    app = scenario.app
    new_game(app, max_players=10)
    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(lambda u: app.handle(join(str(u))), range(1000, 1200)))
    game = app.game(GAME)
    assert len(game.joined) == 10
    assert len(game.waitlist) == 190
    assert sorted(o.waitlist_position for o in outcomes if o.waitlist_position) == list(
        range(1, 191)
    )
    assert {o.user_id for o in outcomes if o.result == "joined"} == set(game.joined)
    ids = [i for o in outcomes for i in o.notification_ids]
    assert len(ids) == len(set(ids)) == 200


def test_the_clock_must_be_timezone_aware() -> None:
    app = MusterApp(clock=lambda: datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        new_game(app)


def test_a_game_unused_for_the_idle_time_leaves_the_cache_and_is_read_again(
    scenario: Scenario,
) -> None:
    now = [0.0]
    app = MusterApp(clock=scenario.app.clock, cache_timer=lambda: now[0])
    new_game(app)
    first = app.handle(join("7"))
    cache = app.repository.cache
    assert cache is not None
    held = weakref.ref(cache.get(GAME_AGG))
    now[0] = app.CACHE_IDLE - 1
    app.handle(join("8"))  # used: its idle time starts again
    now[0] += app.CACHE_IDLE - 1
    assert GAME_AGG in cache.cache
    now[0] += 2
    assert GAME_AGG not in cache.cache
    app.handle(CreateGame(command_id="other", user_id=HOST, permissions=MANAGE_GUILD,
                          guild_id=GUILD, channel_id=CHANNEL, title="Another", scheduled_at=LATER,
                          game_id="5b2e8c1a-5d6f-4e7a-8b9c-0d1e2f3a4b5c"))  # fmt: skip
    gc.collect()
    assert held() is None, "the idle game's memory is released when another is stored"
    # read from the log again, with the commands it remembers
    assert app.handle(join("7")) == msgspec.structs.replace(
        first, replayed=True, notification_ids=()
    )
    assert app.handle(join("9")).joined_count == 3
    assert GAME_AGG in cache.cache
