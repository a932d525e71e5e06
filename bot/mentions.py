"""Initial players typed by a host: ``@mentions`` that must each be one member, and names.

The host types entries separated by commas or new lines. ``<@123>`` (a real mention) and
``@name`` must resolve to exactly one member of the guild; anything else is a placeholder (a
name shown on the list that takes no seat). ``@name`` is looked up with the Discord REST
client's cached member search; an exact username, global name or nick wins, a single partial
match is taken, and otherwise the problem is explained with up to five suggestions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

MENTION = re.compile(r"^<@!?(\d{1,20})>$")
MAX_SUGGESTIONS = 5


class MemberSearch(Protocol):
    """The part of ``gateways.discord.reads.Reads`` this needs."""

    async def search_members(
        self, guild_id: str | int, query: str, limit: int = 10
    ) -> list[dict[str, Any]]: ...

    async def member(self, guild_id: str | int, user_id: str | int) -> dict[str, Any] | None: ...


@dataclass
class Roster:
    """What the host typed, read: member ids, placeholder names, and each bad entry."""

    players: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def entries(text: str) -> list[str]:
    return [e.strip() for e in re.split(r"[,\n]", text) if e.strip()]


def _names(member: dict[str, Any]) -> set[str]:
    user = member.get("user") or {}
    found = {user.get("username"), user.get("global_name"), member.get("nick")}
    return {n.lower() for n in found if n}


def _label(member: dict[str, Any]) -> str:
    user = member.get("user") or {}
    shown = member.get("nick") or user.get("global_name")
    name = f"@{user.get('username')}"
    return f"`{name}` ({shown})" if shown and shown != user.get("username") else f"`{name}`"


def _suggest(members: Sequence[dict[str, Any]]) -> str:
    picks = ", ".join(_label(m) for m in members[:MAX_SUGGESTIONS])
    return f" Did you mean {picks}?" if picks else ""


async def read_roster(text: str, guild_id: str, members: MemberSearch | None) -> Roster:
    """Resolve every entry; ``problems`` says, per bad entry, what is wrong and suggestions."""
    roster = Roster()
    for entry in entries(text):
        mention = MENTION.match(entry)
        if mention:
            user_id = mention[1]
            found = await members.member(guild_id, user_id) if members else None
            if found is None:
                roster.problems.append(f"{entry} is not a member of this server.")
            elif user_id not in roster.players:
                roster.players.append(user_id)
            continue
        if not entry.startswith("@"):
            roster.placeholders.append(entry)
            continue
        name = entry[1:].strip()
        user_id, problem = await _one_member(name, guild_id, members)
        if problem:
            roster.problems.append(problem)
        elif user_id and user_id not in roster.players:
            roster.players.append(user_id)
    return roster


async def _one_member(
    name: str, guild_id: str, members: MemberSearch | None
) -> tuple[str | None, str | None]:
    if members is None:
        return None, f"@{name}: members cannot be looked up right now; use a real @mention."
    if not name:
        return None, "`@` alone is not a member; write their name after it."
    found = await members.search_members(guild_id, name, 10)
    exact = [m for m in found if name.lower() in _names(m)]
    if len(exact) == 1:
        return str(exact[0]["user"]["id"]), None
    if not exact and len(found) == 1:
        return str(found[0]["user"]["id"]), None
    if len(exact) > 1 or len(found) > 1:
        many = exact or found
        return None, f"@{name} matches {len(many)} members.{_suggest(many)}"
    nearby = await members.search_members(guild_id, name[:2], MAX_SUGGESTIONS) if name else []
    return None, f"No member is called @{name}.{_suggest(nearby)}"
