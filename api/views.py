"""Read-side answers built from the read models' query functions (no log access)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from api import models
from api.access import Membership, member_or_404
from api.errors import ApiError, not_found
from api.services import Web

if TYPE_CHECKING:
    from api.gamecache import CachedGame
from domain.events import GameDetails, Settings
from domain.rules import DEFAULT_MAX_PLAYERS, DEFAULT_REMINDER_MINUTES
from gateways.profiles import Profile
from projections import queries
from projections.names import member_key

AVATAR_CDN = "https://cdn.discordapp.com/avatars"
SETTING_NAMES = ("max_players", "reminder_minutes", "rules", "waitlist_cap", "category")
DEFAULTS: dict[str, Any] = {
    "max_players": DEFAULT_MAX_PLAYERS,
    "reminder_minutes": list(DEFAULT_REMINDER_MINUTES),
    "rules": "",
    "waitlist_cap": "unlimited",
    "category": None,
    "host_role_ids": [],
}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def sources(
    game: GameDetails | None, channel: Settings | None, guild: Settings | None,
    names: tuple[str, ...] = SETTING_NAMES,
) -> dict[str, models.Setting]:  # fmt: skip
    """Each setting's value after inheritance and the level it came from."""
    found: dict[str, models.Setting] = {}
    for name in names:
        levels: list[tuple[models.Source, Any]] = [
            ("game", getattr(game, name, None) if name != "host_role_ids" else None),
            ("channel", getattr(channel, name, None)),
            ("guild", getattr(guild, name, None)),
        ]
        source, value = next(((s, v) for s, v in levels if v is not None),
                             ("default", DEFAULTS[name]))  # fmt: skip
        found[name] = models.Setting(value=_plain(value), source=source)
    return found


async def game_or_404(
    web: Web, game_id: str, user_id: str
) -> tuple[queries.GameDetail, Membership]:
    """A game the user may see (they are a member of its guild), else 404."""
    try:
        canonical = str(uuid.UUID(game_id))
    except ValueError:
        raise not_found() from None
    async with web.pool.connection() as conn:
        game = await queries.game_detail(conn, canonical)
    if game is None:
        raise not_found()
    member = await member_or_404(web, game.guild_id, user_id, "game")
    return game, member


async def visible_game(web: Web, game_id: str, user_id: str) -> tuple[CachedGame, Membership]:
    """A game's (cached) view, if the user is a member of its guild; else 404."""
    try:
        canonical = str(uuid.UUID(game_id))
    except ValueError:
        raise not_found() from None
    cached = await cached_game(web, canonical)
    if cached is None:
        raise not_found()
    member = await member_or_404(web, cached.view.guild_id, user_id, "game")
    return cached, member


async def avatar_urls(web: Web, guild_id: str, user_ids: list[str]) -> dict[str, str]:
    """Avatar images of the members whose profile is cached (the display-name cache)."""
    if not user_ids:
        return {}
    raws = await web.redis.mget([member_key(guild_id, u) for u in user_ids])
    hashes: dict[str, str | None] = {}
    for user_id, raw in zip(user_ids, raws, strict=True):
        if raw is not None:
            hashes[user_id] = msgspec.json.decode(raw, type=Profile).avatar
    missing = [u for u in user_ids if u not in hashes]
    members = await asyncio.gather(*(web.discord.member(guild_id, u) for u in missing))
    for user_id, member in zip(missing, members, strict=True):
        if member is not None:
            hashes[user_id] = member.get("avatar") or (member.get("user") or {}).get("avatar")
    return {u: f"{AVATAR_CDN}/{u}/{h}.png?size=64" for u, h in hashes.items() if h}


async def cached_game(web: Web, game_id: str) -> CachedGame | None:
    """A game's view from memory, or built once from the read models (``None``: no game)."""
    return web.games.get(game_id) or await web.games.build(game_id, lambda: _build(web, game_id))


async def _build(web: Web, game_id: str) -> models.GameDetail | None:
    async with web.pool.connection() as conn, conn.transaction():
        # one snapshot for the game row and its participants (a join committing between the
        # two reads would otherwise show a player with the old count)
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        game = await queries.game_detail(conn, game_id)
    return None if game is None else await game_view(web, game)


async def game_view(web: Web, game: queries.GameDetail) -> models.GameDetail:
    """The API's game detail: display names, placeholders, settings with their source."""
    async with web.pool.connection() as conn:
        levels = await queries.setting_levels_of_game(conn, game.game_id)
    details, channel, guild = levels or (None, None, None)
    users = [p.user_id for p in game.participants if p.user_id] + [game.host_id]
    names = await web.display_names(game.guild_id, users)
    avatars = await avatar_urls(web, game.guild_id, users)

    def players(kind: str) -> list[models.Player]:
        return [
            models.Player(
                user_id=p.user_id,
                display_name=names[p.user_id],
                position=p.position,
                avatar_url=avatars.get(p.user_id),
            )
            for p in game.participants
            if p.kind == kind and p.user_id
        ]

    summary = msgspec.structs.asdict(game)
    for drop in ("settings", "participants", "announcement_channel_id", "announcement_message_id"):
        summary.pop(drop)
    return models.GameDetail(
        **summary,
        host_name=names[game.host_id],
        players=players("joined"),
        waitlist=players("waitlisted"),
        placeholders=[
            models.Placeholder(
                placeholder_id=p.placeholder_id or 0, label=p.label or "", position=p.position
            )
            for p in game.participants
            if p.kind == "placeholder"
        ],
        settings=sources(details, channel, guild),
    )


def summary_model(game: queries.GameSummary) -> models.GameSummary:
    return models.GameSummary(**msgspec.structs.asdict(game))


def encode_cursor(cursor: tuple[datetime, str] | None) -> str | None:
    if cursor is None:
        return None
    raw = f"{cursor[0].isoformat()}|{cursor[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        when, game_id = raw.split("|", 1)
        return datetime.fromisoformat(when), str(uuid.UUID(game_id))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            422, "invalid_cursor", "The cursor is not one this API gave out.", field="cursor",
            fix="Use next_cursor from the previous page, or leave it out to start over.",
        ) from None  # fmt: skip


def etag_of(*parts: Any) -> str:
    """A weak ETag over what a representation depends on."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:20]
    return f'W/"{digest}"'
