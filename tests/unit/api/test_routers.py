"""Routers against fake ports: what each HTTP request sends to the domain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api import create_app
from api.config import SESSION_COOKIE
from api.sessions import create_session, signer
from domain.commands import (
    ConfigureGuild,
    CreateGame,
    MuteGuildReminders,
    UnmuteGuildReminders,
)
from tests.unit.api.fakes import CHANNEL, GUILD, FakeCommands, fake_web

WHEN = "2031-01-01T20:00:00Z"


@pytest.fixture
async def client_as() -> AsyncIterator[tuple[object, FakeCommands]]:
    web, commands, _ = fake_web()
    app = create_app(web, live=False)
    clients: list[httpx.AsyncClient] = []

    async def login(user_id: str) -> httpx.AsyncClient:
        user = {"id": user_id, "username": f"user{user_id}"}
        session = await create_session(web, user, {"access_token": "t", "expires_in": 3600})
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://testserver")  # fmt: skip
        client.cookies.set(SESSION_COOKIE, signer(web).dumps(session.session_id))
        client.headers["X-CSRF-Token"] = session.csrf
        clients.append(client)
        return client

    yield login, commands
    for client in clients:
        await client.aclose()


async def test_create_sends_one_command_with_resolved_mentions_and_the_users_key(
    client_as: tuple[object, FakeCommands],
) -> None:
    login, commands = client_as
    alice = await login("2")  # type: ignore[operator]
    answer = await alice.post("/api/v1/games", params={"wait": "false"},
                              headers={"Idempotency-Key": "k-1"},
                              json={"guild_id": GUILD, "channel_id": CHANNEL, "title": "Go",
                                    "scheduled_at": WHEN, "players": ["@bob", "<@3>"],
                                    "placeholders": [" Tim ", ""]})  # fmt: skip
    assert answer.status_code == 201, answer.text
    [command] = commands.sent
    assert isinstance(command, CreateGame)
    assert command.command_id == "api:2:k-1"
    assert command.players == ("4", "3")
    assert command.placeholders == ("Tim",)
    assert command.role_ids == ("300",)
    assert command.permissions == 0x20  # from the host role


async def test_an_ambiguous_or_unknown_mention_sends_nothing(
    client_as: tuple[object, FakeCommands],
) -> None:
    login, commands = client_as
    alice = await login("2")  # type: ignore[operator]
    answer = await alice.post("/api/v1/games", json={
        "guild_id": GUILD, "channel_id": CHANNEL, "title": "Go", "scheduled_at": WHEN,
        "players": ["@ali", "@zed", "@Alice"]})  # fmt: skip
    assert answer.status_code == 422
    bad = answer.json()["error"]["details"][0]["bad_mentions"]
    assert [(b["input"], b["reason"]) for b in bad] == [
        ("@ali", "matches no member"), ("@zed", "matches no member")]  # fmt: skip
    assert set(bad[0]["suggestions"]) == {"@alice", "@alicia"}
    assert commands.sent == []


async def test_the_owner_has_every_permission_and_others_their_roles(
    client_as: tuple[object, FakeCommands],
) -> None:
    login, commands = client_as
    owner, bob = await login("1"), await login("4")  # type: ignore[operator]
    path = f"/api/v1/guilds/{GUILD}/settings"
    assert (
        await owner.patch(path, params={"wait": "false"}, json={"rules": "x"})
    ).status_code == 200
    assert (await bob.patch(path, params={"wait": "false"}, json={"rules": "y"})).status_code == 200
    first, second = commands.sent
    assert isinstance(first, ConfigureGuild)
    assert first.permissions & 0x20
    assert isinstance(second, ConfigureGuild)
    assert second.permissions == 0  # the domain refuses it (not decided here)


async def test_writes_need_the_csrf_token_and_a_session(
    client_as: tuple[object, FakeCommands],
) -> None:
    login, commands = client_as
    bob = await login("4")  # type: ignore[operator]
    del bob.headers["X-CSRF-Token"]
    refused = await bob.patch(f"/api/v1/guilds/{GUILD}/settings", json={"rules": "y"})
    assert refused.status_code == 403
    bob.cookies.clear()
    assert (await bob.get("/auth/me")).status_code == 401
    assert commands.sent == []


async def test_strangers_get_404_for_a_guild(client_as: tuple[object, FakeCommands]) -> None:
    login, _ = client_as
    stranger = await login("99")  # type: ignore[operator]
    answer = await stranger.get(f"/api/v1/guilds/{GUILD}/channels")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "guild_not_found"


async def test_login_says_when_it_is_not_configured() -> None:
    web, _, _ = fake_web()
    web.config = type(web.config)(**{**web.config.__dict__, "client_secret": ""})
    app = create_app(web, live=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get("/auth/login")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "login_not_configured"


async def test_server_mutes_go_through_the_port_with_the_users_key(
    client_as: tuple[object, FakeCommands],
) -> None:
    login, commands = client_as
    bob, stranger = await login("4"), await login("99")  # type: ignore[operator]
    path = f"/api/v1/guilds/{GUILD}/reminders"
    muted = await bob.post(f"{path}/mute", params={"wait": "false"},
                           headers={"Idempotency-Key": "m-1"})  # fmt: skip
    assert muted.status_code == 200, muted.text
    assert (await bob.post(f"{path}/unmute", params={"wait": "false"})).status_code == 200
    assert (await stranger.post(f"{path}/mute")).status_code == 404
    first, second = commands.sent
    assert isinstance(first, MuteGuildReminders)
    assert (first.command_id, first.user_id, first.guild_id) == ("api:4:m-1", "4", GUILD)
    assert isinstance(second, UnmuteGuildReminders)


async def test_a_command_not_confirmed_in_time_is_a_503_that_says_retrying_is_safe(
    client_as: tuple[object, FakeCommands],
) -> None:
    login, commands = client_as
    commands.busy = True
    alice = await login("2")  # type: ignore[operator]
    answer = await alice.post("/api/v1/games", params={"wait": "false"},
                              headers={"Idempotency-Key": "k-2"},
                              json={"guild_id": GUILD, "channel_id": CHANNEL, "title": "Go",
                                    "scheduled_at": WHEN})  # fmt: skip
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    error = answer.json()["error"]
    assert error["code"] == "busy"
    assert "same Idempotency-Key" in error["fix"]
