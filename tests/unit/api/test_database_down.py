"""A database that does not answer is unavailable, not a bug: 503 with Retry-After, in the one
error shape (JSON) or as a page, never a 500."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from api import create_app
from api.config import SESSION_COOKIE
from api.sessions import create_session, signer
from tests.unit.api.fakes import fake_web

GAME = "00000000-0000-4000-8000-000000000001"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    web, _, _ = fake_web()
    url = f"postgresql://muster@127.0.0.1:{closed_port()}/muster?connect_timeout=1"
    pool = AsyncConnectionPool(url, open=False, timeout=0.2)  # nobody listens: PoolTimeout
    await pool.open(wait=False)
    web.pool = pool
    session = await create_session(web, {"id": "2", "username": "alice"}, {"access_token": "t"})
    transport = httpx.ASGITransport(app=create_app(web, live=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.cookies.set(SESSION_COOKIE, signer(web).dumps(session.session_id))
        yield c
    await pool.close()


async def test_the_api_answers_503_with_retry_after(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/api/v1/games/{GAME}")
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "unavailable"
    assert int(answer.headers["Retry-After"]) >= 1


async def test_a_page_says_so_kindly(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/games/{GAME}", headers={"Accept": "text/html"})
    assert answer.status_code == 503, answer.text
    assert "try again" in answer.text.lower()
    assert int(answer.headers["Retry-After"]) >= 1
