"""Given events → when command → then events, on eventsourcing's in-memory persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from domain.aggregates import stage
from domain.app import MusterApp
from domain.commands import AnyCommand
from domain.events import Event, GameCreated, GameDetails, Settings
from domain.outcome import Outcome

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=2)
GAME = "4b2e8c1a-5d6f-4e7a-8b9c-0d1e2f3a4b5c"
GAME_AGG = f"game.{GAME}"
GUILD, CHANNEL, HOST = "1000", "2000", "42"
MANAGE_GUILD, MANAGE_CHANNELS, ADMINISTRATOR = 0x20, 0x10, 0x8
S: dict[str, Any] = {"command_id": "given", "actor_id": "1", "occurred_at": NOW}
"""The stamp of given events, and of expected events in ``then`` (stamps are normalised)."""


def created(**details: Any) -> GameCreated:
    """A game hosted by HOST in CHANNEL, starting at LATER."""
    return GameCreated(
        **S,
        guild_id=GUILD,
        channel_id=CHANNEL,
        host_id=HOST,
        scheduled_at=LATER,
        details=GameDetails(title=details.pop("title", "Game night"), **details),
    )


def settings(**values: Any) -> Settings:
    return Settings(**values)


class Scenario:
    """Drives one MusterApp on POPO with a controllable clock."""

    def __init__(self) -> None:
        self.now = NOW
        self.app = MusterApp(clock=lambda: self.now)
        self.app.SETTINGS_MAX_AGE = 0.0  # read settings from the log every time in tests
        self._seen: dict[str, int] = {}
        self._count = 0

    def given(self, *events: Event, aggregate_id: str = GAME_AGG) -> Scenario:
        version = len(self.app.history(aggregate_id))
        self.app.save(*stage(aggregate_id, version, events))
        return self

    def when(self, command: AnyCommand, aggregate_id: str = GAME_AGG) -> Outcome:
        self._seen[aggregate_id] = len(self.app.history(aggregate_id))
        return self.app.handle(command)

    def then(self, aggregate_id: str = GAME_AGG) -> list[Event]:
        """The events the last command appended, stamped like the expected ones."""
        new = self.app.history(aggregate_id)[self._seen.get(aggregate_id, 0) :]
        return [msgspec.structs.replace(e, **S) for e in new]

    def cid(self) -> str:
        self._count += 1
        return f"cmd-{self._count}"
