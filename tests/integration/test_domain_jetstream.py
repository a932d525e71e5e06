"""MusterApp on a real JetStream log: a rush of joins on one game, then leaves."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from domain.app import MusterApp
from domain.commands import CreateGame, JoinGame, LeaveGame
from domain.events import PlayerJoined, PlayerLeft, PlayerPromoted, PlayerWaitlisted
from domain.outcome import Outcome

pytestmark = pytest.mark.integration

USERS = [str(100_000_000_000_000_000 + n) for n in range(1000)]
CAP = 10


@pytest.fixture
def app(event_log_env: dict[str, str]) -> Iterator[MusterApp]:
    muster = MusterApp(env=event_log_env)
    yield muster
    muster.close()


def create_game(app: MusterApp) -> str:
    outcome = app.handle(
        CreateGame(
            command_id="create-rush",
            user_id="1",
            permissions=0x20,
            guild_id="10",
            channel_id="20",
            title="Launch night",
            scheduled_at=datetime.now(UTC) + timedelta(days=1),
            max_players=CAP,
        )
    )
    assert outcome.game_id is not None
    return outcome.game_id


def test_a_thousand_concurrent_joins_then_ten_leaves(
    app: MusterApp, event_log_env: dict[str, str]
) -> None:
    game_id = create_game(app)
    joins = [JoinGame(command_id=f"join-{u}", user_id=u, game_id=game_id) for u in USERS]
    with ThreadPoolExecutor(max_workers=64) as pool:
        outcomes: list[Outcome] = list(pool.map(app.handle, joins))

    assert len(outcomes) == 1000
    joined = sorted(
        (o for o in outcomes if o.result == "joined"), key=lambda o: o.joined_count or 0
    )
    waiting = sorted(
        (o for o in outcomes if o.result == "waitlisted"), key=lambda o: o.waitlist_position or 0
    )
    assert [o.joined_count for o in joined] == list(range(1, CAP + 1))
    assert [o.waitlist_position for o in waiting] == list(range(1, 1000 - CAP + 1))

    # A fresh app (another process) reads the same order back from the log.
    reader = MusterApp(env=event_log_env)
    try:
        game = reader.game(game_id)
        history = reader.history(f"game.{game_id}")
    finally:
        reader.close()
    assert game.joined == [o.user_id for o in joined]
    assert game.waitlist == [o.user_id for o in waiting]
    seats = [e for e in history if isinstance(e, PlayerJoined | PlayerWaitlisted)]
    assert len(history) == 1 + 1000, "one created event, then exactly one event per join"
    assert sorted(e.user_id for e in seats) == sorted(USERS), "nobody stored twice"
    notification_ids = [n for o in outcomes for n in o.notification_ids]
    assert len(set(notification_ids)) == 1000

    # Every join repeated: the first outcomes come back and nothing new is stored.
    with ThreadPoolExecutor(max_workers=64) as pool:
        repeats = list(pool.map(app.handle, joins))
    assert repeats == [
        msgspec.structs.replace(o, replayed=True, notification_ids=()) for o in outcomes
    ]
    assert len(app.history(f"game.{game_id}")) == 1001

    # Ten seated players leave at once: the head of the waitlist moves up, in order.
    leaving = [
        LeaveGame(command_id=f"leave-{o.user_id}", user_id=o.user_id or "", game_id=game_id)
        for o in joined
    ]
    with ThreadPoolExecutor(max_workers=10) as pool:
        left = list(pool.map(app.handle, leaving))
    assert [o.result for o in left] == ["left"] * CAP
    promoted = [u for o in left for u in o.promoted]
    expected = [o.user_id for o in waiting[:CAP]]
    assert sorted(promoted) == sorted(expected)
    tail = app.history(f"game.{game_id}")[1001:]
    assert [e.user_id for e in tail if isinstance(e, PlayerPromoted)] == expected
    assert sum(isinstance(e, PlayerLeft) for e in tail) == CAP
    final = app.game(game_id)
    assert final.joined == expected
    assert final.waitlist == [o.user_id for o in waiting[CAP:]]
