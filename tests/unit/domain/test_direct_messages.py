"""What became of a DM Muster owed a member: recorded once per source event and recipient."""

from __future__ import annotations

import pytest

from domain.commands import SYSTEM_USER_ID, RecordDirectMessage
from domain.errors import InvalidCommand, NotAllowed
from domain.events import DirectMessageRecorded
from tests.unit.domain.scenario import GAME, HOST, S, Scenario, created


def record(command_id: str, **changes: object) -> RecordDirectMessage:
    fields: dict[str, object] = {
        "command_id": command_id, "user_id": SYSTEM_USER_ID, "game_id": GAME,
        "recipient_id": "7", "kind": "promoted", "source_position": 12, "status": "sent",
        "message_id": "99",
    }  # fmt: skip
    fields.update(changes)
    return RecordDirectMessage(**fields)  # type: ignore[arg-type]


def test_a_dm_is_recorded_once_per_event_and_recipient(scenario: Scenario) -> None:
    scenario.given(created())
    outcome = scenario.when(record("d1"))
    assert outcome.result == "direct_message_recorded"
    assert scenario.then() == [
        DirectMessageRecorded(
            **S, user_id="7", kind="promoted", source_position=12, status="sent", message_id="99"
        )
    ]
    assert scenario.when(record("d2", status="failed")).result == "unchanged"
    assert scenario.app.game(GAME).direct_messages == {(12, "7"): "sent"}
    refused = scenario.when(record("d3", recipient_id="8", status="refused", message_id=None))
    assert refused.result == "direct_message_recorded"
    assert scenario.app.game(GAME).direct_messages[(12, "8")] == "refused"


def test_only_muster_records_dms(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(NotAllowed):
        scenario.when(record("d1", user_id=HOST))


def test_a_record_needs_a_position_and_a_kind(scenario: Scenario) -> None:
    scenario.given(created())
    with pytest.raises(InvalidCommand, match="source_position"):
        scenario.when(record("d1", source_position=0))
    with pytest.raises(InvalidCommand, match="kind"):
        scenario.when(record("d2", kind=" "))
