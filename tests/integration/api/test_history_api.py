"""Time travel over the web: ``?at=`` on a game, and stepping through versions on its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.harness import WebStack

pytestmark = pytest.mark.integration


def create(web_stack: WebStack, who: str = "hana", title: str = "Catan") -> str:
    client = web_stack.login(who)
    made = client.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": title,
        "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(), "max_players": 4,
    })  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["game_id"])


def test_the_game_as_it_was_at_a_position_or_a_time(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    game_id = create(web_stack)
    created = hana.get(f"/api/v1/games/{game_id}").json()
    before_join = datetime.now(UTC).isoformat()
    assert web_stack.login("bob").post(f"/api/v1/games/{game_id}/join").status_code == 200
    hana.patch(f"/api/v1/games/{game_id}", json={"title": "Catan (with seafarers)"})

    now = hana.get(f"/api/v1/games/{game_id}").json()
    assert now["title"] == "Catan (with seafarers)"
    assert [p["display_name"] for p in now["players"]] == ["Bob"]
    then = hana.get(f"/api/v1/games/{game_id}", params={"at": created["position"]}).json()
    assert then["title"] == "Catan"
    assert then["players"] == []
    assert then["position"] == created["position"]
    assert then["settings"]["max_players"] == {"value": 4, "source": "game"}
    by_time = hana.get(f"/api/v1/games/{game_id}", params={"at": before_join}).json()
    assert by_time["players"] == []
    assert by_time["title"] == "Catan"
    timeline = hana.get(f"/api/v1/games/{game_id}/timeline").json()
    joined_at = next(e["position"] for e in timeline if e["type"] == "game.player_joined.v1")
    mid = hana.get(f"/api/v1/games/{game_id}", params={"at": joined_at}).json()
    assert [p["display_name"] for p in mid["players"]] == ["Bob"]
    assert mid["title"] == "Catan"


def test_a_bad_or_too_early_point_is_one_clear_error(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    game_id = create(web_stack)
    bad = hana.get(f"/api/v1/games/{game_id}", params={"at": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_at"
    assert bad.json()["error"]["field"] == "at"
    early = hana.get(f"/api/v1/games/{game_id}", params={"at": "2000-01-01T00:00:00Z"})
    assert early.status_code == 404
    assert early.json()["error"]["code"] == "game_not_yet_created"


def test_the_history_page_steps_through_versions(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    game_id = create(web_stack, title="Azul")
    web_stack.login("bob").post(f"/api/v1/games/{game_id}/join")
    timeline = hana.get(f"/api/v1/games/{game_id}/timeline").json()
    first = timeline[0]["position"]
    following = timeline[1]["position"]  # the join, or the announcement recorded before it
    second = next(e["position"] for e in timeline if e["type"] == "game.player_joined.v1")
    page = hana.get(f"/games/{game_id}/timeline", params={"at": first})
    assert page.status_code == 200
    assert 'data-testid="as-of"' in page.text
    assert "none" in page.text
    assert f"?at={following}" in page.text  # the link to the next version
    step = hana.get(f"/games/{game_id}/timeline", params={"at": second},
                    headers={"HX-Request": "true"})  # fmt: skip
    assert step.status_code == 200
    assert "<html" not in step.text
    assert "Bob" in step.text
