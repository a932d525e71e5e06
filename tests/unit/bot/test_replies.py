"""What the bot says for outcomes and domain errors."""

from __future__ import annotations

from bot.limits import PerUserLimit
from bot.replies import BUSY, for_error, for_outcome
from bot.respond import Responder
from domain.commands import JoinGame
from domain.errors import AlreadyJoined, GameFull, GameNotOpen, InvalidCommand, NotJoined
from domain.outcome import Outcome


def outcome(**fields: object) -> Outcome:
    base: dict[str, object] = {
        "result": "joined", "message": "", "aggregate_id": "game.x", "command_id": "c",
        "version": 1,
    }  # fmt: skip
    return Outcome(**{**base, **fields})  # type: ignore[arg-type]


def test_outcomes_in_plain_words() -> None:
    assert for_outcome(outcome(joined_count=4, max_players=5)) == "You're in — 4/5."
    waiting = outcome(result="waitlisted", waitlist_position=2)
    assert for_outcome(waiting) == "The game is full: you are #2 on the waitlist."
    assert for_outcome(outcome(result="left_waitlist")) == "You left the waitlist."
    left = outcome(result="left", promoted=("7",))
    assert (
        for_outcome(left)
        == "You left the game. <@7> moved up from the waitlist and takes your seat."
    )


def test_button_errors_are_short() -> None:
    assert for_error(NotJoined("g", "1"), "leave").startswith("You already left")
    assert for_error(GameNotOpen("g", "in_progress"), "join") == (
        "You can't join: the game has started."
    )
    assert for_error(AlreadyJoined("g", "1", 3), "join") == "You're already on the waitlist, #3."
    full = GameFull("g", 5, 0)
    assert for_error(full, "join") == full.message  # the domain's own words


def test_invalid_commands_list_every_problem() -> None:
    error = InvalidCommand("title", "must not be empty", more=[("max_players", "too many")])
    assert for_error(error) == (
        "That did not work:\n• **title**: must not be empty\n• **max players**: too many"
    )


async def test_a_command_not_confirmed_in_time_asks_to_try_again() -> None:
    class Unanswered:
        async def send(self, command: object) -> Outcome:
            raise TimeoutError("no command worker answered in time")

        async def aclose(self) -> None:
            return None

    responder = Responder(Unanswered(), PerUserLimit())
    join = JoinGame(command_id="discord:1", user_id="7", game_id="g")
    text, outcome = await responder.decide(join, "join")
    assert (text, outcome) == (BUSY, None)
    assert "trying again is safe" in text
