"""Mutes, attendance and analytics over the web, against real servers and emulated Discord."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain import commands
from tests.integration.api.harness import WebStack

pytestmark = pytest.mark.integration


def create(web_stack: WebStack, players: list[str], title: str = "Catan") -> str:
    made = web_stack.login("hana").post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": title,
        "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(), "max_players": 2,
        "players": players,
    })  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["game_id"])


def finish(web_stack: WebStack, game_id: str) -> None:
    """The host starts and completes the game (what the scheduler does at its times)."""
    host = web_stack.user_id("hana")
    for kind in (commands.StartGame, commands.CompleteGame):
        command = kind(command_id=str(uuid.uuid4()), user_id=host, role_ids=(), permissions=0,
                       game_id=game_id)  # fmt: skip
        web_stack.call(web_stack.container.commands.send(command))
    client = web_stack.login("hana")
    for _ in range(200):  # the page's cached view follows the log
        if client.get(f"/api/v1/games/{game_id}").json()["status"] == "completed":
            return
        time.sleep(0.05)
    raise AssertionError("the game did not show as completed")


def test_mute_and_unmute_a_game_and_a_server(web_stack: WebStack) -> None:
    game_id = create(web_stack, ["@bob"])
    bob = web_stack.login("bob")
    muted = bob.post(f"/api/v1/games/{game_id}/reminders/mute",
                     headers={"Idempotency-Key": "mute-1"})  # fmt: skip
    assert muted.status_code == 200, muted.text
    assert muted.json()["result"] != "unchanged"
    again = bob.post(f"/api/v1/games/{game_id}/reminders/mute",
                     headers={"Idempotency-Key": "mute-1"})  # fmt: skip
    assert again.json()["replayed"] is True
    no_token = web_stack.login("bob")
    del no_token.headers["X-CSRF-Token"]
    assert no_token.post(f"/games/{game_id}/unmute").status_code == 403  # CSRF, like every form
    page = bob.get(f"/games/{game_id}")
    assert re.search(r'data-testid="mute-state">muted<', page.text)
    toggled = bob.post(f"/games/{game_id}/unmute", data={"csrf_token": bob.headers["X-CSRF-Token"]},
                       headers={"HX-Request": "true"})  # fmt: skip
    assert toggled.status_code == 200
    assert 'data-testid="mute-state">on<' in toggled.text
    assert "<html" not in toggled.text
    server = bob.post(f"/api/v1/guilds/{web_stack.guild_id}/reminders/mute")
    assert server.status_code == 200, server.text
    assert 'data-testid="server-mute-state"' in bob.get(f"/games/{game_id}").text
    assert 'data-testid="server-mute-state"' not in web_stack.login("chen").get(
        f"/games/{game_id}").text  # fmt: skip
    back = bob.post(f"/api/v1/guilds/{web_stack.guild_id}/reminders/unmute")
    assert back.status_code == 200, back.text


def test_attendance_from_the_page_and_the_api_then_analytics(web_stack: WebStack) -> None:
    game_id = create(web_stack, ["@bob", "@chen"], title="Azul")
    hana, bob = web_stack.login("hana"), web_stack.login("bob")
    early = hana.post(f"/api/v1/games/{game_id}/attendance", json={"no_shows": []})
    assert early.status_code == 409  # not started yet
    assert 'data-testid="attendance-form"' not in hana.get(f"/games/{game_id}").text
    finish(web_stack, game_id)
    page = hana.get(f"/games/{game_id}")
    assert 'data-testid="attendance-form"' in page.text
    assert 'data-testid="attendance-form"' not in bob.get(f"/games/{game_id}").text
    chen = web_stack.user_id("chen")
    csrf = hana.headers["X-CSRF-Token"]
    form = hana.post(f"/games/{game_id}/attendance", data={"csrf_token": csrf, "no_show": chen})
    assert form.status_code == 200, form.text
    assert 'data-testid="attendance-message"' in form.text
    bob_form = bob.post(f"/games/{game_id}/attendance",
                        data={"csrf_token": bob.headers["X-CSRF-Token"]})  # fmt: skip
    assert bob_form.status_code == 403  # only the host or a manager
    refused = bob.post(f"/api/v1/games/{game_id}/attendance", json={"no_shows": []})
    assert refused.status_code == 403
    outsider = hana.post(f"/api/v1/games/{game_id}/attendance", json={"no_shows": ["123"]})
    assert outsider.status_code == 422  # not seated
    recorded = hana.post(f"/api/v1/games/{game_id}/attendance", json={"no_shows": [chen]})
    assert recorded.status_code == 200, recorded.text

    position = recorded.json()["position"]
    for _ in range(20):  # each call waits up to 2 s for the analytics projector
        figures = hana.get(f"/api/v1/guilds/{web_stack.guild_id}/analytics",
                           params={"after": position}).json()  # fmt: skip
        if figures["position"] >= position:
            break
    assert figures["position"] >= position
    totals = figures["totals"]
    assert totals["games_scheduled"] >= 1
    assert totals["no_shows"] >= 1
    assert figures["no_shows"][0]["display_name"] == "Chen"
    mine = hana.get(f"/api/v1/guilds/{web_stack.guild_id}/analytics",
                    params={"host_id": web_stack.user_id("bob")}).json()  # fmt: skip
    assert mine["totals"] is None
    html = hana.get(f"/guilds/{web_stack.guild_id}/analytics")
    assert html.status_code == 200
    assert html.text.count("<svg") >= 4
    assert 'data-testid="no-shows"' in html.text
    assert "cdn" not in html.text.lower().split("<svg", 1)[1]
    bob_only = hana.get(f"/guilds/{web_stack.guild_id}/analytics",
                        params={"host": web_stack.user_id("bob")})  # fmt: skip
    assert 'data-testid="no-games"' in bob_only.text
    assert ">Hana</option>" in bob_only.text  # the other hosts stay in the filter


def test_outsiders_get_404(web_stack: WebStack) -> None:
    game_id = create(web_stack, [])

    async def stranger() -> str:
        zed = web_stack.emu.people.user("zed", global_name="Zed")
        guild = web_stack.emu.people.guild("Elsewhere", owner=zed)
        guild.person(zed.id)
        return str(zed.id)

    zed_id = web_stack.call(stranger())
    web_stack.demo.people["zed"] = type("P", (), {"id": int(zed_id)})()  # type: ignore[assignment]
    zed = web_stack.login("zed")
    guild = web_stack.guild_id
    for path in (f"/api/v1/games/{game_id}/reminders/mute",
                 f"/api/v1/guilds/{guild}/reminders/mute",
                 f"/api/v1/games/{game_id}/attendance"):  # fmt: skip
        answer = zed.post(path, json={"no_shows": []})
        assert answer.status_code == 404, path
    for path in (f"/api/v1/guilds/{guild}/analytics", f"/api/v1/games/{game_id}?at=1"):
        assert zed.get(path).status_code == 404, path
    assert zed.get(f"/guilds/{guild}/analytics", headers={"Accept": "text/html"}).status_code == 404
    assert zed.get(f"/games/{game_id}/timeline?at=1").status_code == 404
