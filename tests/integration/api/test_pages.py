"""Pages through plain HTTP forms (the browser tests cover the scripted parts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.harness import WebStack

pytestmark = pytest.mark.integration
HTML = {"Accept": "text/html"}


def test_host_edits_reschedules_and_cancels_from_the_pages(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    csrf = hana.headers["X-CSRF-Token"]
    when = datetime.now(UTC) + timedelta(days=3)
    game_id = hana.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": "Old",
        "scheduled_at": when.isoformat()}).json()["game_id"]  # fmt: skip
    assert "Old" in hana.get(f"/games/{game_id}/edit", headers=HTML).text
    later = (when + timedelta(hours=2)).isoformat()
    saved = hana.post(f"/games/{game_id}/edit", headers=HTML, data={
        "csrf_token": csrf, "title": "New", "description": "Bring snacks",
        "scheduled_at": later})  # fmt: skip
    assert saved.status_code == 303, saved.text
    detail = hana.get(f"/api/v1/games/{game_id}").json()
    assert detail["title"] == "New"
    assert detail["description"] == "Bring snacks"
    assert datetime.fromisoformat(detail["scheduled_at"]) == datetime.fromisoformat(later)
    cancelled = hana.post(f"/games/{game_id}/cancel", headers=HTML,
                          data={"csrf_token": csrf, "reason": "storm"})  # fmt: skip
    assert cancelled.status_code == 200
    assert "Game cancelled." in cancelled.text
    assert hana.get(f"/api/v1/games/{game_id}").json()["status"] == "cancelled"


def test_settings_form_changes_channel_settings(web_stack: WebStack) -> None:
    hana = web_stack.login("hana")
    page = hana.post(
        f"/guilds/{web_stack.guild_id}/settings", params={"channel": web_stack.channel_id},
        headers=HTML, data={"csrf_token": hana.headers["X-CSRF-Token"], "max_players": "5",
                            "reminder_minutes": "30, 5", "waitlist_cap": "unlimited"},
    )  # fmt: skip
    assert page.status_code == 200
    assert "Channel settings updated" in page.text
    path = f"/api/v1/guilds/{web_stack.guild_id}/channels/{web_stack.channel_id}/settings"
    own = hana.get(path).json()["own"]
    assert own == {"max_players": 5, "reminder_minutes": [30, 5], "waitlist_cap": "unlimited"}


def test_pages_without_a_session_send_you_to_log_in(web_stack: WebStack) -> None:
    import httpx

    with httpx.Client(base_url=web_stack.url) as anonymous:
        home = anonymous.get("/")
        assert "Log in with Discord" in home.text
        guild = anonymous.get(f"/guilds/{web_stack.guild_id}")
        assert guild.status_code == 303
        assert guild.headers["location"] == f"/auth/login?next=/guilds/{web_stack.guild_id}"
        assert anonymous.get("/status").status_code == 200
        assert "htmx" in anonymous.get("/static/vendor/htmx.min.js").text


def test_the_create_form_twice_makes_one_game(web_stack: WebStack) -> None:
    import re

    hana = web_stack.login("hana")
    form_page = hana.get(f"/guilds/{web_stack.guild_id}/new", headers=HTML).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form_page)
    assert key is not None
    data = {"csrf_token": hana.headers["X-CSRF-Token"], "idempotency_key": key.group(1),
            "channel_id": web_stack.channel_id, "title": "Once",
            "scheduled_at": (datetime.now(UTC) + timedelta(days=4)).isoformat()}  # fmt: skip
    first = hana.post(f"/guilds/{web_stack.guild_id}/new", data=data, headers=HTML)
    second = hana.post(f"/guilds/{web_stack.guild_id}/new", data=data, headers=HTML)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
