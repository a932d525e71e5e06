"""Schema evolution: game.started.v1 is upcast to v2, and a stale catalogue is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from deploy.schemas import SCHEMAS_DIR, run_schemas
from domain.codec import EventMapper
from domain.events import GameStarted

V1 = {"type": "game.started.v1", "command_id": "c", "occurred_at": "2030-01-01T12:00:00Z"}


@pytest.mark.parametrize(("actor", "by"), [("0", "schedule"), ("1234", "host")])
def test_a_v1_event_reads_as_v2(actor: str, by: str) -> None:
    body = json.dumps({**V1, "actor_id": actor}).encode()
    stored = StoredEvent("game.x", 5, "game.started.v1", body)
    event = EventMapper().to_domain_event(stored).event
    assert isinstance(event, GameStarted)
    assert event.started_by == by
    with pytest.raises(msgspec.ValidationError, match="started_by"):  # v1 is not v2
        msgspec.json.decode(body.replace(b".v1", b".v2"), type=GameStarted)


def test_new_events_are_written_as_v2_only() -> None:
    event = EventMapper().decode("game.started.v1", json.dumps({**V1, "actor_id": "0"}).encode())
    assert json.loads(msgspec.json.encode(event))["type"] == "game.started.v2"


def test_schemas_check_catches_a_stale_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    assert run_schemas(check=True, directory=copy) == 0
    # the catalogue as it was before v2: the old schema, the old row
    v2 = copy / "events" / "game.started.v2.schema.json"
    v1 = copy / "events" / "game.started.v1.schema.json"
    v2.rename(v1)
    catalogue = copy / "CATALOGUE.md"
    catalogue.write_text(catalogue.read_text().replace("game.started.v2", "game.started.v1"))
    capsys.readouterr()
    assert run_schemas(check=True, directory=copy) == 1
    said = capsys.readouterr().out
    for name in ("CATALOGUE.md", "events/game.started.v2.schema.json", "game.started.v1"):
        assert name in said
