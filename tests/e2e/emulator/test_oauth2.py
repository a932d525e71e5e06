"""OAuth2: the authorize page picks the user, code and refresh grants, bearer endpoints, state."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.e2e.emulator.conftest import World

pytestmark = pytest.mark.e2e

REDIRECT = "http://localhost:8000/auth/callback"


def _basic(client_id: object, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


STATE = "x9/?&=é state"


async def _authorize(
    http: aiohttp.ClientSession, world: World, user_id: int, scope: str, decision: str = "authorize"
) -> dict[str, list[str]]:
    app_id = str(world.emu.application_id)
    query = {
        "client_id": app_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": scope,
        "state": STATE,
    }
    async with http.get("/oauth2/authorize", params=query) as page:
        html = await page.text()
    assert page.status == 200
    assert "Alice" in html
    assert "Bob" in html
    form = {**query, "user_id": str(user_id), "decision": decision}
    async with http.post("/oauth2/authorize", data=form, allow_redirects=False) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


async def test_authorization_code_flow_and_bearer_endpoints(world: World) -> None:
    emu = world.emu
    basic = _basic(str(emu.application_id), emu.world.application.client_secret)
    async with aiohttp.ClientSession(emu.url) as http:
        params = await _authorize(
            http, world, world.alice.id, "identify guilds guilds.members.read"
        )
        assert params["state"] == [STATE]  # passed through unchanged
        code = params["code"][0]
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        async with http.post("/api/v10/oauth2/token", data=grant, headers=basic) as resp:
            tokens = await resp.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 604800
        assert set(tokens["scope"].split()) == {"identify", "guilds", "guilds.members.read"}
        async with http.post("/api/v10/oauth2/token", data=grant, headers=basic) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"] == "invalid_grant"

        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        async with http.get("/api/v10/users/@me", headers=bearer) as resp:
            me = await resp.json()
        assert me["id"] == str(world.alice.id)
        assert me["global_name"] == "Alice"
        async with http.get("/api/v10/users/@me/guilds", headers=bearer) as resp:
            [guild] = await resp.json()
        assert guild["id"] == str(world.guild.id)
        assert guild["owner"] is False
        assert int(guild["permissions"]) & (1 << 11)  # SEND_MESSAGES via @everyone
        async with http.get(
            f"/api/v10/users/@me/guilds/{world.guild.id}/member", headers=bearer
        ) as resp:
            member = await resp.json()
        assert member["nick"] == "Ali"
        assert member["user"]["username"] == "alice"

        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        form = {
            **refresh,
            "client_id": str(emu.application_id),
            "client_secret": emu.world.application.client_secret,
        }
        async with http.post("/api/v10/oauth2/token", data=form) as resp:
            renewed = await resp.json()
        async with http.get("/api/v10/users/@me", headers=bearer) as resp:
            assert resp.status == 401  # the old access token was replaced
        async with http.get(
            "/api/v10/users/@me", headers={"Authorization": f"Bearer {renewed['access_token']}"}
        ) as resp:
            assert (await resp.json())["id"] == str(world.alice.id)


async def test_scopes_denial_and_bad_client(world: World) -> None:
    emu = world.emu
    basic = _basic(str(emu.application_id), emu.world.application.client_secret)
    async with aiohttp.ClientSession(emu.url) as http:
        denied = await _authorize(http, world, world.bob.id, "identify", decision="cancel")
        assert denied["error"] == ["access_denied"]
        assert denied["state"] == [STATE]

        params = await _authorize(http, world, world.bob.id, "identify")
        grant = {
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": REDIRECT,
        }
        wrong = _basic(str(emu.application_id), "wrong-secret")
        async with http.post("/api/v10/oauth2/token", data=grant, headers=wrong) as resp:
            assert resp.status == 401
            assert (await resp.json()) == {"error": "invalid_client"}
        async with http.post("/api/v10/oauth2/token", data=grant, headers=basic) as resp:
            token = (await resp.json())["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.get("/api/v10/users/@me/guilds", headers=bearer) as resp:
            assert resp.status == 403
            assert (await resp.json())["code"] == 50001
        async with http.get(f"/api/v10/channels/{world.games.id}", headers=bearer) as resp:
            assert resp.status == 401  # bot-only route
