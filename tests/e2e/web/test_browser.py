"""A real browser (Debian's Chromium through Playwright) through the emulated Discord:
log in → create a game with a bad mention → pick a suggestion → game page → Muster announces it
in the emulated #games → a member clicks Join there → the open page shows them without a
reload; the history steps through versions; analytics; reminders muted from a phone.
Screenshots of the main pages go to a temporary directory, or to MUSTER_SCREENSHOT_DIR when it is
set (`MUSTER_SCREENSHOT_DIR=docs/screenshots` refreshes the ones in the docs).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.integration.api.harness import WebStack, game_id_from

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("MUSTER_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="muster-shots-"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (apt-get install -y chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, stack: WebStack, who: str) -> None:
    page.goto(stack.url + "/")
    page.locator("a", has_text="Log in with Discord").first.click()
    page.check(f"input[name=user_id][value='{stack.user_id(who)}']")
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_role("heading", name="Your servers")).to_be_visible()


def test_log_in_create_with_suggestion_and_see_a_join_live(
    web_stack: WebStack, browser: Browser
) -> None:
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, timezone_id="Europe/Paris"
    )
    page = context.new_page()
    log_in(page, web_stack, "hana")

    hana = web_stack.login("hana")
    channel = f"/api/v1/guilds/{web_stack.guild_id}/channels/{web_stack.channel_id}/settings"
    assert hana.patch(channel, json={"max_players": 6}).status_code == 200
    page.get_by_role("link", name="Muster Sandbox").click()
    page.locator("a", has_text="New game").first.click()
    inherited = page.locator("#inherited")
    expect(inherited).to_contain_text("from channel")  # #games overrides max players
    page.get_by_label("Channel").select_option(label="#general")
    expect(inherited).not_to_contain_text("from channel")  # swapped in by HTMX
    page.get_by_label("Channel").select_option(label="#games")
    expect(inherited).to_contain_text("from channel")
    page.get_by_label("Title").fill("Board game night")
    page.fill("#when-local", "2031-03-14T20:00")
    page.get_by_label("Players (@mentions", exact=False).fill("@alic\n@bob")
    page.get_by_label("Placeholders", exact=False).fill("Cousin Tim")
    page.get_by_role("button", name="Create game").click()
    expect(page.get_by_test_id("bad-mention")).to_contain_text("@alic")
    expect(page.get_by_label("Title")).to_have_value("Board game night")  # kept what was typed
    shot(page, "create-bad-mention")
    page.get_by_role("button", name="@alice").click()
    expect(page.locator("#players")).to_have_value("@alice\n@bob")
    page.get_by_role("button", name="Create game").click()

    expect(page).to_have_url(re.compile(r"/games/[0-9a-f-]{36}$"))
    players = page.get_by_test_id("players")
    expect(players).to_contain_text("Ali the Bold")
    expect(players).to_contain_text("Bob")
    expect(players).to_contain_text("Cousin Tim")
    expect(page.get_by_test_id("count")).to_have_text("2/6")
    expect(page.locator("time").first).to_contain_text("2031")
    game_id = game_id_from(page.url)

    # Muster's Discord projection announces the game in #games; Dmitri clicks its Join button
    # in the emulated Discord (the real bot answers):
    message = web_stack.call(web_stack.announcement(game_id))
    announced = web_stack.demo.games.messages[message]
    assert announced.embeds[0]["title"] == "Board game night"
    expect(page.get_by_test_id("live")).to_have_text("listening")  # the stream is subscribed
    web_stack.click_join("dmitri", game_id)
    expect(players).to_contain_text("dmitri", timeout=10_000)  # no reload: SSE swapped it in
    chen = web_stack.login("chen")
    assert chen.post(f"/api/v1/games/{game_id}/join").status_code == 200  # and through the API
    expect(players).to_contain_text("Chen", timeout=10_000)
    shot(page, "game")

    page.goto(f"{web_stack.url}/games/{game_id}/timeline")
    expect(
        page.get_by_role("cell", name="game.player_joined.v1", exact=False).first
    ).to_be_visible()
    page.get_by_role("link", name="Step through its versions").click()  # HTMX, no reload
    as_of = page.get_by_test_id("as-of")
    expect(as_of).to_contain_text("Board game night")
    expect(page.get_by_test_id("as-of-count")).to_have_text("0/6")  # the seats come next
    page.get_by_test_id("later").click()
    expect(page).to_have_url(re.compile(r"/timeline\?at=\d+$"))
    shot(page, "timeline")

    page.goto(f"{web_stack.url}/guilds/{web_stack.guild_id}/analytics")
    expect(page.get_by_test_id("games-scheduled")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    shot(page, "analytics")
    page.goto(f"{web_stack.url}/guilds/{web_stack.guild_id}")
    expect(page.get_by_role("link", name="Board game night")).to_be_visible()
    expect(page.get_by_test_id("live")).to_have_text("listening")
    made = hana.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id,
        "title": "Pop-up poker", "scheduled_at": "2031-03-15T19:00:00Z"})  # fmt: skip
    assert made.status_code == 201, made.text
    expect(page.get_by_role("link", name="Pop-up poker")).to_be_visible()  # no reload
    shot(page, "guild-games")
    page.goto(f"{web_stack.url}/guilds/{web_stack.guild_id}?view=calendar&month=2031-03")
    expect(page.get_by_role("link", name="Board game night")).to_be_visible()
    shot(page, "guild-calendar")
    page.goto(f"{web_stack.url}/guilds/{web_stack.guild_id}/settings")
    shot(page, "settings")
    page.goto(f"{web_stack.url}/status")
    shot(page, "status")
    page.goto(f"{web_stack.url}/")
    expect(page.get_by_role("heading", name="Hosting")).to_be_visible()
    shot(page, "home")
    context.close()


def test_join_and_leave_buttons_on_a_phone(web_stack: WebStack, browser: Browser) -> None:
    hana = web_stack.login("hana")
    game_id = hana.post("/api/v1/games", json={
        "guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id, "title": "Quick one",
        "scheduled_at": "2031-04-01T18:00:00Z"}).json()["game_id"]  # fmt: skip
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, web_stack, "eve")
    page.goto(f"{web_stack.url}/games/{game_id}")
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("status")).to_contain_text("You joined")
    expect(page.get_by_test_id("players")).to_contain_text("Eve")
    shot(page, "game-phone")
    page.get_by_role("button", name="Leave").click()
    expect(page.get_by_role("status")).to_contain_text("You left")
    page.get_by_test_id("reminders-mute").click()
    expect(page.get_by_test_id("mute-state")).to_have_text("muted")
    page.goto(f"{web_stack.url}/guilds/{web_stack.guild_id}/analytics")
    expect(page.get_by_test_id("games-scheduled")).to_be_visible()
    shot(page, "analytics-phone")
    context.close()
