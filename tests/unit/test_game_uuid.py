"""Which ``game.<key>`` subjects the projections take for a game (the rest are parked)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.feed import game_uuid


def test_a_game_id_as_muster_writes_it() -> None:
    key = str(uuid.uuid4())
    assert game_uuid(f"game.{key}") == key


@pytest.mark.parametrize(
    "key",
    [
        "not-a-uuid",
        f"{uuid.uuid4()},{uuid.uuid4()}",  # one uuid[] literal would read it as two games
        str(uuid.uuid4()).upper(),
        uuid.uuid4().hex,
        "{" + str(uuid.uuid4()) + "}",
        f"urn:uuid:{uuid.uuid4()}",
        "",
    ],
)
def test_anything_else_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match=r"is not game\.<uuid>"):
        game_uuid(f"game.{key}")


@given(st.text(max_size=60))
def test_only_canonical_uuids_pass(key: str) -> None:
    try:
        got = game_uuid(f"game.{key}")
    except ValueError:
        return
    assert got == key == str(uuid.UUID(key))
