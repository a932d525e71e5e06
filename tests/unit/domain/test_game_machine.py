"""Stateful property test: random commands on one game, checked against a reference model.

Invariants: joined players never exceed the cap in force when they took their seat; each
user is in the game at most once; the waitlist is first-in first-out and promotions take
its head; a lower cap moves the latest seated players to the head of the waitlist; once
every settings change has been reconciled, a scheduled game has no more joined players
than its cap and nobody waits while a seat is free; status never goes back; replaying the
stored events rebuilds an equal aggregate; a repeated command that stored events returns
its first outcome and stores nothing.

A channel or guild change is followed by the ``ReconcileSeats`` the reaction to settings
events would send (``projections/reactions.py``): at once, or later (``react``), so that
joins, leaves and updates also run in the window before it.

The default run is short; ``pytest -m deep`` runs many more examples (see the end).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from domain.aggregates import Recorded, replay
from domain.app import MusterApp
from domain.commands import (
    SYSTEM_USER_ID,
    AddPlaceholder,
    AnyCommand,
    CancelGame,
    ClaimPlaceholder,
    CompleteGame,
    ConfigureChannel,
    ConfigureGuild,
    CreateGame,
    JoinGame,
    LeaveGame,
    ReconcileSeats,
    RemovePlaceholder,
    StartGame,
    UpdateGame,
)
from domain.errors import (
    AlreadyJoined,
    DomainError,
    GameFull,
    GameNotFound,
    GameNotOpen,
    InvalidCommand,
    InvalidStatusChange,
    NotJoined,
    PlaceholderNotFound,
)
from domain.events import (
    PlayerJoined,
    PlayerLeft,
    PlayerMovedToWaitlist,
    PlayerPromoted,
    PlayerWaitlisted,
)
from domain.game import STATUS_ORDER
from domain.outcome import Outcome
from tests.unit.domain.scenario import (
    CHANNEL,
    GAME,
    GAME_AGG,
    GUILD,
    HOST,
    LATER,
    MANAGE_GUILD,
    NOW,
)

USERS = st.sampled_from([str(u) for u in range(101, 113)])
CAPS = st.none() | st.integers(1, 4)
WAITLIST_CAPS = st.none() | st.integers(0, 3) | st.just("unlimited")
ADMIN = {"user_id": HOST, "permissions": MANAGE_GUILD | 0x10}


class GameMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.app = MusterApp(clock=lambda: self.now)
        self.app.SETTINGS_MAX_AGE = 0.0
        self.elsewhere = MusterApp(clock=lambda: self.now)  # another process, same log
        self.elsewhere.events.recorder = self.app.events.recorder
        self.elsewhere.SETTINGS_MAX_AGE = 0.0
        self.count = 0
        self.created = False
        self.status = "scheduled"
        self.joined: list[str] = []
        self.waitlist: list[str] = []
        self.placeholders: dict[int, str] = {}
        self.next_placeholder = 1
        self.caps: dict[str, Any] = {"game": None, "channel": None, "guild": None}
        self.waitlist_caps: dict[str, Any] = {"game": None, "channel": None, "guild": None}
        self.handled: list[tuple[AnyCommand, Outcome]] = []
        self.statuses = ["scheduled"]
        self.pending: list[tuple[str, int]] = []  # settings changes not reconciled yet

    # -- the reference model ----------------------------------------------------------

    def cap(self) -> int:
        return next((c for c in self.caps.values() if c is not None), 10)

    def waitlist_cap(self) -> int | None:
        cap = next((c for c in self.waitlist_caps.values() if c is not None), None)
        return None if cap in (None, "unlimited") else cap

    def settled(self, joined: list[str], waitlist: list[str]) -> list[str]:
        """Free seats go to the head of the waitlist (joins and leaves do only this)."""
        promoted = waitlist[: max(0, self.cap() - len(joined))]
        joined += promoted
        del waitlist[: len(promoted)]
        return promoted

    def rebalanced(self) -> tuple[list[str], list[str]]:
        """A cap change: (promoted, moved to the head of the waitlist)."""
        moved = self.joined[self.cap() :]
        if not moved:
            return self.settled(self.joined, self.waitlist), []
        del self.joined[self.cap() :]
        self.waitlist[:0] = moved
        return [], moved

    def cid(self) -> str:
        self.count += 1
        return f"cmd-{self.count}"

    def handle(
        self, command: AnyCommand, expected: type[DomainError] | None, app: MusterApp | None = None
    ) -> Outcome | None:
        if expected is not None:
            with pytest.raises(expected):
                (app or self.app).handle(command)
            return None
        outcome = (app or self.app).handle(command)
        if outcome.event_types:  # only what was stored is remembered
            self.handled.append((command, outcome))
        return outcome

    def open_error(self) -> type[DomainError] | None:
        if not self.created:
            return GameNotFound
        return None if self.status == "scheduled" else GameNotOpen

    # -- rules --------------------------------------------------------------------------

    @precondition(lambda self: not self.created)
    @rule(
        cap=CAPS,
        waitlist_cap=WAITLIST_CAPS,
        players=st.lists(USERS, unique=True, max_size=5),
        labels=st.integers(0, 2),
    )
    def create(self, cap: int | None, waitlist_cap: Any, players: list[str], labels: int) -> None:
        self.caps["game"], self.waitlist_caps["game"] = cap, waitlist_cap
        seated, waiting = players[: self.cap()], players[self.cap() :]
        limit = self.waitlist_cap()
        error: type[DomainError] | None = None
        if self.now >= LATER:  # time passed its start: a game in the past is refused
            error = InvalidCommand
        elif limit is not None and len(waiting) > limit:
            error = GameFull
        command = CreateGame(
            command_id=self.cid(), **ADMIN, guild_id=GUILD, channel_id=CHANNEL, title="Game",
            scheduled_at=LATER,
            max_players=cap, waitlist_cap=waitlist_cap, players=tuple(players),
            placeholders=tuple(f"Guest {i}" for i in range(labels)), game_id=GAME,
        )  # fmt: skip
        if self.handle(command, error) is None:
            self.caps["game"] = self.waitlist_caps["game"] = None
            return
        self.created = True
        self.joined, self.waitlist = list(seated), list(waiting)
        self.placeholders = {i + 1: f"Guest {i}" for i in range(labels)}
        self.next_placeholder = labels + 1

    def _seat(self, user: str, command: AnyCommand, app: MusterApp) -> None:
        joined, waitlist = list(self.joined), list(self.waitlist)
        promoted = self.settled(joined, waitlist)
        limit = self.waitlist_cap()
        full = len(joined) >= self.cap() and limit is not None and len(waitlist) >= limit
        outcome = self.handle(command, GameFull if full else None, app)
        if outcome is None:
            return
        (joined if len(joined) < self.cap() else waitlist).append(user)
        self.joined, self.waitlist = joined, waitlist
        assert outcome.promoted == tuple(promoted)
        assert outcome.result == ("joined" if user in joined else "waitlisted")
        assert outcome.waitlist_position == (waitlist.index(user) + 1 if user in waitlist else None)

    @rule(user=USERS, elsewhere=st.booleans())
    def join(self, user: str, elsewhere: bool) -> None:
        command = JoinGame(command_id=self.cid(), user_id=user, game_id=GAME)
        app = self.elsewhere if elsewhere else self.app
        error = self.open_error() or (
            AlreadyJoined if user in self.joined + self.waitlist else None
        )
        if error:
            self.handle(command, error, app)
        else:
            self._seat(user, command, app)

    @rule(user=USERS, elsewhere=st.booleans())
    def leave(self, user: str, elsewhere: bool) -> None:
        command = LeaveGame(command_id=self.cid(), user_id=user, game_id=GAME)
        app = self.elsewhere if elsewhere else self.app
        error = self.open_error() or (None if user in self.joined + self.waitlist else NotJoined)
        outcome = self.handle(command, error, app)
        if outcome is None:
            return
        (self.joined if user in self.joined else self.waitlist).remove(user)
        promoted = self.settled(self.joined, self.waitlist)
        assert outcome.promoted == tuple(promoted)

    @rule(user=USERS, pick=st.integers(1, 4))
    def claim_placeholder(self, user: str, pick: int) -> None:
        command = ClaimPlaceholder(
            command_id=self.cid(), user_id=user, game_id=GAME, placeholder_id=pick
        )
        error = (
            self.open_error()
            or (None if pick in self.placeholders else PlaceholderNotFound)
            or (AlreadyJoined if user in self.joined + self.waitlist else None)
        )
        if error:
            self.handle(command, error)
            return
        before = dict(self.placeholders)
        del self.placeholders[pick]
        seated_before = (list(self.joined), list(self.waitlist))
        self._seat(user, command, self.app)
        if (self.joined, self.waitlist) == seated_before:  # refused: the placeholder stays
            self.placeholders = before

    @rule()
    def add_placeholder(self) -> None:
        command = AddPlaceholder(
            command_id=self.cid(), **ADMIN, game_id=GAME, label=f"Guest {self.next_placeholder}"
        )
        if self.handle(command, self.open_error()) is not None:
            self.placeholders[self.next_placeholder] = f"Guest {self.next_placeholder}"
            self.next_placeholder += 1

    @rule(pick=st.integers(1, 4))
    def remove_placeholder(self, pick: int) -> None:
        command = RemovePlaceholder(
            command_id=self.cid(), **ADMIN, game_id=GAME, placeholder_id=pick
        )
        error = self.open_error() or (None if pick in self.placeholders else PlaceholderNotFound)
        if self.handle(command, error) is not None:
            del self.placeholders[pick]

    @rule(cap=CAPS, waitlist_cap=WAITLIST_CAPS)
    def update_game(self, cap: int | None, waitlist_cap: Any) -> None:
        command = UpdateGame(
            command_id=self.cid(), **ADMIN, game_id=GAME, max_players=cap, waitlist_cap=waitlist_cap
        )
        error = GameNotFound if not self.created else None
        if self.created and self.status not in ("scheduled", "in_progress"):
            error = InvalidStatusChange
        outcome = self.handle(command, error)
        if outcome is None:
            return
        changed = (cap, waitlist_cap) != (self.caps["game"], self.waitlist_caps["game"])
        self.caps["game"], self.waitlist_caps["game"] = cap, waitlist_cap
        promoted, moved = [], []
        if changed and self.status == "scheduled":
            promoted, moved = self.rebalanced()
        assert outcome.promoted == tuple(promoted)
        assert outcome.moved_to_waitlist == tuple(moved)

    @rule(
        level=st.sampled_from(["channel", "guild"]),
        cap=CAPS,
        waitlist_cap=WAITLIST_CAPS,
        at_once=st.booleans(),
    )
    def configure(self, level: str, cap: int | None, waitlist_cap: Any, at_once: bool) -> None:
        fields = {
            "command_id": self.cid(),
            **ADMIN,
            "guild_id": GUILD,
            "max_players": cap,
            "waitlist_cap": waitlist_cap,
        }
        command = (
            ConfigureChannel(channel_id=CHANNEL, **fields)
            if level == "channel"
            else ConfigureGuild(**fields)
        )
        outcome = self.handle(command, None)
        self.caps[level], self.waitlist_caps[level] = cap, waitlist_cap
        if outcome is not None and outcome.event_types:
            self.pending.append((level, outcome.version))
            if at_once:
                self.reconcile(elsewhere=False)

    @precondition(lambda self: self.pending)
    @rule(elsewhere=st.booleans())
    def react(self, elsewhere: bool) -> None:
        self.reconcile(elsewhere)

    def reconcile(self, elsewhere: bool) -> None:
        """What the reaction to the oldest unreconciled settings event sends the game."""
        level, version = self.pending.pop(0)
        if not self.created:
            return  # the reaction finds no game to reconcile
        key = GUILD if level == "guild" else CHANNEL
        command = ReconcileSeats(
            command_id=f"settings:{level}.{key}:{version}:{GAME}",
            user_id=SYSTEM_USER_ID,
            game_id=GAME,
            **{f"{level}_version": version},
        )
        outcome = self.handle(command, None, self.elsewhere if elsewhere else self.app)
        assert outcome is not None
        promoted, moved = self.rebalanced() if self.status == "scheduled" else ([], [])
        assert outcome.promoted == tuple(promoted)
        assert outcome.moved_to_waitlist == tuple(moved)

    @rule(change=st.sampled_from(["start", "complete", "cancel"]))
    def change_status(self, change: str) -> None:
        allowed = {
            "start": ("scheduled",),
            "complete": ("in_progress",),
            "cancel": ("scheduled", "in_progress"),
        }
        after = {"start": "in_progress", "complete": "completed", "cancel": "cancelled"}
        make: Callable[..., AnyCommand] = {
            "start": StartGame,
            "complete": CompleteGame,
            "cancel": CancelGame,
        }[change]
        command = make(command_id=self.cid(), user_id=SYSTEM_USER_ID, game_id=GAME)
        error = (
            GameNotFound
            if not self.created
            else None
            if self.status in allowed[change]
            else InvalidStatusChange
        )
        if self.handle(command, error) is not None:
            self.status = after[change]

    @precondition(lambda self: self.handled)
    @rule(data=st.data())
    def repeat_a_command(self, data: st.DataObject) -> None:
        command, first = data.draw(st.sampled_from(self.handled))
        stored = len(self.app.history(GAME_AGG))
        again = (self.elsewhere if data.draw(st.booleans()) else self.app).handle(command)
        assert again == msgspec.structs.replace(first, replayed=True, notification_ids=())
        assert len(self.app.history(GAME_AGG)) == stored

    @rule(minutes=st.integers(1, 600))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def state_matches_the_model(self) -> None:
        if not self.created:
            return
        game = self.app.game(GAME)
        assert (game.joined, game.waitlist) == (self.joined, self.waitlist)
        assert game.placeholders == self.placeholders
        assert game.status == self.status
        everyone = game.joined + game.waitlist
        assert len(everyone) == len(set(everyone)), "a user is in a game at most once"
        self.statuses.append(game.status)
        ranks = [STATUS_ORDER[s] for s in self.statuses]
        assert ranks == sorted(ranks), "status never goes back"

    @invariant()
    def seats_follow_the_cap_once_reconciled(self) -> None:
        if not self.created or self.pending or self.status != "scheduled":
            return
        game = self.app.game(GAME)
        assert len(game.joined) <= self.cap(), "joined players never exceed the cap"
        assert not game.waitlist or len(game.joined) == self.cap(), "nobody waits for a free seat"

    @invariant()
    def the_log_never_overbooks_and_promotes_the_head(self) -> None:
        joined: list[str] = []
        waitlist: list[str] = []
        for event in self.app.history(GAME_AGG):
            match event:
                case PlayerJoined(user_id=user, joined_count=n, max_players=cap):
                    assert n == len(joined) + 1 <= cap
                    assert not waitlist or n <= cap, "nobody jumps the queue"
                    joined.append(user)
                case PlayerPromoted(user_id=user, joined_count=n, max_players=cap):
                    assert waitlist, "promotion needs someone waiting"
                    assert waitlist[0] == user, "promotion takes the head of the waitlist"
                    assert n == len(joined) + 1 <= cap
                    joined.append(waitlist.pop(0))
                case PlayerWaitlisted(user_id=user, position=position):
                    assert position == len(waitlist) + 1
                    waitlist.append(user)
                case PlayerLeft(user_id=user, from_waitlist=from_waitlist):
                    (waitlist if from_waitlist else joined).remove(user)
                case PlayerMovedToWaitlist(user_id=user, position=position, max_players=cap):
                    assert joined.index(user) == cap, "the latest seated move, in seat order"
                    assert 1 <= position <= len(waitlist) + 1
                    joined.remove(user)
                    waitlist.insert(position - 1, user)

    @invariant()
    def replaying_the_log_rebuilds_an_equal_aggregate(self) -> None:
        if not self.created:
            return
        stored = [e for e in self.app.events.get(GAME_AGG) if isinstance(e, Recorded)]
        assert replay(None, stored) == self.app.aggregate(GAME_AGG)


GameMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestGame = GameMachine.TestCase

DEEP_EXAMPLES = 5_000


@pytest.mark.deep
@pytest.mark.timeout(3600)  # minutes, not the suite's 300 s per test
def test_game_machine_deep() -> None:
    """Many more (and longer) runs than the default: ``pytest -m deep``."""
    run_state_machine_as_test(
        GameMachine,
        settings=settings(
            max_examples=DEEP_EXAMPLES,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
