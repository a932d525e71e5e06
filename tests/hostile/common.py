"""Helpers shared by the hostile-input tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.integration.api.harness import WebStack


def shown(game: dict[str, Any]) -> dict[str, Any]:
    """What people see of a game (not its log position: the announcement is recorded too)."""
    return {k: v for k, v in game.items() if k not in ("version", "position", "updated_at")}


def login(stack: WebStack, user_id: str) -> httpx.Client:
    """A client logged in as any emulated user (through the emulated OAuth2 page); the
    caller closes it."""
    client = httpx.Client(base_url=stack.url, timeout=30)
    start = client.get("/auth/login")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    answer = httpx.post(start.headers["location"].split("?")[0],
                        data={**query, "user_id": user_id, "decision": "authorize"})  # fmt: skip
    done = client.get(answer.headers["location"])
    assert done.status_code == 303, done.text
    client.headers["X-CSRF-Token"] = client.get("/auth/me").json()["csrf_token"]
    return client
