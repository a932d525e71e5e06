"""The checked-in JSON Schemas match the event types in the code."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from deploy.schemas import SCHEMAS_DIR, rendered, run_schemas, stale_files
from domain.events import ALL_EVENTS, type_name


def test_checked_in_schemas_are_current() -> None:
    assert stale_files() == [], "run `muster schemas` and commit schemas/"


def test_every_event_type_has_a_schema_file() -> None:
    for event_type in ALL_EVENTS:
        path = SCHEMAS_DIR / "events" / f"{type_name(event_type)}.schema.json"
        schema = json.loads(path.read_text())
        assert schema["$schema"].startswith("https://json-schema.org/")


def test_check_mode_notices_a_changed_file(tmp_path: Path) -> None:
    for name, text in rendered().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert run_schemas(check=True, directory=tmp_path) == 0
    (tmp_path / "events.schema.json").write_text("{}")
    (tmp_path / "events" / "game.retired.v9.schema.json").write_text("{}")
    assert stale_files(tmp_path) == ["events.schema.json", "events/game.retired.v9.schema.json"]
    assert run_schemas(check=True, directory=tmp_path) == 1


def test_union_schema_names_every_type() -> None:
    union = msgspec.json.decode(rendered()["events.schema.json"])
    assert len(union["oneOf"]) == len(ALL_EVENTS)
