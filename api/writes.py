"""Every write goes through the command port: idempotency keys, answers, read-your-writes."""

from __future__ import annotations

import re
import uuid
from difflib import SequenceMatcher
from typing import Any

from api.errors import ApiError
from api.models import BadMention, CommandResult
from api.services import Web
from domain import commands
from domain.commands import AnyCommand
from domain.errors import DomainError
from domain.outcome import Outcome
from projections.freshness import ProjectionBehind, wait_for_position

_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_MENTION_ID = re.compile(r"^<@!?(\d{1,20})>$|^(\d{15,20})$")


_MUTES = (
    commands.MuteReminders,
    commands.UnmuteReminders,
    commands.MuteGuildReminders,
    commands.UnmuteGuildReminders,
)


def command_id(user_id: str, idempotency_key: str | None) -> str:
    """``api:<user>:<key>`` (a repeat returns the first outcome); a fresh id without a key."""
    if idempotency_key is None:
        return f"api:{user_id}:{uuid.uuid4()}"
    if not _KEY.match(idempotency_key):
        raise ApiError(
            422, "invalid_idempotency_key",
            "The Idempotency-Key header must be 1-100 letters, digits or . _ : -",
            field="Idempotency-Key", fix="Send a UUID, for example.",
        )  # fmt: skip
    return f"api:{user_id}:{idempotency_key}"


async def send(web: Web, command: AnyCommand, *, wait: bool = True) -> CommandResult:
    """Send ``command``; with ``wait``, answer once the read models show the write."""
    outcome = await web.commands.send(command)
    if isinstance(command, _MUTES):
        web.mutes.forget(command.user_id)  # the next page shows this (un)mute
    position = max(outcome.notification_ids, default=None)
    if outcome.game_id and position is not None:
        web.games.saw(outcome.game_id, position)  # no cached view older than this write
    if wait and position is not None:
        await visible(web, position)
    return result_of(outcome, position)


async def visible(web: Web, position: int) -> bool:
    """Wait until the read models reached ``position`` (False if they did not in time)."""
    async with web.pool.connection() as conn:
        try:
            await wait_for_position(conn, position, timeout=web.config.read_your_writes_timeout)
        except ProjectionBehind:
            return False
    return True


def result_of(outcome: Outcome, position: int | None) -> CommandResult:
    return CommandResult(
        result=outcome.result, message=outcome.message, game_id=outcome.game_id,
        version=outcome.version, replayed=outcome.replayed, position=position,
        joined_count=outcome.joined_count, max_players=outcome.max_players,
        waitlist_position=outcome.waitlist_position, promoted=list(outcome.promoted),
    )  # fmt: skip


def _names(member: dict[str, Any]) -> list[str]:
    user = member.get("user") or {}
    return [n for n in (member.get("nick"), user.get("global_name"), user.get("username")) if n]


async def resolve_mentions(
    web: Web, guild_id: str, mentions: list[str]
) -> tuple[list[str], list[BadMention]]:
    """User ids for ``@mentions`` (each must match exactly one member), and the bad ones with
    up to 5 suggestions each."""
    ids: list[str] = []
    bad: list[BadMention] = []
    for raw in mentions:
        text = raw.strip()
        match = _MENTION_ID.match(text)
        if match:
            user_id = match.group(1) or match.group(2)
            if await web.discord.member(guild_id, user_id) is None:
                bad.append(BadMention(input=raw, reason="is not a member of this server",
                                      suggestions=[]))  # fmt: skip
            else:
                ids.append(user_id)
            continue
        name = text.removeprefix("@").strip()
        if not name:
            bad.append(BadMention(input=raw, reason="is empty", suggestions=[]))
            continue
        found = await web.discord.search_members(guild_id, name, 25)
        exact = [m for m in found if name.lower() in (n.lower() for n in _names(m))]
        if len(exact) == 1:
            ids.append(str(exact[0]["user"]["id"]))
            continue
        reason = "matches more than one member" if exact else "matches no member"
        bad.append(
            BadMention(
                input=raw, reason=reason, suggestions=await suggestions(web, guild_id, name, exact)
            )
        )
    return list(dict.fromkeys(ids)), bad


async def suggestions(web: Web, guild_id: str, name: str, exact: list[dict[str, Any]]) -> list[str]:
    """Up to 5 ``@username`` choices that look like ``name``, best first."""
    pool = list(exact)
    for size in range(min(len(name), 3), 0, -1):
        if len(pool) >= 5:
            break
        pool += await web.discord.search_members(guild_id, name[:size], 25)
    scored: dict[str, float] = {}
    for member in pool:
        username = member.get("user", {}).get("username")
        if not username:
            continue
        score = max(SequenceMatcher(None, name.lower(), n.lower()).ratio() for n in _names(member))
        scored[f"@{username}"] = max(score, scored.get(f"@{username}", 0.0))
    return [n for n, _ in sorted(scored.items(), key=lambda kv: -kv[1])][:5]


async def told(web: Web, command: AnyCommand) -> tuple[str, DomainError | None]:
    """Send ``command`` from a page: the sentence to show (the outcome's, or the refusal's) and
    the refusal, if it was refused."""
    try:
        return (await send(web, command)).message, None
    except DomainError as error:
        return error.message, error
