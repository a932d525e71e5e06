"""``/api/v1/games``: list, detail, create, update, reschedule, cancel, join, leave."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Query, Request, Response
from msgspec import UNSET

from api import models
from api.access import member_or_404, shared_guilds
from api.errors import ApiError
from api.history import game_as_of
from api.routers import ERRORS
from api.services import Web
from api.sessions import Session, SessionDep, WebDep
from api.views import (
    decode_cursor,
    encode_cursor,
    etag_of,
    game_or_404,
    summary_model,
    visible_game,
)
from api.writes import command_id, resolve_mentions, send
from domain import commands
from projections import queries

router = APIRouter(prefix="/api/v1/games", tags=["games"], responses=ERRORS)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="repeat a write safely: same key, same answer"),
]
Wait = Annotated[bool, Query(description="answer once the game's page shows the write")]


def not_modified(request: Request, response: Response, body: Any) -> Response | None:
    """Set the ETag; a 304 if the client has this version already."""
    tag = etag_of(body.model_dump_json())
    response.headers["ETag"] = tag
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": tag})
    return None


@router.get("", response_model=models.GamePage, summary="List games")
async def list_games(
    request: Request, response: Response, web: WebDep, session: SessionDep,
    guild_id: Annotated[str | None, Query(pattern=r"^\d{1,20}$")] = None,
    channel_id: Annotated[str | None, Query(pattern=r"^\d{1,20}$")] = None,
    status: Annotated[list[models.Status] | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=50, pattern=r"^[^\x00]*$")] = None,
    host_id: Annotated[str | None, Query(pattern=r"^\d{1,20}$")] = None,
    participant_id: Annotated[str | None, Query(pattern=r"^\d{1,20}$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:  # fmt: skip
    """Games in your servers (or one server), soonest first, a page at a time."""
    if guild_id is not None:
        await member_or_404(web, guild_id, session.user_id)
        guilds = (guild_id,)
    else:
        guilds = tuple(g["id"] for g in await shared_guilds(web, session))
    where = queries.GameFilter(
        guild_ids=guilds, channel_id=channel_id, statuses=tuple(status) if status else None,
        category=category, host_id=host_id, participant_id=participant_id, since=since,
        until=until,
    )  # fmt: skip
    async with web.pool.connection() as conn:
        games, after = await queries.games_page(conn, where, decode_cursor(cursor), limit)
    body = models.GamePage(games=[summary_model(g) for g in games],
                           next_cursor=encode_cursor(after))  # fmt: skip
    return not_modified(request, response, body) or body


At = Annotated[
    str | None,
    Query(
        max_length=40,
        description="the game as it was then: a log position (as the game's "
        "history shows) or an ISO 8601 time",
    ),
]


@router.get("/{game_id}", response_model=models.GameDetail, summary="A game")
async def get_game(
    game_id: str, request: Request, response: Response, web: WebDep, session: SessionDep,
    at: At = None,
) -> Any:  # fmt: skip
    """Players, waitlist and placeholders with display names; settings with their source.
    With ``at``, the game as it was at that point of its history."""
    cached, _ = await visible_game(web, game_id, session.user_id)
    if at is not None:
        return await game_as_of(web, cached.view.game_id, at)
    headers = {"ETag": cached.etag}
    if cached.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(cached.body, media_type="application/json", headers=headers)


@router.get("/{game_id}/participants", response_model=list[models.Player], summary="Players")
async def participants(game_id: str, web: WebDep, session: SessionDep) -> Any:
    """Joined players then the waitlist, in order."""
    cached, _ = await visible_game(web, game_id, session.user_id)
    return cached.view.players + cached.view.waitlist


async def _create_command(
    web: WebDep, session: Session, body: models.GameCreate, key: str | None
) -> commands.CreateGame:
    member = await member_or_404(web, body.guild_id, session.user_id)
    channel = await web.discord.channel(body.channel_id)
    if channel is None or str(channel.get("guild_id")) != body.guild_id:
        raise ApiError(422, "unknown_channel", "That channel is not in this server.",
                       field="channel_id", fix="Pick one of the server's channels.")  # fmt: skip
    players, bad = await resolve_mentions(web, body.guild_id, body.players)
    if bad:
        raise ApiError(
            422, "bad_mentions",
            "; ".join(f"{b.input} {b.reason}" for b in bad), field="players",
            fix="Pick one of the suggestions, or list the name as a placeholder instead.",
            details=[{"bad_mentions": [b.model_dump() for b in bad],
                      "form": body.model_dump(mode="json")}],
        )  # fmt: skip
    cap = body.waitlist_cap
    return commands.CreateGame(
        command_id=command_id(session.user_id, key), user_id=session.user_id,
        role_ids=member.role_ids, permissions=member.permissions, guild_id=body.guild_id,
        channel_id=body.channel_id, title=body.title, scheduled_at=body.scheduled_at,
        description=body.description, category=body.category or None,
        duration_minutes=body.duration_minutes, max_players=body.max_players,
        reminder_minutes=tuple(body.reminder_minutes) if body.reminder_minutes else None,
        rules=body.rules or None, waitlist_cap=cap, players=tuple(players),
        placeholders=tuple(p.strip() for p in body.placeholders if p.strip()),
    )  # fmt: skip


@router.post("", response_model=models.CommandResult, status_code=201, summary="Create a game")
async def create_game(
    body: models.GameCreate, web: WebDep, session: SessionDep, key: IdempotencyKey = None,
    wait: Wait = True,
) -> Any:  # fmt: skip
    """Schedule a game; ``players`` are @mentions that must each match one member (422 lists
    each bad one with suggestions and echoes the form)."""
    return await send(web, await _create_command(web, session, body, key), wait=wait)


async def send_as_host(
    web: Web,
    game_id: str,
    session: Session,
    key: str | None,
    wait: bool,
    kind: type[commands.UpdateGame | commands.RescheduleGame | commands.CancelGame],
    fields: Callable[[], dict[str, Any]],
) -> Any:
    """Send a command with the person's authority (host or manager) over a game they can see;
    ``fields()`` (which may refuse the body) is read once the game is found."""
    game, member = await game_or_404(web, game_id, session.user_id)
    command = kind(
        command_id=command_id(session.user_id, key), user_id=session.user_id,
        role_ids=member.role_ids, permissions=member.permissions, game_id=game.game_id,
        **fields(),
    )  # fmt: skip
    return await send(web, command, wait=wait)


@router.patch("/{game_id}", response_model=models.CommandResult, summary="Update a game")
async def update_game(
    game_id: str, body: models.GameUpdate, web: WebDep, session: SessionDep,
    key: IdempotencyKey = None, wait: Wait = True,
) -> Any:  # fmt: skip
    """Change details (host or server manager); ``null`` settings inherit again."""

    def changes() -> dict[str, Any]:
        given = body.model_dump(exclude_unset=True)
        found: dict[str, Any] = {name: given.get(name, UNSET) for name in type(body).model_fields}
        if found["title"] is None or found["description"] is None:
            raise ApiError(422, "invalid_request", "title and description cannot be null.",
                           field="title" if found["title"] is None else "description")  # fmt: skip
        if isinstance(found["reminder_minutes"], list):
            found["reminder_minutes"] = tuple(found["reminder_minutes"])
        return found

    return await send_as_host(web, game_id, session, key, wait, commands.UpdateGame, changes)


@router.post("/{game_id}/reschedule", response_model=models.CommandResult, summary="Reschedule")
async def reschedule(
    game_id: str, body: models.Reschedule, web: WebDep, session: SessionDep,
    key: IdempotencyKey = None, wait: Wait = True,
) -> Any:  # fmt: skip
    return await send_as_host(web, game_id, session, key, wait, commands.RescheduleGame,
                              lambda: {"scheduled_at": body.scheduled_at})  # fmt: skip


@router.post("/{game_id}/cancel", response_model=models.CommandResult, summary="Cancel")
async def cancel(
    game_id: str, body: models.Cancel, web: WebDep, session: SessionDep,
    key: IdempotencyKey = None, wait: Wait = True,
) -> Any:  # fmt: skip
    return await send_as_host(web, game_id, session, key, wait, commands.CancelGame,
                              lambda: {"reason": body.reason})  # fmt: skip


@router.post("/{game_id}/join", response_model=models.CommandResult, summary="Join")
async def join(
    game_id: str, web: WebDep, session: SessionDep, key: IdempotencyKey = None,
    wait: Wait = True,
) -> Any:  # fmt: skip
    """Take a seat, or a place on the waitlist when the game is full."""
    game, _ = await game_or_404(web, game_id, session.user_id)
    command = commands.JoinGame(command_id=command_id(session.user_id, key),
                                user_id=session.user_id, game_id=game.game_id)  # fmt: skip
    return await send(web, command, wait=wait)


@router.post("/{game_id}/leave", response_model=models.CommandResult, summary="Leave")
async def leave(
    game_id: str, web: WebDep, session: SessionDep, key: IdempotencyKey = None,
    wait: Wait = True,
) -> Any:  # fmt: skip
    """Give up a seat or a place on the waitlist."""
    game, _ = await game_or_404(web, game_id, session.user_id)
    command = commands.LeaveGame(command_id=command_id(session.user_id, key),
                                 user_id=session.user_id, game_id=game.game_id)  # fmt: skip
    return await send(web, command, wait=wait)


@router.get("/{game_id}/timeline", response_model=list[models.TimelineEntry], summary="History")
async def timeline(game_id: str, web: WebDep, session: SessionDep) -> Any:
    """Every event of the game: what, when, who, by which command."""
    game, _ = await game_or_404(web, game_id, session.user_id)
    async with web.pool.connection() as conn:
        entries = await queries.game_timeline(conn, game.game_id)
    return [models.TimelineEntry(**msgspec.structs.asdict(e)) for e in entries]
