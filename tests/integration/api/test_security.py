"""Guild isolation, login state, CSRF, cookies and sessions: refused cleanly, never a trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.api.harness import WebStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def other_game(web_stack: WebStack) -> str:
    """A game in a second guild that only Zoe (and not the demo members) belongs to."""

    async def make() -> tuple[str, str, str]:
        zoe = web_stack.emu.people.user("zoe", global_name="Zoe")
        guild = web_stack.emu.people.guild("Secret Club", owner=zoe)
        channel = guild.text_channel("plans")
        guild.person(zoe.id)
        return str(zoe.id), str(guild.id), str(channel.id)

    zoe_id, guild_id, channel_id = web_stack.call(make())
    web_stack.demo.people["zoe"] = type("P", (), {"id": int(zoe_id)})()  # type: ignore[assignment]
    zoe = web_stack.login("zoe")
    made = zoe.post("/api/v1/games", json={
        "guild_id": guild_id, "channel_id": channel_id, "title": "Secret",
        "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})  # fmt: skip
    assert made.status_code == 201, made.text
    zoe.close()
    return str(made.json()["game_id"])


def test_other_guilds_game_is_404_on_api_page_and_feed(
    web_stack: WebStack, other_game: str
) -> None:
    bob = web_stack.login("bob")
    for path in (f"/api/v1/games/{other_game}", f"/api/v1/games/{other_game}/participants",
                 f"/api/v1/games/{other_game}/timeline"):  # fmt: skip
        answer = bob.get(path)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "game_not_found"
    assert bob.post(f"/api/v1/games/{other_game}/join").status_code == 404
    page = bob.get(f"/games/{other_game}", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "Secret" not in page.text
    assert bob.get(f"/live/games/{other_game}").status_code == 404
    missing = bob.get("/api/v1/games/00000000-0000-0000-0000-000000000000")
    assert missing.json() == answer.json()  # indistinguishable from "no such game"
    feed = web_stack.login("zoe").get("/api/v1/feeds", params={"scope": "me"}).json()["url"]
    token_path = feed.split(web_stack.url)[1]
    assert "Secret" in httpx.get(web_stack.url + token_path).text
    listed = bob.get("/api/v1/games").json()["games"]
    assert other_game not in {g["game_id"] for g in listed}


def test_feed_url_is_revocable(web_stack: WebStack) -> None:
    bob = web_stack.login("bob")
    old = bob.get("/api/v1/feeds", params={"scope": web_stack.guild_id}).json()["url"]
    assert httpx.get(old).headers["content-type"].startswith("text/calendar")
    new = bob.post("/api/v1/feeds/revoke", params={"scope": web_stack.guild_id}).json()["url"]
    assert new != old
    assert httpx.get(old).status_code == 404
    assert b"BEGIN:VCALENDAR" in httpx.get(new).content


def test_forged_state_is_refused(web_stack: WebStack) -> None:
    with httpx.Client(base_url=web_stack.url) as client:
        client.get("/auth/login")
        forged = client.get("/auth/callback", params={"code": "x", "state": "forged"})
        assert forged.status_code == 400
        assert forged.json()["error"]["code"] == "login_refused"
    with httpx.Client(base_url=web_stack.url) as client:  # a state from another browser
        other = httpx.get(f"{web_stack.url}/auth/login").headers["location"]
        state = other.split("state=")[1].split("&")[0]
        stolen = client.get("/auth/callback", params={"code": "x", "state": state})
        assert stolen.status_code == 400


def test_missing_csrf_token_is_refused(web_stack: WebStack) -> None:
    bob = web_stack.login("bob")
    del bob.headers["X-CSRF-Token"]
    answer = bob.patch(f"/api/v1/guilds/{web_stack.guild_id}/settings", json={"max_players": 3})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf_failed"
    form = bob.post(f"/guilds/{web_stack.guild_id}/settings", data={"max_players": "3"},
                    headers={"Accept": "text/html"})  # fmt: skip
    assert form.status_code == 403
    assert "CSRF" in form.text
    wrong = bob.post("/auth/logout", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403


def test_tampered_cookie_and_expired_session_are_refused(web_stack: WebStack) -> None:
    bob = web_stack.login("bob")
    cookie = bob.cookies["muster_session"]
    with httpx.Client(base_url=web_stack.url) as client:
        client.cookies.set("muster_session", cookie[:-2] + ("A" if cookie[-1] != "A" else "B") * 2)
        assert client.get("/auth/me").status_code == 401
    sid = cookie.split(".")[0]
    import base64
    import json

    session_id = json.loads(base64.urlsafe_b64decode(sid + "=" * (-len(sid) % 4)))

    async def expire() -> None:
        await web_stack.container.redis.delete(f"muster:web:session:{session_id}")

    web_stack.call(expire())
    answer = bob.get("/auth/me")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_logged_in"
    page = bob.get(f"/guilds/{web_stack.guild_id}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login")


def test_session_cookie_flags_and_no_tokens_in_browser(web_stack: WebStack) -> None:
    with httpx.Client(base_url=web_stack.url) as client:
        start = client.get("/auth/login")
        authorize = start.headers["location"]
        from urllib.parse import parse_qs, urlsplit

        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        answer = httpx.post(authorize.split("?")[0], data={
            **query, "user_id": web_stack.user_id("bob"), "decision": "authorize"})  # fmt: skip
        done = client.get(answer.headers["location"])
        header = done.headers["set-cookie"].lower()
        assert "muster_session=" in header
        assert "httponly" in header
        assert "samesite=lax" in header
        assert "secure" not in header  # plain http on loopback; https public URLs add it
        me = client.get("/auth/me").json()
        assert "access_token" not in str(me)
        assert "refresh" not in str(me)
        refreshed = client.post("/auth/refresh", headers={"X-CSRF-Token": me["csrf_token"]})
        assert refreshed.status_code == 200
        out = client.post("/auth/logout", headers={"X-CSRF-Token": me["csrf_token"]})
        assert out.status_code == 204
        assert client.get("/auth/me").status_code == 401


def test_unknown_routes_and_bad_input_never_show_a_trace(web_stack: WebStack) -> None:
    bob = web_stack.login("bob")
    broken = {"Content-Type": "application/json"}
    for answer in (bob.get("/api/v1/nope"), bob.get("/api/v1/games/not-a-uuid"),
                   bob.post("/api/v1/games", content=b"{", headers=broken),
                   bob.get("/api/v1/games", params={"limit": "x"})):  # fmt: skip
        assert 400 <= answer.status_code < 500
        assert "Traceback" not in answer.text
        assert "error" in answer.json()
