"""A rebuild folds many events per transaction; it must equal the projection built event by event.

The live projector here commits after every single event (``max_batch=1``); ``muster replay``'s
rebuild folds up to :data:`projections.rebuild_workers.FILL` events in memory per transaction and
writes each game once. The log mixes every kind of change a game's rows go through.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from nats.aio.client import Client as NATS

from domain.app import MusterApp
from domain.commands import (
    AddPlaceholder,
    CancelGame,
    ConfigureChannel,
    ConfigureGuild,
    CreateGame,
    JoinGame,
    LeaveGame,
    RecordReminder,
    RemovePlaceholder,
    RescheduleGame,
    UpdateGame,
)
from domain.errors import DomainError
from projections.replay import rebuild_and_compare
from projections.runner import ProjectionRunner
from tests.integration.conftest import layout_of

pytestmark = [pytest.mark.integration]

MANAGER = 0x20 | 0x10
START = datetime(2030, 1, 1, tzinfo=UTC)
MIXED = {
    f"{name}.v1"
    for name in (
        "game.created", "game.player_joined", "game.player_waitlisted", "game.player_left",
        "game.player_promoted", "game.updated", "game.rescheduled", "game.cancelled",
        "game.placeholder_added", "game.placeholder_removed", "game.reminder_recorded",
        "guild.configured", "channel.configured",
    )
}  # fmt: skip


def mixed_log(env: dict[str, str], commands: int = 400, seed: int = 7) -> int:
    """Waitlists, promotions, leaves, cancels, reschedules, cap and settings changes, reminders
    and placeholders across a handful of games; returns the last sequence."""
    rng = random.Random(seed)
    app = MusterApp(env=env)
    games: list[tuple[str, datetime]] = []
    try:
        for n in range(commands):
            guild, channel = str(1 + n % 2), str(10 + n % 2 + 2 * (n // 2 % 2))  # 2 per guild
            roll = rng.random()
            base = {"command_id": f"c-{n}", "user_id": "100", "permissions": MANAGER}
            if not games or roll < 0.06:
                when = START + timedelta(hours=n)
                outcome = app.handle(CreateGame(
                    **base, guild_id=guild, channel_id=channel, title=f"Game {n}",
                    max_players=rng.randint(2, 4), scheduled_at=when,
                ))  # fmt: skip
                assert outcome.game_id is not None
                games.append((outcome.game_id, when))
                continue
            game, when = rng.choice(games)
            user = str(200 + rng.randrange(15))
            command: object
            if roll < 0.55:
                command = JoinGame(command_id=f"c-{n}", user_id=user, game_id=game)
            elif roll < 0.70:
                command = LeaveGame(command_id=f"c-{n}", user_id=user, game_id=game)
            elif roll < 0.74:
                command = UpdateGame(**base, game_id=game, max_players=rng.randint(1, 6))
            elif roll < 0.77:
                when += timedelta(minutes=30)
                games = [(g, when if g == game else w) for g, w in games]
                command = RescheduleGame(**base, game_id=game, scheduled_at=when)
            elif roll < 0.79:
                command = CancelGame(**base, game_id=game, reason="rain")
            elif roll < 0.84:
                command = AddPlaceholder(**base, game_id=game, label=f"friend {n}")
            elif roll < 0.86:
                command = RemovePlaceholder(**base, game_id=game, placeholder_id=rng.randint(1, 2))
            elif roll < 0.92:
                command = RecordReminder(
                    command_id=f"c-{n}", user_id="0", game_id=game, recipient_id=user,
                    offset_minutes=rng.choice((15, 60)), scheduled_at=when,
                    status=rng.choice(("sent", "skipped", "failed")),
                )  # fmt: skip
            elif roll < 0.96:
                command = ConfigureGuild(**base, guild_id=guild, rules=f"rules {n}",
                                         max_players=rng.randint(3, 8))  # fmt: skip
            else:
                command = ConfigureChannel(**base, guild_id=guild, channel_id=channel,
                                           category=f"cat {n}", reminder_minutes=(15,))  # fmt: skip
            with contextlib.suppress(DomainError):
                app.handle(command)  # type: ignore[arg-type]
        last = app.recorder.max_notification_id()  # type: ignore[attr-defined]
    finally:
        app.close()
    assert last is not None
    return int(last)


@pytest.mark.slow
@pytest.mark.parametrize("partitions", [1, 2])
async def test_the_batch_folded_rebuild_equals_the_event_by_event_projection(
    event_log_env: dict[str, str], database_url: str, read_schema: str, nc: NATS, partitions: int
) -> None:
    last = await asyncio.to_thread(mixed_log, event_log_env)
    live = ProjectionRunner(nc, layout_of(event_log_env), database_url, read_schema, max_batch=1)
    progress = await asyncio.wait_for(live.run(asyncio.Event(), until=last), 60)
    assert progress.batches == last  # one transaction per event
    assert progress.parked == 0
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(f'SELECT DISTINCT type FROM "{read_schema}".timeline')
        kinds = {row[0] for row in await cur.fetchall()}
        cur = await conn.execute(  # bodies stored as JSON objects (binary COPY), whole
            f"SELECT count(*) FROM \"{read_schema}\".timeline WHERE body->>'type' = type "
            "AND body->>'command_id' = command_id"
        )
        assert await cur.fetchone() == (progress.applied,)
    assert kinds >= MIXED, MIXED - kinds

    _, rebuilt, differences = await rebuild_and_compare(
        nc, layout_of(event_log_env), database_url, read_schema, partitions=partitions
    )
    assert differences == []
    assert rebuilt.applied == progress.applied
    if partitions == 1:
        assert rebuilt.batches <= 2  # the whole log folded in one transaction (or two)
