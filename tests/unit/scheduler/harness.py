"""A scheduler on the in-process command port over POPO, a manual clock and a fake mailbox.

The board is fed from the app's own notification log, exactly as the real scheduler folds
the JetStream log: ``sync()`` plays the role of the log follower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.app import MusterApp
from domain.codec import EventMapper
from domain.commands import AnyCommand, CreateGame, JoinGame
from domain.events import Event, ReminderRecorded
from gateways.commands import InProcessCommands
from projections.scheduler import Delivery, ManualClock, Scheduler, SchedulerMetrics

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
GUILD, CHANNEL, HOST = "1000", "2000", "42"
MANAGE_GUILD = 0x20


class FakeMailbox:
    """DMs kept in memory: one message per nonce (like ``enforce_nonce``), refusals, outages."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict[str, Any]]] = []  # (user, nonce, body)
        self.refusing: set[str] = set()  # users who do not accept DMs (50007)
        self.down = False
        self.sends = 0
        self.finds = 0
        self.prepared: list[str] = []

    async def send(self, user_id: str, body: dict[str, Any], nonce: str) -> Delivery:
        self.sends += 1
        if self.down:
            return Delivery("retry", "Discord did not answer")
        if user_id in self.refusing:
            return Delivery("failed", "50007: Cannot send messages to this user")
        for i, (user, seen, _) in enumerate(self.messages):
            if (user, seen) == (user_id, nonce):
                return Delivery("sent", f"message {i}")
        self.messages.append((user_id, nonce, body))
        return Delivery("sent", f"message {len(self.messages) - 1}")

    async def find(self, user_id: str, nonce: str) -> str | None:
        self.finds += 1
        for i, (user, seen, _) in enumerate(self.messages):
            if (user, seen) == (user_id, nonce):
                return str(i)
        return None

    async def prepare(self, user_id: str) -> None:
        self.prepared.append(user_id)

    def to(self, user_id: str) -> list[dict[str, Any]]:
        return [body for user, _, body in self.messages if user == user_id]


class Harness:
    def __init__(self) -> None:
        self.clock = ManualClock(T0.timestamp())
        self.app = MusterApp(clock=lambda: datetime.fromtimestamp(self.clock.now(), UTC))
        self.app.SETTINGS_MAX_AGE = 0.0
        self.port = InProcessCommands(self.app, max_workers=4)
        self.mailbox = FakeMailbox()
        self.metrics = SchedulerMetrics()
        self.scheduler = Scheduler(self.port, self.mailbox, clock=self.clock, metrics=self.metrics)
        self.mapper = EventMapper()
        self.position = 0
        self._ids = 0

    @property
    def board(self) -> Any:
        return self.scheduler.board

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def cid(self) -> str:
        self._ids += 1
        return f"test-{self._ids}"

    def sync(self) -> None:
        """Fold what the log gained since the last sync into the scheduler's board."""
        touched: set[str] = set()
        for n in self.app.recorder.select_notifications(self.position + 1, 10_000):
            event = self.mapper.decode(n.topic, n.state)
            touched |= self.board.apply(str(n.originator_id), event)
            self.position = n.id
        self.board.refresh(touched)
        self.scheduler.wake()

    async def send(self, command: AnyCommand) -> Any:
        outcome = await self.port.send(command)
        self.sync()
        return outcome

    async def create(
        self, starts_in: timedelta, players: tuple[str, ...] = ("7", "8"), **fields: Any
    ) -> str:
        outcome = await self.send(
            CreateGame(
                command_id=self.cid(),
                user_id=HOST,
                permissions=MANAGE_GUILD,
                guild_id=GUILD,
                channel_id=CHANNEL,
                title=fields.pop("title", "Catan"),
                scheduled_at=self.now() + starts_in,
                players=players,
                **fields,
            )
        )
        return str(outcome.game_id)

    async def join(self, game_id: str, user: str) -> None:
        await self.send(JoinGame(command_id=self.cid(), user_id=user, game_id=game_id))

    async def advance(self, by: timedelta) -> int:
        """Move the clock and carry out what fell due (then fold what that recorded)."""
        self.clock.advance(by.total_seconds())
        done = await self.scheduler.tick()
        self.sync()
        return done

    def history(self, game_id: str) -> list[Event]:
        return self.app.history(f"game.{game_id}")

    def reminders(self, game_id: str) -> dict[tuple[int, str], tuple[str, str]]:
        """(offset, user) → (status, detail) of every recorded reminder."""
        found: dict[tuple[int, str], tuple[str, str]] = {}
        for e in self.history(game_id):
            if isinstance(e, ReminderRecorded):
                assert (e.offset_minutes, e.user_id) not in found, "recorded twice"
                found[(e.offset_minutes, e.user_id)] = (e.status, e.detail)
        return found

    async def close(self) -> None:
        await self.port.aclose()


async def until(predicate: Callable[[], object], within: float = 5.0) -> None:
    """Wait for an observable condition (commands run on pool threads), up to ``within``."""
    for _ in range(int(within / 0.001)):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise TimeoutError("condition not reached")
