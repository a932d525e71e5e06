"""The games API end to end against real servers and the emulated Discord."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.harness import WebStack

pytestmark = pytest.mark.integration


def when(hours: int = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_create_join_leave_with_read_your_writes(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    bob = web_stack.login("bob")
    made = hana.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": "Catan",
        "scheduled_at": when(), "max_players": 2, "players": ["@alice"],
        "placeholders": ["Uncle Joe"],
    }, headers={"Idempotency-Key": "create-catan"})  # fmt: skip
    assert made.status_code == 201, made.text
    game_id = made.json()["game_id"]
    again = hana.post(
        "/api/v1/games",
        json={
            "guild_id": web_stack.guild_id,
            "channel_id": web_stack.channel_id,
            "title": "Catan",
            "scheduled_at": when(),
            "players": ["@alice"],
        },
        headers={"Idempotency-Key": "create-catan"},
    )
    assert again.json()["replayed"] is True
    assert again.json()["game_id"] == game_id

    joined = bob.post(f"/api/v1/games/{game_id}/join")
    assert joined.status_code == 200, joined.text
    detail = bob.get(f"/api/v1/games/{game_id}").json()  # read-your-writes: visible at once
    assert [p["display_name"] for p in detail["players"]] == ["Ali the Bold", "Bob"]
    assert detail["placeholders"][0]["label"] == "Uncle Joe"
    assert detail["settings"]["max_players"] == {"value": 2, "source": "game"}
    assert detail["settings"]["reminder_minutes"]["source"] == "default"
    assert detail["host_name"] == "Hana"

    chen = web_stack.login("chen")
    waiting = chen.post(f"/api/v1/games/{game_id}/join").json()
    assert waiting["result"] == "waitlisted"
    full = chen.post(f"/api/v1/games/{game_id}/join")
    assert full.status_code == 409
    assert full.json()["error"]["code"] == "already_joined"
    left = bob.post(f"/api/v1/games/{game_id}/leave").json()
    assert left["promoted"] == [web_stack.user_id("chen")]


def test_etag_and_if_none_match(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    game_id = hana.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": "Go",
        "scheduled_at": when()}).json()["game_id"]  # fmt: skip
    # The Discord projection records its announcement on the game soon after the create, so
    # the game may change between two reads: a read with the last ETag must come back 304 once
    # it stops changing (a handful of reads at most; never, if ETags were broken).
    tag = hana.get(f"/api/v1/games/{game_id}").headers["etag"]
    for _ in range(20):
        again = hana.get(f"/api/v1/games/{game_id}", headers={"If-None-Match": tag})
        if again.status_code == 304:
            break
        assert again.status_code == 200
        assert again.headers["etag"] != tag
        tag = again.headers["etag"]
    else:
        raise AssertionError("If-None-Match with the current ETag never answered 304")
    web_stack.login("bob").post(f"/api/v1/games/{game_id}/join")
    changed = hana.get(f"/api/v1/games/{game_id}", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


def test_bad_mentions_are_listed_with_suggestions_and_the_form(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    form = {
        "guild_id": web_stack.guild_id,
        "channel_id": web_stack.channel_id,
        "title": "Raid",
        "scheduled_at": when(),
        "players": ["@alic", "@bob", "@nobody"],
    }
    answer = hana.post("/api/v1/games", json=form)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "bad_mentions"
    assert error["field"] == "players"
    bad = {b["input"]: b for b in error["details"][0]["bad_mentions"]}
    assert set(bad) == {"@alic", "@nobody"}
    assert bad["@alic"]["suggestions"][0] == "@alice"
    assert len(bad["@nobody"]["suggestions"]) <= 5
    assert error["details"][0]["form"]["title"] == "Raid"


def test_list_filters_and_cursor_pagination(web_stack: WebStack) -> None:
    alice = web_stack.login("alice")
    tag = uuid.uuid4().hex[:8]
    ids = [alice.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id,
        "title": f"Night {i}", "category": tag, "scheduled_at": when(100 + i)}).json()["game_id"]
        for i in range(5)]  # fmt: skip
    seen: list[str] = []
    cursor = None
    while True:
        params = {"guild_id": web_stack.guild_id, "category": tag, "limit": 2}
        page = alice.get(
            "/api/v1/games", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        body = page.json()
        seen += [g["game_id"] for g in body["games"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    hosted = alice.get("/api/v1/games", params={"host_id": web_stack.user_id("alice"),
                                                "category": tag}).json()  # fmt: skip
    assert len(hosted["games"]) == 5
    none = alice.get("/api/v1/games", params={"participant_id": web_stack.user_id("eve"),
                                              "category": tag}).json()  # fmt: skip
    assert none["games"] == []
    bad = alice.get("/api/v1/games", params={"cursor": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "cursor"
    # Found by the schemathesis run: a NUL in a text filter reached PostgreSQL and answered 500.
    nul = alice.get("/api/v1/games", params={"category": "a\x00b"})
    assert nul.status_code == 422, nul.text
    assert nul.json()["error"]["field"] == "category"
    page = alice.get(f"/guilds/{web_stack.guild_id}", params={"category": "a\x00b"})
    assert page.status_code == 200, page.text[:300]


def test_domain_errors_are_4xx_with_one_shape(web_stack: WebStack) -> None:
    hana, bob = web_stack.login("hana"), web_stack.login("bob")
    game_id = hana.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": "Chess",
        "scheduled_at": when()}).json()["game_id"]  # fmt: skip
    refused = bob.post(f"/api/v1/games/{game_id}/cancel", json={"reason": "no"})
    assert refused.status_code == 403
    assert set(refused.json()["error"]) >= {"code", "message"}
    assert bob.post(f"/api/v1/games/{game_id}/leave").json()["error"]["code"] == "not_joined"
    past = hana.post(f"/api/v1/games/{game_id}/reschedule",
                     json={"scheduled_at": "2000-01-01T00:00:00Z"})  # fmt: skip
    assert past.status_code == 422
    assert past.json()["error"]["field"] == "scheduled_at"
    cancelled = hana.post(f"/api/v1/games/{game_id}/cancel", json={"reason": "rain"})
    assert cancelled.json()["result"] == "game_cancelled"
    assert bob.post(f"/api/v1/games/{game_id}/join").json()["error"]["code"] == "game_not_open"
    timeline = hana.get(f"/api/v1/games/{game_id}/timeline").json()
    assert [e["type"] for e in timeline] == ["game.created.v1", "game.cancelled.v1"]


def test_settings_follow_discord_permissions(web_stack: WebStack) -> None:
    hana, bob = web_stack.login("hana"), web_stack.login("bob")
    path = f"/api/v1/guilds/{web_stack.guild_id}/settings"
    assert bob.get(path).json()["can_change"] is False
    assert bob.patch(path, json={"max_players": 6}).status_code == 403
    changed = hana.patch(path, json={"max_players": 6, "rules": "Be kind"})
    assert changed.status_code == 200, changed.text
    view = bob.get(path).json()
    assert view["effective"]["max_players"] == {"value": 6, "source": "guild"}
    channel = f"/api/v1/guilds/{web_stack.guild_id}/channels/{web_stack.channel_id}/settings"
    assert hana.patch(channel, json={"max_players": 4}).status_code == 200
    assert bob.get(channel).json()["effective"]["max_players"] == {"value": 4, "source": "channel"}
    guilds = bob.get("/api/v1/guilds").json()
    assert [g["id"] for g in guilds] == [web_stack.guild_id]
    channels = bob.get(f"/api/v1/guilds/{web_stack.guild_id}/channels").json()
    assert {c["name"] for c in channels} == {"games", "general"}


def test_players_carry_their_avatar(web_stack: WebStack) -> None:
    async def add() -> str:
        frank = web_stack.demo.guild.member("frank", global_name="Frank", avatar="a1b2c3")
        return str(frank.id)

    frank_id = web_stack.call(add())
    web_stack.demo.people["frank"] = web_stack.demo.guild.person(int(frank_id))
    hana = web_stack.login("hana")
    made = hana.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": "Faces",
        "scheduled_at": when(), "players": ["@frank", "@bob"]})  # fmt: skip
    players = hana.get(f"/api/v1/games/{made.json()['game_id']}").json()["players"]
    by_name = {p["display_name"]: p["avatar_url"] for p in players}
    assert by_name["Frank"] == f"https://cdn.discordapp.com/avatars/{frank_id}/a1b2c3.png?size=64"
    assert by_name["Bob"] is None
