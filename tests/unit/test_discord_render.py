"""What the Discord projection shows and owes, from the read model and the log (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from domain.rules import Effective
from projections.discord import render
from projections.discord.plan import EVERYONE, effects_of
from projections.discord.render import dm_body
from projections.feed import LogMessage
from projections.queries import GameDetail, Participant

WHEN = datetime(2030, 5, 1, 18, 0, tzinfo=UTC)
GAME = "4b2e8c1a-5d6f-4e7a-8b9c-0d1e2f3a4b5c"


def game(
    joined: int = 0, waiting: int = 0, placeholders: tuple[str, ...] = (), **changes: Any
) -> GameDetail:
    cap = changes.pop("waitlist_cap", None)
    people = [Participant(kind="joined", position=i + 1, user_id=str(100 + i))
              for i in range(joined)]  # fmt: skip
    people += [Participant(kind="waitlisted", position=i + 1, user_id=str(900 + i))
               for i in range(waiting)]  # fmt: skip
    people += [Participant(kind="placeholder", position=i + 1, placeholder_id=i + 1, label=label)
               for i, label in enumerate(placeholders)]  # fmt: skip
    settings = Effective(max_players=changes.pop("max_players", 4), reminder_minutes=(60,),
                         rules=changes.pop("rules", ""), waitlist_cap=cap, host_role_ids=(),
                         category=None)  # fmt: skip
    fields: dict[str, Any] = {
        "game_id": GAME, "guild_id": "1", "channel_id": "2", "host_id": "42", "title": "Catan",
        "scheduled_at": WHEN, "status": "scheduled", "joined_count": joined,
        "waitlist_count": waiting, "max_players": settings.max_players, "description": "",
        "category": None, "duration_minutes": None, "settings": settings,
        "participants": tuple(people), "announcement_channel_id": "2",
        "announcement_message_id": "77", "created_at": WHEN, "updated_at": WHEN, "version": 3,
        "position": 9,
    }  # fmt: skip
    fields.update(changes)
    return GameDetail(**fields)


def fields_of(body: Any) -> dict[str, str]:
    return {f["name"]: f["value"] for f in body.embeds[0]["fields"]}


def buttons(body: Any) -> dict[str, dict[str, Any]]:
    return {c["custom_id"].split(":")[1]: c for c in body.components[0]["components"]}


def test_the_announcement_shows_time_host_players_waitlist_and_rules() -> None:
    body = render.announcement(
        game(
            joined=2,
            waiting=0,
            placeholders=("Sam",),
            rules="No phones",
            duration_minutes=90,
            description="Bring snacks",
        )
    )
    embed = body.embeds[0]
    unix = int(WHEN.timestamp())
    assert f"<t:{unix}:F>" in embed["description"]
    assert f"<t:{unix}:R>" in embed["description"]
    assert "<@42>" in embed["description"]
    assert "1 h 30 min" in embed["description"]
    assert embed["description"].endswith("Bring snacks")
    assert fields_of(body) == {
        "Rules": "No phones",
        "Players (2/4)": "<@100>\n<@101>\nSam *(placeholder)*",
    }
    assert body.allowed_mentions == {"parse": []}
    assert buttons(body)["join"]["label"] == "Join"
    assert buttons(body)["join"]["custom_id"] == f"muster:join:{GAME}"
    assert buttons(body)["leave"]["custom_id"] == f"muster:leave:{GAME}"


def test_full_game_offers_the_waitlist_until_it_is_full_too() -> None:
    full = render.announcement(game(joined=4, waiting=1, waitlist_cap=2))
    assert fields_of(full)["Waitlist (1/2)"] == "1. <@900>"
    assert buttons(full)["join"]["label"] == "Join waitlist"
    assert not buttons(full)["join"]["disabled"]
    packed = render.announcement(game(joined=4, waiting=2, waitlist_cap=2))
    assert buttons(packed)["join"]["disabled"]
    assert not buttons(packed)["leave"]["disabled"]


@pytest.mark.parametrize("status", ["in_progress", "completed", "cancelled"])
def test_both_buttons_are_disabled_once_the_game_is_not_scheduled(status: str) -> None:
    body = render.announcement(game(joined=1, status=status))
    assert buttons(body)["join"]["disabled"]
    assert buttons(body)["leave"]["disabled"]
    word = render.STATUS_WORDS[status]
    assert body.embeds[0]["title"] == f"Catan — {word}"
    assert f"**Status:** {word}" in body.embeds[0]["description"]


@pytest.mark.parametrize("status", ["scheduled", "in_progress", "completed", "cancelled"])
def test_record_attendance_is_offered_once_the_game_is_completed(status: str) -> None:
    shown = buttons(render.announcement(game(joined=2, status=status)))
    if status != "completed":
        assert "attend" not in shown
        return
    attend = shown["attend"]
    assert attend["custom_id"] == f"muster:attend:{GAME}"
    assert attend["label"] == "Record attendance"
    assert not attend.get("disabled")
    assert list(shown) == ["join", "leave", "attend"]


def test_long_lists_end_with_n_more_and_everything_fits_discords_limits() -> None:
    body = render.announcement(
        game(
            joined=100,
            waiting=400,
            max_players=100,
            title="T" * 100,
            description="d" * 2000,
            rules="r" * 2000,
            placeholders=tuple("p" * 100 for _ in range(20)),
        )
    )
    embed = body.embeds[0]
    for field in embed["fields"]:
        assert len(field["value"]) <= 1024
    players = fields_of(body)["Players (100/100)"]
    assert players.splitlines()[-1].startswith("+")
    assert players.endswith(" more")
    shown = len(players.splitlines()) - 1
    assert players.splitlines()[-1] == f"+{120 - shown} more"
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    assert len(body.content) <= 2000  # type: ignore[arg-type]
    msgspec.json.encode(body)  # a valid payload


def message(topic: str, seq: int = 5, aggregate: str = f"game.{GAME}", **body: Any) -> LogMessage:
    fields = {"type": topic, "command_id": "c", "actor_id": "42",
              "occurred_at": "2030-05-01T10:00:00Z", **body}  # fmt: skip
    return LogMessage(seq=seq, aggregate_id=aggregate, version=2, topic=topic, msg_id=None,
                      body=msgspec.json.encode(fields))  # fmt: skip


def test_what_events_ask_of_discord() -> None:
    created = effects_of(message("game.created.v1"))
    assert created is not None
    assert (created.created, created.rerender, created.game_id) == (True, True, GAME)
    joined = effects_of(message("game.player_joined.v1", user_id="7"))
    assert joined is not None
    assert (joined.created, joined.rerender, joined.dms) == (False, True, [])
    for record in ("announcement_recorded", "reminder_recorded", "direct_message_recorded"):
        assert effects_of(message(f"game.{record}.v1")) is None
    promoted = effects_of(message("game.player_promoted.v1", user_id="7"))
    assert promoted is not None
    assert [(d.kind, d.user_id, d.source) for d in promoted.dms] == [("promoted", "7", 5)]
    left = effects_of(message("game.player_left.v1", user_id="42"))
    assert left is not None
    assert left.dms == []  # they left by themselves
    removed = effects_of(message("game.player_left.v1", user_id="7"))  # the host did it
    assert removed is not None
    assert [(d.kind, d.user_id) for d in removed.dms] == [("removed", "7")]
    cancelled = effects_of(message("game.cancelled.v1", reason="rain"))
    assert cancelled is not None
    [dm] = cancelled.dms
    assert (dm.kind, dm.user_id, dm.except_id, dm.reason) == ("cancelled", EVERYONE, "42", "rain")
    configured = effects_of(message("channel.configured.v1", aggregate="channel.2", channel_id="2"))
    assert configured is not None
    assert configured.channel_id == "2"


def test_moved_to_the_waitlist_by_a_hand_built_event() -> None:
    """``game.player_moved_to_waitlist.v1`` (a lowered cap) is read by its type name."""
    effects = effects_of(message("game.player_moved_to_waitlist.v1", user_id="7", position=2,
                                 reason="max_players lowered"))  # fmt: skip
    assert effects is not None
    assert effects.rerender
    [dm] = effects.dms
    assert (dm.kind, dm.user_id, dm.waitlist_position) == ("moved_to_waitlist", "7", 2)
    text = dm_body(game(joined=1), dm).content
    assert text == (
        "A change by the host moved you to the waitlist of **Catan**, position 2."
        "\nAnnouncement: https://discord.com/channels/1/2/77"
    )


def test_dm_texts() -> None:
    detail = game(joined=1)
    promoted = effects_of(message("game.player_promoted.v1", user_id="7"))
    assert promoted is not None
    unix = int(WHEN.timestamp())
    assert dm_body(detail, promoted.dms[0]).content == (
        f"Good news! You're in **Catan**, <t:{unix}:F> (<t:{unix}:R>)."
        "\nAnnouncement: https://discord.com/channels/1/2/77"
    )
    moved = effects_of(message("game.rescheduled.v1", scheduled_at="2030-05-02T18:00:00Z",
                               previous_scheduled_at="2030-05-01T18:00:00Z"))  # fmt: skip
    assert moved is not None
    text = dm_body(detail, moved.dms[0]).content
    assert f"<t:{unix + 86400}:F>" in str(text)
    assert f"it was <t:{unix}:F>" in str(text)
