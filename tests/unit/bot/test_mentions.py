"""Initial players: each @mention must be exactly one member; names are placeholders."""

from __future__ import annotations

from typing import Any

from bot.mentions import entries, read_roster


def member(user_id: str, username: str, global_name: str | None = None,
           nick: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"user": {"id": user_id, "username": username, "global_name": global_name},
            "nick": nick}  # fmt: skip


class FakeMembers:
    """The member search of the REST client, over a fixed list (prefix match like Discord)."""

    def __init__(self, members: list[dict[str, Any]]) -> None:
        self.members = members

    async def search_members(
        self, guild_id: str | int, query: str, limit: int = 10
    ) -> list[dict[str, Any]]:
        q = query.lower()
        found = [
            m for m in self.members
            if any((n or "").lower().startswith(q)
                   for n in (m["user"]["username"], m["user"]["global_name"], m["nick"]))
        ]  # fmt: skip
        return found[:limit]

    async def member(self, guild_id: str | int, user_id: str | int) -> dict[str, Any] | None:
        return next((m for m in self.members if m["user"]["id"] == str(user_id)), None)


MEMBERS = FakeMembers([
    member("1", "alice", "Alice", "Ali"), member("2", "alex", "Alex"), member("3", "bob"),
    member("4", "bobby"), member("5", "chen.wei", "Chen Wei", "Chen"),
])  # fmt: skip


async def test_mentions_names_and_ids() -> None:
    roster = await read_roster("@alice, <@3>\nSam (no Discord), @Chen, @bob", "9", MEMBERS)
    assert roster.players == ["1", "3", "5"]  # exact names win; duplicates kept once
    assert roster.placeholders == ["Sam (no Discord)"]
    assert roster.problems == []


async def test_each_bad_entry_is_explained_with_suggestions() -> None:
    roster = await read_roster("@al, @zed, <@77>, @", "9", MEMBERS)
    assert roster.players == []
    assert roster.problems == [
        "@al matches 2 members. Did you mean `@alice` (Ali), `@alex` (Alex)?",
        "No member is called @zed.",
        "<@77> is not a member of this server.",
        "`@` alone is not a member; write their name after it.",
    ]


async def test_a_single_partial_match_is_taken() -> None:
    roster = await read_roster("@chen.w", "9", MEMBERS)
    assert roster.players == ["5"]


def test_entries_split_on_commas_and_lines() -> None:
    assert entries(" a ,b\n\n c,") == ["a", "b", "c"]
