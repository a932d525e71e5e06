"""Live updates over SSE against uvicorn (in-process ASGI clients hang on endless streams)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.api.harness import WebStack

pytestmark = pytest.mark.integration


def test_game_and_guild_streams_update_on_a_join(web_stack: WebStack) -> None:
    hana, dmitri = web_stack.login("hana"), web_stack.login("dmitri")
    game_id = hana.post(
        "/api/v1/games",
        json={
            "guild_id": web_stack.guild_id,
            "channel_id": web_stack.channel_id,
            "title": "Live",
            "scheduled_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
    ).json()["game_id"]
    seen: dict[str, str] = {}
    ready = threading.Barrier(3, timeout=20)

    def follow(path: str, event: str, awaited: str) -> None:
        """Read the stream until an ``event`` whose data mentions ``awaited`` (other changes
        of the game, such as its announcement being recorded, may come first)."""
        with hana.stream("GET", path, timeout=20) as stream:
            name, data = "", ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name, data = line[7:], ""
                elif line.startswith("data: ") and name == "ready":
                    ready.wait()
                elif line.startswith("data: ") and name == event:
                    data += line[6:]
                elif not line and awaited in data:
                    seen[event] = data
                    return

    threads = [
        threading.Thread(target=follow, args=(f"/live/games/{game_id}", "roster", "dmitri")),
        threading.Thread(
            target=follow, args=(f"/live/guilds/{web_stack.guild_id}", "games", "Live")
        ),
    ]
    for thread in threads:
        thread.start()
    ready.wait()
    assert dmitri.post(f"/api/v1/games/{game_id}/join", params={"wait": "false"}).status_code == 200
    for thread in threads:
        thread.join(20)
    assert "dmitri" in seen["roster"]
    assert "1/" in seen["roster"]
    assert "Live" in seen["games"]


def test_live_needs_a_session(web_stack: WebStack) -> None:
    answer = httpx.get(f"{web_stack.url}/live/guilds/{web_stack.guild_id}")
    assert answer.status_code == 401
