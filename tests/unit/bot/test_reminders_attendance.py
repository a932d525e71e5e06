"""The words of a (un)mute and who may record attendance (no servers)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.attendance import may_record, seated
from bot.reminders import words_for
from domain.outcome import Outcome
from projections.queries import Participant


def outcome(result: str, message: str = "") -> Outcome:
    return Outcome(result=result, message=message, aggregate_id="game.x", command_id="c", version=1)


def test_nothing_changed_is_said_in_plain_words() -> None:
    assert words_for(True, "this game")(outcome("unchanged")) == (
        "Reminders about this game were already muted; nothing changed."
    )
    assert words_for(False, "**Catan**")(outcome("unchanged")) == (
        "Reminders about **Catan** were not muted; nothing changed."
    )
    done = outcome("reminders_muted", "You will get no more reminders about this game.")
    assert words_for(True, "this game")(done) == done.message


def interaction(user_id: int, permissions: int) -> Any:
    return SimpleNamespace(
        user=SimpleNamespace(id=user_id, roles=()),
        guild_id=1,
        permissions=SimpleNamespace(value=permissions),
    )


def test_only_seated_players_are_listed_and_only_the_host_or_a_manager_may_record() -> None:
    game: Any = SimpleNamespace(
        host_id="42",
        participants=(
            Participant(kind="joined", position=1, user_id="7"),
            Participant(kind="placeholder", position=2, placeholder_id=1, label="Sam"),
            Participant(kind="waitlisted", position=1, user_id="8"),
            Participant(kind="joined", position=3, user_id="9"),
        ),
    )
    assert seated(game) == ["7", "9"]
    assert may_record(game, interaction(42, 0))
    assert may_record(game, interaction(5, 0x20))  # Manage Server
    assert not may_record(game, interaction(5, 0))
