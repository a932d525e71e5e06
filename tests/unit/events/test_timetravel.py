"""Time travel: a game at every version equals the domain's own aggregate at that version."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.app import MusterApp
from domain.commands import CreateGame
from domain.errors import DomainError
from gateways.jetstream.wire import Record
from projections.timetravel import BadPoint, fold, game_at, parse_point, steps_of, steps_until
from tests.integration.test_projection_properties import MANAGER, command, step


def history(app: MusterApp) -> list[Record]:
    """Every stored event with its log position (POPO notification ids stand for sequences)."""
    return [
        Record(StoredEvent(n.originator_id, n.originator_version, n.topic, n.state), n.id)
        for n in app.recorder.select_notifications(1, 100_000)  # type: ignore[attr-defined]
    ]


@settings(max_examples=40, deadline=None)
@given(
    cap=st.integers(1, 4),
    steps=st.lists(st.tuples(st.booleans(), step), max_size=30),
)
def test_game_at_every_version_equals_the_aggregate_at_that_version(
    cap: int, steps: list[tuple[bool, tuple[str, Any]]]
) -> None:
    app = MusterApp()
    when = datetime.now(UTC) + timedelta(days=1)
    games = []
    for n in range(2):  # two games interleaved: sequences and versions differ
        games.append(app.handle(CreateGame(
            command_id=f"create{n}", user_id="100", permissions=MANAGER, guild_id="1",
            channel_id="2", title=f"T{n}", scheduled_at=when, max_players=cap,
        )).game_id)  # fmt: skip
    for index, (second, (kind, arg)) in enumerate(steps):
        with contextlib.suppress(DomainError):
            app.handle(command(games[second], index, kind, arg))
    records = history(app)
    for game in games:
        aggregate_id = f"game.{game}"
        mine = steps_of(r for r in records if r.event.originator_id == aggregate_id)
        for n, point in enumerate(mine, start=1):
            expected = app.repository.get(aggregate_id, version=point.version).state
            assert game_at(mine, aggregate_id, point.seq) == expected
            assert fold(mine[:n], aggregate_id) == expected
            assert point.version == n
        # a sequence between two of the game's events shows the earlier one's state
        for before, after in itertools.pairwise(mine):
            if after.seq - before.seq > 1:
                assert len(steps_until(mine, after.seq - 1)) == mine.index(before) + 1
        assert game_at(mine, aggregate_id, 0) is None
        assert game_at(mine, aggregate_id, None) == app.repository.get(aggregate_id).state
    app.close()


def test_at_a_time_takes_the_events_that_had_happened() -> None:
    app = MusterApp()
    when = datetime.now(UTC) + timedelta(days=1)
    game = app.handle(CreateGame(
        command_id="c", user_id="100", permissions=MANAGER, guild_id="1", channel_id="2",
        title="T", scheduled_at=when,
    )).game_id  # fmt: skip
    app.handle(command(game, 1, "join", "201"))
    mine = steps_of(history(app))
    created_at = mine[0].event.occurred_at
    assert game_at(mine, f"game.{game}", created_at - timedelta(seconds=1)) is None
    state = game_at(mine, f"game.{game}", created_at)
    assert state is not None
    assert state.joined == [] or mine[1].event.occurred_at == created_at
    app.close()


def test_points_are_sequences_or_times() -> None:
    assert parse_point("12") == 12
    assert parse_point("2026-11-30T18:00:00") == datetime(2026, 11, 30, 18, tzinfo=UTC)
    assert parse_point("2026-11-30T18:00:00Z") == datetime(2026, 11, 30, 18, tzinfo=UTC)
    for bad in ("0", "yesterday", "-3"):
        with pytest.raises(BadPoint, match="neither a stream sequence"):
            parse_point(bad)
