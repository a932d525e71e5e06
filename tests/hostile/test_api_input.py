"""Hostile input to the JSON API, served by uvicorn with real servers behind it.

* schemathesis, **stateful**: sequences of calls chained by the links it infers from the OpenAPI
  (a created game's id feeds join, leave, edit, cancel...), as a logged-in host;
* bodies and headers past any sensible size, malformed, deeply nested, or forged (sessions,
  CSRF tokens, idempotency keys);
* requests naming another server's game, guild or channel.

Never a 5xx, and every 4xx of ``/api/`` in the one error shape
``{"error": {"code", "message", ...}}``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis import checks
from schemathesis.core.failures import FailureGroup

from tests.hostile.common import login, shown
from tests.integration.api.harness import WebStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def error_shape(response: httpx.Response | Any) -> None:
    """A 4xx of the JSON API is ``{"error": {"code": str, "message": str, ...}}``; no 5xx."""
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:300]}"
    if status < 400:
        return
    body = json.loads(response.content)
    assert list(body) == ["error"], body
    error = body["error"]
    assert isinstance(error.get("code"), str), body
    assert error["code"]
    assert isinstance(error.get("message"), str), body
    assert error["message"]
    assert "Traceback" not in error["message"]


def one_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis check: :func:`error_shape` for every answer of the JSON API."""
    if case.path.startswith("/api/") or case.operation.path.startswith("/api/"):
        error_shape(response)
    return None


CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, one_error_shape]  # fmt: skip


@pytest.fixture(scope="module")
def host(web_stack: WebStack) -> Iterator[httpx.Client]:
    """Hana, who may host in the demo server (Manage Server)."""
    client = login(web_stack, web_stack.user_id("hana"))
    yield client
    client.close()


@pytest.mark.parametrize(
    "examples", [60, pytest.param(1000, marks=pytest.mark.deep, id="deep")], ids=str
)
def test_stateful_sequences_never_fail_the_server(
    web_stack: WebStack, host: httpx.Client, examples: int
) -> None:
    schema = schemathesis.openapi.from_url(f"{web_stack.url}/api/v1/openapi.json")
    schema = schema.exclude(path="/auth/logout")  # it would end the session the fuzzer uses
    headers = {"Cookie": f"muster_session={host.cookies['muster_session']}",
               "X-CSRF-Token": host.headers["X-CSRF-Token"]}  # fmt: skip
    made = host.post("/api/v1/games", json=game_body(web_stack, title="Seed"))
    assert made.status_code == 201, made.text
    seeded = made.json()["game_id"]
    steps: dict[str, int] = {}
    failures: list[str] = []

    turns: dict[str, itertools.count[int]] = {}

    class Hostile(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            """Aim at the demo server and a real game often enough that writes succeed and
            deep paths are reached (links chain the games the machine creates itself).

            Each operation's turn, not chance, decides the aim (0: a clean body or the seeded
            game; 1: the generated body with valid ids; 2: left as generated), so the first call
            of each operation is a valid one however few calls Hypothesis draws."""
            aim = next(turns.setdefault(f"{case.method} {case.path}", itertools.count())) % 3
            known = {"guild_id": web_stack.guild_id, "channel_id": web_stack.channel_id}
            for name, value in known.items():
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
                if isinstance(case.body, dict) and name in case.body and aim < 2:
                    case.body[name] = value
            if aim == 0 and case.path_parameters and "game_id" in case.path_parameters:
                case.path_parameters["game_id"] = seeded
            if case.method == "POST" and case.path == "/api/v1/games" and aim < 2:
                generated = case.body if isinstance(case.body, dict) and aim == 1 else {}
                case.body = {**generated, **game_body(web_stack, title="Fuzzed")}
                if case.headers:
                    case.headers.pop("Idempotency-Key", None)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": web_stack.url, "headers": headers, "allow_redirects": False}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            """Record, never raise: a failure replayed against a server whose state moved on
            is not reproducible, so Hypothesis would report it as flaky instead of what it is
            (schemathesis's own runner records failures the same way)."""
            key = f"{case.method} {case.operation.path} {response.status_code}"
            steps[key] = steps.get(key, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)
            except (AssertionError, FailureGroup) as failure:
                failures.append(f"{case.method} {case.formatted_path} -> {failure}")

    # Hypothesis stops a run early when its data tree sees the live server answer differently
    # than before (Flaky): restart, until enough steps ran (the deep run rarely reaches 3 000).
    wanted = 3 * min(examples, 200)
    for _ in range(10):
        with contextlib.suppress(Flaky):
            Hostile.run(settings=settings(
                max_examples=examples, deadline=None, database=None, stateful_step_count=8,
                suppress_health_check=list(HealthCheck), phases=[Phase.generate],
            ))  # fmt: skip
        if sum(steps.values()) >= wanted:
            break
    assert not failures, failures[:5]
    assert sum(steps.values()) >= wanted, steps
    chained = [k for k in steps if "{game_id}" in k and k.split()[-1] in ("200", "409")]
    assert any(k.startswith("POST /api/v1/games 201") for k in steps), sorted(steps.items())
    assert len(chained) >= 3, sorted(steps.items())  # deep paths on real games were reached


# -- bodies and headers ------------------------------------------------------------------------
def game_body(stack: WebStack, **extra: Any) -> dict[str, Any]:
    return {"guild_id": stack.guild_id, "channel_id": stack.channel_id, "title": "Hostile",
            "scheduled_at": "2031-01-01T20:00:00Z", **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("what", "content", "content_type"),
    [
        ("malformed JSON", b'{"title": ', "application/json"),
        ("not JSON at all", b"\xff\xfe\x00garbage", "application/json"),
        ("a JSON array", b"[1, 2, 3]", "application/json"),
        ("a JSON string", b'"hello"', "application/json"),
        ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("nested objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
        ("form instead of JSON", b"title=x", "application/x-www-form-urlencoded"),
        ("text/plain", b'{"title": "x"}', "text/plain"),
        ("huge number", b'{"max_players": 1' + b"0" * 5000 + b"}", "application/json"),
    ],
)
def test_malformed_bodies_get_the_error_shape(
    host: httpx.Client, what: str, content: bytes, content_type: str
) -> None:
    answer = host.post("/api/v1/games", content=content, headers={"Content-Type": content_type})
    error_shape(answer)
    assert 400 <= answer.status_code < 500, (what, answer.status_code)


def test_oversized_fields_are_refused_and_store_nothing(
    web_stack: WebStack, host: httpx.Client
) -> None:
    before = host.get("/api/v1/games", params={"guild_id": web_stack.guild_id}).json()
    for extra in (
        {"title": "T" * 100_000},
        {"description": "d" * 1_000_000},
        {"placeholders": ["p"] * 10_000},
        {"players": ["@" + "x" * 5000] * 50},
        {"max_players": 10**30},
        {"reminder_minutes": list(range(10_000))},
        # PostgreSQL's text cannot hold NUL: the read models would park the game's creation
        {"title": "\x00" * 10},
        {"description": "ok\x00"},
        {"placeholders": ["Sam\x00"]},
    ):
        answer = host.post("/api/v1/games", json=game_body(web_stack, **extra))
        error_shape(answer)
        assert answer.status_code in (413, 422), (list(extra), answer.text[:200])
    after = host.get("/api/v1/games", params={"guild_id": web_stack.guild_id}).json()
    assert after == before
    assert host.get("/api/v1/status").json()["parked_events"] == 0


@pytest.mark.parametrize("at", ["¹", "\u0663"])  # SUPERSCRIPT ONE, ARABIC-INDIC THREE
def test_time_travel_with_odd_digits_is_refused(
    web_stack: WebStack, host: httpx.Client, at: str
) -> None:
    """Found by the deep stateful run: ``?at=¹`` was a 500 ("¹".isdigit(), but int("¹") fails)."""
    made = host.post("/api/v1/games", json=game_body(web_stack, title="Then"))
    answer = host.get(f"/api/v1/games/{made.json()['game_id']}", params={"at": at})
    error_shape(answer)
    assert answer.status_code in (404, 422), answer.text


def test_a_body_past_the_limit_is_refused_before_it_is_read(host: httpx.Client) -> None:
    answer = host.post("/api/v1/games", content=b"x" * (8 * 2**20),
                       headers={"Content-Type": "application/json"})  # fmt: skip
    error_shape(answer)
    assert answer.status_code == 413, answer.text[:200]


@pytest.mark.parametrize(
    "headers",
    [
        {"Idempotency-Key": "k" * 10_000},
        {"Idempotency-Key": "bad key with spaces"},
        {"Idempotency-Key": "ключ".encode()},
        {"Idempotency-Key": ""},
        {"X-CSRF-Token": "forged"},
        {"X-CSRF-Token": "x" * 8_000},
        {"Cookie": "muster_session=forged.value.sig"},
        {"Cookie": "muster_session=" + "A" * 7_000},
        {"Accept": "application/xml"},
        {"Content-Type": "application/json; charset=utf-7"},
    ],
    ids=lambda h: f"{next(iter(h))}:{next(iter(h.values()))[:12]!r}",
)
def test_forged_and_odd_headers_get_the_error_shape(
    web_stack: WebStack, host: httpx.Client, headers: dict[str, str]
) -> None:
    client = httpx.Client(base_url=web_stack.url, timeout=30)
    try:
        sent = {"Cookie": f"muster_session={host.cookies['muster_session']}",
                "X-CSRF-Token": host.headers["X-CSRF-Token"], **headers}  # fmt: skip
        body = json.dumps(game_body(web_stack)).encode()
        answer = client.post("/api/v1/games", content=body,
                             headers={"Content-Type": "application/json", **sent})  # fmt: skip
        error_shape(answer)
    finally:
        client.close()


def test_a_huge_header_is_refused_by_the_server(web_stack: WebStack) -> None:
    """Past the HTTP parser's limit the server itself answers (before the app, so not in the
    JSON shape): a 4xx or a closed connection, never a 5xx or a hang."""
    with httpx.Client(base_url=web_stack.url, timeout=30) as client:
        try:
            answer = client.get("/api/v1/games", headers={"X-Big": "h" * 200_000})
        except httpx.RemoteProtocolError:
            return
        assert 400 <= answer.status_code < 500, answer.status_code


# -- forged references: another server's things ------------------------------------------------
def test_another_servers_things_are_not_found_and_change_nothing(
    web_stack: WebStack, host: httpx.Client
) -> None:
    made = host.post("/api/v1/games", json=game_body(web_stack, title="Ours"))
    assert made.status_code == 201, made.text
    game = made.json()["game_id"]
    web_stack.call(web_stack.announcement(game))  # its announcement is recorded on the game too
    before = shown(host.get(f"/api/v1/games/{game}").json())

    async def stranger() -> str:
        other = web_stack.emu.people.guild("Elsewhere")
        other.text_channel("games")
        return str(other.member("mallory", permissions=0x20 | 0x10).id)

    mallory = login(web_stack, web_stack.call(stranger()))
    web_stack.clients.append(mallory)
    g, c = web_stack.guild_id, web_stack.channel_id
    for method, path, body in (
        ("GET", f"/api/v1/games/{game}", None),
        ("GET", f"/api/v1/games/{game}/participants", None),
        ("GET", f"/api/v1/games/{game}/timeline", None),
        ("POST", f"/api/v1/games/{game}/join", None),
        ("POST", f"/api/v1/games/{game}/cancel", {"reason": "mine now"}),
        ("PATCH", f"/api/v1/games/{game}", {"title": "Stolen"}),
        ("POST", f"/api/v1/games/{game}/reschedule", {"scheduled_at": "2031-02-01T20:00:00Z"}),
        ("POST", f"/api/v1/games/{game}/reminders/mute", None),
        ("GET", f"/api/v1/guilds/{g}/settings", None),
        ("PATCH", f"/api/v1/guilds/{g}/settings", {"max_players": 2}),
        ("PATCH", f"/api/v1/guilds/{g}/channels/{c}/settings", {"max_players": 2}),
        ("GET", f"/api/v1/guilds/{g}/analytics", None),
        ("POST", "/api/v1/games", game_body(web_stack, title="Planted")),
        ("GET", "/api/v1/games/00000000-0000-0000-0000-000000000000", None),
        ("POST", "/api/v1/games/00000000-0000-0000-0000-000000000000/join", None),
        ("GET", "/api/v1/guilds/99999999999999999999/settings", None),
    ):
        answer = mallory.request(method, path, json=body)
        error_shape(answer)
        assert answer.status_code in (403, 404), (method, path, answer.status_code, answer.text)
    assert shown(host.get(f"/api/v1/games/{game}").json()) == before
    listed = host.get("/api/v1/games", params={"guild_id": web_stack.guild_id}).json()["games"]
    titles = [g["title"] for g in listed]
    assert "Planted" not in titles
