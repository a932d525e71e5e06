"""Pure pieces of the web: error mapping, idempotency keys, settings sources, cursors, port."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from api.errors import ApiError, from_domain
from api.history import point_or_422
from api.views import decode_cursor, encode_cursor, sources
from api.writes import command_id
from deploy.api_cmd import PortTaken, listen
from deploy.settings import Settings
from domain import errors
from domain.events import GameDetails
from domain.events import Settings as Levels


def test_domain_errors_map_to_4xx_with_their_words() -> None:
    full = from_domain(errors.GameFull("g", 4, 0))
    assert (full.status, full.code) == (409, "game_full")
    assert "4 seats" in full.message
    invalid = from_domain(errors.InvalidCommand("title", "must not be empty", more=[("x", "y")]))
    assert invalid.status == 422
    assert invalid.field == "title"
    assert invalid.details == [{"field": "title", "reason": "must not be empty"},
                               {"field": "x", "reason": "y"}]  # fmt: skip
    assert from_domain(errors.NotAllowed("do it", "Manage Server")).status == 403
    assert from_domain(errors.GameNotFound("g")).code == "game_not_found"


def test_idempotency_keys_are_namespaced_per_user() -> None:
    assert command_id("42", "abc-1") == "api:42:abc-1"
    assert command_id("42", None).startswith("api:42:")
    assert command_id("42", None) != command_id("42", None)
    with pytest.raises(ApiError) as bad:
        command_id("42", "has space")
    assert bad.value.field == "Idempotency-Key"


def test_settings_say_where_each_value_came_from() -> None:
    found = sources(GameDetails(title="t", max_players=4), Levels(rules="Be kind"),
                    Levels(max_players=8, reminder_minutes=(30,)))  # fmt: skip
    assert found["max_players"].model_dump() == {"value": 4, "source": "game"}
    assert found["rules"].source == "channel"
    assert found["reminder_minutes"].model_dump() == {"value": [30], "source": "guild"}
    assert found["waitlist_cap"].model_dump() == {"value": "unlimited", "source": "default"}


def test_cursor_round_trip_and_garbage() -> None:
    when = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    game = "0b5e5a7e-1f0c-4c47-9a57-0b1d0c2a9b57"
    assert decode_cursor(encode_cursor((when, game))) == (when, game)
    with pytest.raises(ApiError):
        decode_cursor("not-a-cursor")


def test_a_taken_port_is_reported_clearly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortTaken, match=f"port {port} .* MUSTER_WEB_PORT"):
            listen(Settings(web_port=port))


def test_at_is_a_position_or_a_time_else_one_422() -> None:
    assert point_or_422("42") == 42
    assert point_or_422("2026-11-30T18:00:00") == datetime(2026, 11, 30, 18, tzinfo=UTC)
    for bad in ("0", "-3", "yesterday", ""):
        with pytest.raises(ApiError) as raised:
            point_or_422(bad)
        assert (raised.value.status, raised.value.code, raised.value.field) == (
            422, "invalid_at", "at")  # fmt: skip
