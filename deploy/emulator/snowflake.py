"""Discord-style snowflake ids and the emulator's adjustable clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000


class Clock:
    """Wall clock with an offset, so tests can jump forward (e.g. past a 15-minute token)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        """Seconds since the Unix epoch, shifted by the offset."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the emulator's notion of now forward by ``seconds``."""
        self.offset += seconds

    def iso(self, at: float | None = None) -> str:
        """ISO 8601 timestamp as Discord formats it (``2024-01-01T00:00:00.000000+00:00``)."""
        return datetime.fromtimestamp(self.time() if at is None else at, UTC).isoformat()


class SnowflakeGenerator:
    """Makes ids like Discord's: ms since 2015 << 22 | worker << 17 | process << 12 | increment."""

    def __init__(self, clock: Clock, worker: int = 1, process: int = 0) -> None:
        self.clock = clock
        self.worker = worker & 0x1F
        self.process = process & 0x1F
        self._last_ms = 0
        self._increment = 0

    def next(self) -> int:
        ms = int(self.clock.time() * 1000) - DISCORD_EPOCH_MS
        if ms <= self._last_ms:
            ms = self._last_ms
            self._increment = (self._increment + 1) & 0xFFF
            if self._increment == 0:  # 4096 ids in one ms: borrow the next ms
                ms += 1
        else:
            self._increment = 0
        self._last_ms = ms
        return (ms << 22) | (self.worker << 17) | (self.process << 12) | self._increment


def snowflake_time(snowflake: int) -> float:
    """Unix time (seconds) encoded in a snowflake."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000
