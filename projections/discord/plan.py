"""What one event of the log asks of Discord: which announcement to post or re-render, and
which DMs are owed to whom. Pure, and keyed by the event's stored type name, so it reads event
types this version of Muster does not define yet (``game.player_moved_to_waitlist.v1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from projections.feed import LogMessage, game_uuid

CREATED = "game.created.v1"
CANCELLED = "game.cancelled.v1"
RESCHEDULED = "game.rescheduled.v1"
PROMOTED = "game.player_promoted.v1"
LEFT = "game.player_left.v1"
MOVED_TO_WAITLIST = "game.player_moved_to_waitlist.v1"
CHANNEL_CONFIGURED = "channel.configured.v1"
GUILD_CONFIGURED = "guild.configured.v1"
RECORDS = frozenset(
    {
        "game.announcement_recorded.v1",
        "game.reminder_recorded.v1",
        "game.direct_message_recorded.v1",
    }
)
"""Events that record what Muster did in Discord: they change nothing people see."""
EVERYONE = ""
"""A DM's recipient meaning "every player (joined or waiting) at that position"."""


class _Fields(msgspec.Struct, kw_only=True):
    """The fields DMs need, whatever the event type (unknown fields are ignored)."""

    actor_id: str = ""
    occurred_at: datetime | None = None
    user_id: str | None = None
    position: int | None = None
    reason: str = ""
    scheduled_at: datetime | None = None
    previous_scheduled_at: datetime | None = None
    channel_id: str | None = None
    guild_id: str | None = None


_decoder = msgspec.json.Decoder(_Fields)


@dataclass(frozen=True)
class DirectMessage:
    """A DM owed because of the event at ``source``: ``kind`` says which text."""

    kind: str  # promoted | cancelled | rescheduled | removed | moved_to_waitlist
    user_id: str  # EVERYONE: each player at ``source`` except ``except_id``
    source: int
    occurred_at: datetime | None = None
    except_id: str = ""
    waitlist_position: int | None = None
    reason: str = ""
    scheduled_at: datetime | None = None
    previous_scheduled_at: datetime | None = None


@dataclass
class Effects:
    """What one event asks for."""

    seq: int
    game_id: str | None = None  # the game whose announcement is concerned
    created: bool = False  # post the announcement
    rerender: bool = False  # the announcement may look different now
    channel_id: str | None = None  # settings changed: re-render the channel's games
    guild_id: str | None = None  # settings changed: re-render the guild's games
    dms: list[DirectMessage] = field(default_factory=list)


def effects_of(message: LogMessage) -> Effects | None:
    """What ``message`` asks of Discord, or None when nothing."""
    topic, seq = message.topic, message.seq
    if message.error:
        return None
    try:
        fields = _decoder.decode(message.body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        fields = _Fields()
    if topic == CHANNEL_CONFIGURED and fields.channel_id:
        return Effects(seq=seq, channel_id=fields.channel_id)
    if topic == GUILD_CONFIGURED and fields.guild_id:
        return Effects(seq=seq, guild_id=fields.guild_id)
    if not message.aggregate_id.startswith("game.") or topic in RECORDS:
        return None
    try:
        game_id = game_uuid(message.aggregate_id)
    except ValueError:  # a subject another writer made up: parked by the read models
        return None
    effects = Effects(seq=seq, game_id=game_id, rerender=True)
    effects.created = topic == CREATED
    effects.dms = _dms(topic, seq, fields)
    return effects


def _dms(topic: str, seq: int, f: _Fields) -> list[DirectMessage]:
    user, when = f.user_id, f.occurred_at
    if topic == PROMOTED and user:
        return [DirectMessage("promoted", user, seq, when)]
    if topic == LEFT and user and f.actor_id and f.actor_id != user:
        return [DirectMessage("removed", user, seq, when)]
    if topic == MOVED_TO_WAITLIST and user:
        return [DirectMessage("moved_to_waitlist", user, seq, when, waitlist_position=f.position)]
    if topic == CANCELLED:
        return [DirectMessage("cancelled", EVERYONE, seq, when, f.actor_id, reason=f.reason)]
    if topic == RESCHEDULED:
        return [
            DirectMessage(
                "rescheduled", EVERYONE, seq, when, f.actor_id, scheduled_at=f.scheduled_at,
                previous_scheduled_at=f.previous_scheduled_at,
            )
        ]  # fmt: skip
    return []
