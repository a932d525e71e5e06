"""A game as it was at a point of its history (``?at=``), folded from its events in the log.

The fold is :func:`projections.timetravel.game_at` (the domain's own ``evolve``), so what the
web shows for the past cannot disagree with the rules. Settings inherited from the channel and
the server are today's (the log keeps the game's own values; inherited ones may have changed).
"""

from __future__ import annotations

from datetime import datetime

from api import models
from api.errors import ApiError
from api.services import Web
from api.views import avatar_urls, sources
from domain.game import GameState
from projections import queries
from projections.timetravel import BadPoint, Step, game_at, game_history, parse_point, steps_until

HISTORY_TIMEOUT = 5.0


def point_or_422(text: str) -> int | datetime:
    """``at`` as a stream sequence or a time; else the one 4xx shape, naming the field."""
    try:
        return parse_point(text.strip())
    except BadPoint:
        raise ApiError(
            422, "invalid_at",
            f"at={text!r} is neither a position in the log (a whole number from 1, as the "
            "game's history shows) nor an ISO 8601 time.",
            field="at", fix="Send a position such as 42, or a time such as 2026-11-30T18:00:00Z.",
        ) from None  # fmt: skip


async def history(web: Web, game_id: str) -> list[Step]:
    """Every event of one game from the log, decoded and upcast."""
    return await game_history(web.nc, web.layout, f"game.{game_id}", HISTORY_TIMEOUT)


async def state_at(web: Web, game_id: str, at: int | datetime | None) -> GameState | None:
    return game_at(await history(web, game_id), f"game.{game_id}", at)


async def game_as_of(web: Web, game_id: str, text: str) -> models.GameDetail:
    """The API's game detail as it was at ``text`` (a position or a time)."""
    at = point_or_422(text)
    steps = steps_until(await history(web, game_id), at)
    state = game_at(steps, f"game.{game_id}", None)
    if state is None:
        raise ApiError(
            404, "game_not_yet_created", "The game did not exist yet at that point.",
            field="at", fix="Pick a later position or time (see the game's history).",
        )  # fmt: skip
    return await detail_of(web, state, steps)


async def detail_of(web: Web, state: GameState, steps: list[Step]) -> models.GameDetail:
    async with web.pool.connection() as conn:
        levels = await queries.setting_levels_of_game(conn, state.game_id)
    _, channel, guild = levels or (None, None, None)
    settings = sources(state.details, channel, guild)
    users = [*state.joined, *state.waitlist, state.host_id]
    names = await web.display_names(state.guild_id, users)
    avatars = await avatar_urls(web, state.guild_id, users)

    def players(ids: list[str]) -> list[models.Player]:
        return [
            models.Player(user_id=u, display_name=names[u], position=i, avatar_url=avatars.get(u))
            for i, u in enumerate(ids, 1)
        ]

    seats = len(state.joined)
    max_players = settings["max_players"].value
    return models.GameDetail(
        game_id=state.game_id, guild_id=state.guild_id, channel_id=state.channel_id,
        host_id=state.host_id, title=state.details.title, scheduled_at=state.scheduled_at,
        status=state.status, joined_count=seats + len(state.placeholders),
        waitlist_count=len(state.waitlist),
        max_players=max_players if isinstance(max_players, int) else 0,
        host_name=names[state.host_id], description=state.details.description,
        category=state.details.category, duration_minutes=state.details.duration_minutes,
        players=players(state.joined), waitlist=players(state.waitlist),
        placeholders=[
            models.Placeholder(placeholder_id=pid, label=label, position=seats + i)
            for i, (pid, label) in enumerate(state.placeholders.items(), 1)
        ],
        settings=settings, created_at=steps[0].event.occurred_at,
        updated_at=steps[-1].event.occurred_at, version=steps[-1].version,
        position=steps[-1].seq,
    )  # fmt: skip
