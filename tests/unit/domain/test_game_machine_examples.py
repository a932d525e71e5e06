"""The falsifying examples the game's state machine found, kept as step-by-step regressions."""

from __future__ import annotations

from typing import Any

from tests.unit.domain.test_game_machine import GameMachine

INVARIANTS = (
    GameMachine.state_matches_the_model,
    GameMachine.seats_follow_the_cap_once_reconciled,
    GameMachine.the_log_never_overbooks_and_promotes_the_head,
    GameMachine.replaying_the_log_rebuilds_an_equal_aggregate,
)


def run_steps(*steps: tuple[str, dict[str, Any]]) -> None:
    """Run rules of the machine in this order, checking every invariant after each one
    (how the falsifying examples the machine found are kept as regression tests)."""
    machine = GameMachine()
    try:
        for name, arguments in steps:
            getattr(machine, name)(**arguments)
            for check in INVARIANTS:
                check(machine)
    finally:
        machine.teardown()


NO_CAP: dict[str, Any] = {"cap": None, "waitlist_cap": None}


def test_found_raising_an_inherited_cap_promotes_the_waitlist() -> None:
    """Issue 9: with a channel cap back to unset, the reaction's reconcile promotes 102."""
    run_steps(
        ("create", {**NO_CAP, "players": [], "labels": 0}),
        ("join", {"user": "101", "elsewhere": False}),
        ("configure", {"level": "channel", "cap": 1, "waitlist_cap": None, "at_once": True}),
        ("join", {"user": "102", "elsewhere": False}),
        ("configure", {"level": "channel", **NO_CAP, "at_once": False}),
        ("update_game", NO_CAP),
        ("react", {"elsewhere": True}),
    )


def test_found_a_lower_own_cap_moves_the_latest_seated() -> None:
    """Issue 9: cap 2 with 101, 102 joined and 103, 104 waiting; the host sets 1, then 2."""
    run_steps(
        ("create", {"cap": 2, "waitlist_cap": None, "players": ["101", "102", "103", "104"],
                    "labels": 0}),
        ("update_game", {"cap": 1, "waitlist_cap": None}),
        ("update_game", {"cap": 2, "waitlist_cap": None}),
    )  # fmt: skip


def test_found_creating_a_game_after_its_time_is_refused() -> None:
    """Deep run: two days passed before the game was created for a time now past; the
    domain refuses it (InvalidCommand) and the model must expect that, not a created game."""
    run_steps(
        ("time_passes", {"minutes": 1}),
        ("time_passes", {"minutes": 479}),
        *[("time_passes", {"minutes": 600})] * 4,
        ("create", {**NO_CAP, "players": [], "labels": 0}),
    )
