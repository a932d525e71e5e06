"""What the Discord projection keeps in memory: where an announcement is and what it shows,
its progress figures, and which refusals of Discord are for good."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateways.discord.errors import OutboundError


def permanent(error: OutboundError) -> bool:
    """Discord refused for good (a 4xx other than 429): retrying cannot help."""
    return error.status is not None and 400 <= error.status < 500 and error.status != 429


@dataclass(frozen=True)
class Posted:
    """Where a game's announcement is, and the log position its content shows."""

    channel_id: str
    message_id: str
    version: int


@dataclass
class DiscordProgress:
    """What the projector has done so far (for tests, health and benchmarks)."""

    position: int = 0
    posted: int = 0
    edits: int = 0
    dms: dict[str, int] = field(default_factory=dict)
    problems: int = 0
