"""Stored form of events: versioned type names as topics, plain JSON bodies, upcasting."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from domain.aggregates import Recorded
from domain.app import MusterApp
from domain.catalogue import catalogue, event_schemas, json_schema
from domain.codec import EventMapper
from domain.events import (
    ALL_EVENTS,
    AnnouncementRecorded,
    AttendanceRecorded,
    ChannelConfigured,
    DirectMessageRecorded,
    Event,
    GameCancelled,
    GameCompleted,
    GameDetails,
    GameRescheduled,
    GameStarted,
    GameUpdated,
    GuildConfigured,
    GuildRemindersMuted,
    GuildRemindersUnmuted,
    PlaceholderAdded,
    PlaceholderClaimed,
    PlaceholderRemoved,
    PlayerJoined,
    PlayerLeft,
    PlayerMovedToWaitlist,
    PlayerPromoted,
    PlayerWaitlisted,
    ReminderIntentRecorded,
    ReminderRecorded,
    RemindersMuted,
    RemindersUnmuted,
    Settings,
    type_name,
)
from tests.unit.domain.scenario import CHANNEL, GAME_AGG, GUILD, LATER, S, created

SAMPLES: list[Event] = [
    created(max_players=4, reminder_minutes=(60, 15), waitlist_cap="unlimited", category="D&D"),
    GameUpdated(
        **S, details=GameDetails(title="New", waitlist_cap=3), changed=("title", "waitlist_cap")
    ),
    GameRescheduled(**S, scheduled_at=LATER + timedelta(hours=1), previous_scheduled_at=LATER),
    GameCancelled(**S, reason="rain", previous_status="scheduled"),
    GameStarted(**S, started_by="host"),
    GameCompleted(**S),
    PlayerJoined(**S, user_id="123456789012345678", joined_count=1, max_players=4),
    PlayerWaitlisted(**S, user_id="8", position=1),
    PlayerLeft(**S, user_id="8", from_waitlist=True),
    PlayerPromoted(**S, user_id="9", joined_count=4, max_players=4),
    PlayerMovedToWaitlist(**S, user_id="9", position=1, max_players=3),
    PlaceholderAdded(**S, placeholder_id=1, label="Bob's friend"),
    PlaceholderRemoved(**S, placeholder_id=1, label="Bob's friend"),
    PlaceholderClaimed(**S, placeholder_id=2, label="Ann", user_id="10"),
    AnnouncementRecorded(**S, channel_id=CHANNEL, message_id="99"),
    ReminderRecorded(
        **S,
        user_id="7",
        offset_minutes=15,
        scheduled_at=LATER,
        status="failed",
        detail="DMs closed",
    ),
    DirectMessageRecorded(
        **S, user_id="7", kind="promoted", source_position=12, status="sent", message_id="98"
    ),
    AttendanceRecorded(**S, present=("7",), no_shows=("8",)),
    GuildConfigured(
        **S,
        guild_id=GUILD,
        settings=Settings(max_players=5, host_role_ids=("1", "2")),
        changed=("max_players",),
    ),
    ChannelConfigured(
        **S, guild_id=GUILD, channel_id=CHANNEL, settings=Settings(rules="x"), changed=("rules",)
    ),
    ReminderIntentRecorded(**S, user_id="7", offset_minutes=15, scheduled_at=LATER),
    RemindersMuted(**S, user_id="7"),
    RemindersUnmuted(**S, user_id="7"),
    GuildRemindersMuted(**S, guild_id=GUILD, user_id="7"),
    GuildRemindersUnmuted(**S, guild_id=GUILD, user_id="7"),
]


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in SAMPLES} == set(ALL_EVENTS)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type_name(type(e)))
def test_every_event_round_trips_as_plain_json(event: Event) -> None:
    mapper = EventMapper()
    recorded = Recorded(GAME_AGG, 7, event)
    stored = mapper.to_stored_event(recorded)
    assert (stored.originator_id, stored.originator_version) == (GAME_AGG, 7)
    assert stored.topic == type_name(type(event))
    body = json.loads(stored.state)
    assert body["type"] == stored.topic
    assert body["occurred_at"] == "2030-01-01T12:00:00Z"
    assert not {"originator_id", "originator_version", "_type_", "_data_"} & set(body)
    assert mapper.to_domain_event(stored) == recorded


def test_snowflakes_are_strings_for_javascript_readers() -> None:
    stored = EventMapper().to_stored_event(Recorded(GAME_AGG, 2, SAMPLES[6]))
    assert json.loads(stored.state)["user_id"] == "123456789012345678"


def cancelled_v0(reason: str | None) -> bytes:
    body: dict[str, Any] = {
        "type": "game.cancelled.v0",
        "command_id": "c",
        "actor_id": "1",
        "occurred_at": "2030-01-01T12:00:00Z",
        "why": reason,
    }
    return json.dumps(body).encode()


def test_old_versions_are_upcast_when_read() -> None:
    def v0_to_v0b(body: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in body.items() if k != "why"}, "reason": body["why"] or ""}

    def v0b_to_v1(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "previous_status": "scheduled"}

    mapper = EventMapper(
        upcasters={
            "game.cancelled.v0": ("game.cancelled.v0b", v0_to_v0b),
            "game.cancelled.v0b": ("game.cancelled.v1", v0b_to_v1),
        }
    )
    stored = StoredEvent(
        originator_id=GAME_AGG,
        originator_version=3,
        topic="game.cancelled.v0",
        state=cancelled_v0(None),
    )
    recorded = mapper.to_domain_event(stored)
    assert recorded.event == GameCancelled(
        command_id="c",
        actor_id="1",
        occurred_at=S["occurred_at"],
        reason="",
        previous_status="scheduled",
    )
    assert mapper.to_stored_event(recorded).topic == "game.cancelled.v1", (
        "written back in the current version"
    )


def test_unreadable_events_say_what_and_where() -> None:
    mapper = EventMapper()
    unknown = StoredEvent(
        originator_id=GAME_AGG, originator_version=3, topic="game.teleported.v1", state=b"{}"
    )
    with pytest.raises(MapperDeserialisationError, match=r"game\.teleported\.v1.*version 3"):
        mapper.to_domain_event(unknown)
    broken = StoredEvent(
        originator_id=GAME_AGG,
        originator_version=4,
        topic="game.started.v1",
        state=b'{"type":"game.started.v1"}',
    )
    with pytest.raises(MapperDeserialisationError, match="command_id"):
        mapper.to_domain_event(broken)


def test_the_app_stores_through_the_mapper_with_a_compressor() -> None:
    app = MusterApp(env={"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"})
    assert isinstance(app.mapper, EventMapper)
    recorded = Recorded(GAME_AGG, 1, SAMPLES[0])
    stored = app.mapper.to_stored_event(recorded)
    assert not stored.state.startswith(b"{")
    assert app.mapper.to_domain_event(stored) == recorded


def test_the_catalogue_describes_every_event() -> None:
    entries = catalogue()
    assert [e.type for e in entries] == [type_name(t) for t in ALL_EVENTS]
    assert all(e.summary and e.version == int(e.type.rsplit(".v", 1)[1]) for e in entries)
    assert {e.aggregate for e in entries} == {"game", "guild", "channel"}
    schemas = event_schemas()
    for name, schema in schemas.items():
        definition = schema["$defs"][schema["$ref"].rsplit("/", 1)[1]]
        assert definition["properties"]["type"] == {"enum": [name]}
        assert {"command_id", "actor_id", "occurred_at", "type"} <= set(definition["required"])
    union = json_schema()
    assert len(union["oneOf"]) == len(ALL_EVENTS)
    assert union["$defs"]["PlayerJoined"]["properties"]["occurred_at"]["format"] == "date-time"
    json.dumps(union)
