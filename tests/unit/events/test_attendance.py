"""Attendance: the host records no-shows after the game; everyone else seated was present."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.app import MusterApp
from domain.commands import (
    CompleteGame,
    CreateGame,
    JoinGame,
    RecordAttendance,
    StartGame,
)
from domain.errors import InvalidCommand, InvalidStatusChange, NotHost
from domain.events import AttendanceRecorded

HOST, MANAGER = "100", 0x20


@pytest.fixture
def game() -> tuple[MusterApp, str]:
    app = MusterApp()
    game_id = app.handle(CreateGame(
        command_id="c", user_id=HOST, permissions=MANAGER, guild_id="1", channel_id="2",
        title="Catan", scheduled_at=datetime.now(UTC) + timedelta(days=1), max_players=3,
    )).game_id  # fmt: skip
    assert game_id
    for user in ("201", "202", "203", "204"):  # 204 waits
        app.handle(JoinGame(command_id=f"j{user}", user_id=user, game_id=game_id))
    return app, game_id


def record(game_id: str, no_shows: tuple[str, ...], user: str = HOST, n: int = 0) -> Any:
    return RecordAttendance(command_id=f"a{n}", user_id=user, permissions=0, game_id=game_id,
                            no_shows=no_shows)  # fmt: skip


def test_host_records_no_shows_after_the_game(game: tuple[MusterApp, str]) -> None:
    app, game_id = game
    app.handle(StartGame(command_id="s", user_id="0", game_id=game_id))
    app.handle(CompleteGame(command_id="done", user_id="0", game_id=game_id))
    outcome = app.handle(record(game_id, ("202", "202")))
    assert outcome.result == "attendance_recorded"
    assert outcome.message == "Attendance recorded: 2 came, 1 did not."
    event = app.history(f"game.{game_id}")[-1]
    assert isinstance(event, AttendanceRecorded)
    assert (event.present, event.no_shows) == (("201", "203"), ("202",))
    app.handle(record(game_id, (), n=1))  # corrected: the latest record replaces it
    assert app.history(f"game.{game_id}")[-1].no_shows == ()  # type: ignore[attr-defined]


def test_attendance_is_refused_before_the_start_by_others_and_for_strangers(
    game: tuple[MusterApp, str],
) -> None:
    app, game_id = game
    with pytest.raises(InvalidStatusChange, match="cannot be checked for attendance"):
        app.handle(record(game_id, ()))
    app.handle(StartGame(command_id="s", user_id=HOST, permissions=MANAGER, game_id=game_id))
    with pytest.raises(NotHost):
        app.handle(record(game_id, (), user="201"))
    with pytest.raises(InvalidCommand, match="204 did not have a seat"):
        app.handle(record(game_id, ("204",)))
