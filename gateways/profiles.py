"""The PROFILES stream: short-lived observations of members' display profiles.

Display names are never stored in PostgreSQL or the event log. Whoever sees a member (the bot on
an interaction, the REST client on a lookup) publishes an observation on
``profiles.<guild_id>.<user_id>``; the stream keeps only the newest per member, for one day.
"""

from __future__ import annotations

import msgspec
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

STREAM = "PROFILES"
PREFIX = "profiles"
MAX_AGE_SECONDS = 24 * 3600


class Profile(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What Discord shows of a member: guild nick > global name > username."""

    username: str
    global_name: str | None = None
    nick: str | None = None
    avatar: str | None = None

    @property
    def display_name(self) -> str:
        return self.nick or self.global_name or self.username


def stream_config(stream: str = STREAM, prefix: str = PREFIX) -> StreamConfig:
    return StreamConfig(
        name=stream,
        description="Muster: newest observed profile per guild member, for a day",
        subjects=[f"{prefix}.>"],
        storage=StorageType.FILE,
        max_msgs_per_subject=1,
        max_age=MAX_AGE_SECONDS,
        discard=DiscardPolicy.OLD,
    )


async def ensure_profiles_stream(nc: NATS, stream: str = STREAM, prefix: str = PREFIX) -> None:
    """Create the PROFILES stream (or update it to this config)."""
    js = nc.jetstream()
    config = stream_config(stream, prefix)
    try:
        await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


async def publish_profile(
    nc: NATS, guild_id: str, user_id: str, profile: Profile, prefix: str = PREFIX
) -> None:
    """Record that ``user_id`` in ``guild_id`` currently looks like ``profile``."""
    await nc.jetstream().publish(f"{prefix}.{guild_id}.{user_id}", msgspec.json.encode(profile))
