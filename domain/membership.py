"""Who plays: joining, leaving, the FIFO waitlist and placeholders.

Rules: joined players never exceed the resolved cap; overflow queues first-in first-out
up to the waitlist cap; a user is in a game at most once; placeholders are listed but
take no seat; nobody joins or leaves unless the game is scheduled.

When seats free up (a leave, or a higher cap), the head of the waitlist is promoted
first — also before a newcomer is placed, so nobody jumps the queue.

When the cap of a scheduled game falls below its joined players (the host's own cap, or
an inherited channel or guild cap), the players over the new cap — the latest to have
been seated — move to the head of the waitlist, keeping their order ahead of those
already waiting (:class:`~domain.events.PlayerMovedToWaitlist`, to be told by DM). A
higher cap later promotes them first, since they are at the head. Moved players are
never dropped: they may take the waitlist beyond its cap (they had a seat; newcomers are
refused until it is back under the cap). A host's ``UpdateGame`` rebalances at once; an
inherited change reaches each game through :class:`~domain.commands.ReconcileSeats`,
which the reaction to settings events sends.
"""

from collections.abc import Sequence

from domain.commands import (
    SYSTEM_USER_ID,
    AddPlaceholder,
    ClaimPlaceholder,
    JoinGame,
    LeaveGame,
    ReconcileSeats,
    RemovePlaceholder,
    RemovePlayer,
)
from domain.errors import (
    AlreadyJoined,
    GameFull,
    InvalidCommand,
    NotAllowed,
    NotJoined,
    PlaceholderNotFound,
)
from domain.events import (
    GameEvent,
    PlaceholderAdded,
    PlaceholderClaimed,
    PlaceholderRemoved,
    PlayerJoined,
    PlayerLeft,
    PlayerMovedToWaitlist,
    PlayerPromoted,
    PlayerWaitlisted,
)
from domain.game import Context, GameState, Stamp, require_manager, stamp
from domain.rules import MAX_LABEL, MAX_PLACEHOLDERS, Effective, Problems


def promotions(
    joined_count: int, waitlist: Sequence[str], cap: int, s: Stamp
) -> list[PlayerPromoted]:
    """Promote from the head of the waitlist while seats are free."""
    free = max(0, cap - joined_count)
    return [
        PlayerPromoted(**s, user_id=user, joined_count=joined_count + i, max_players=cap)
        for i, user in enumerate(waitlist[:free], start=1)
    ]


def rebalance(
    joined: Sequence[str], waitlist: Sequence[str], cap: int, s: Stamp
) -> list[PlayerMovedToWaitlist] | list[PlayerPromoted]:
    """Seats after a cap change: the latest seated over ``cap`` move to the head of the
    waitlist (in seat order), or the head of the waitlist fills free seats."""
    if len(joined) <= cap:
        return promotions(len(joined), waitlist, cap, s)
    return [
        PlayerMovedToWaitlist(**s, user_id=user, position=i, max_players=cap)
        for i, user in enumerate(joined[cap:], start=1)
    ]


def place(
    game_id: str, user_id: str, *, joined_count: int, waiting: int, eff: Effective, s: Stamp
) -> PlayerJoined | PlayerWaitlisted:
    """A seat if one is free, else the tail of the waitlist, else GameFull."""
    if joined_count < eff.max_players:
        return PlayerJoined(
            **s, user_id=user_id, joined_count=joined_count + 1, max_players=eff.max_players
        )
    if eff.waitlist_cap is None or waiting < eff.waitlist_cap:
        return PlayerWaitlisted(**s, user_id=user_id, position=waiting + 1)
    raise GameFull(game_id, eff.max_players, eff.waitlist_cap)


def join(state: GameState, command: JoinGame, ctx: Context) -> list[GameEvent]:
    state.require_open()
    _check_player(state, command.user_id)
    return _seat(state, command.user_id, ctx, stamp(command, ctx.now))


def leave(
    state: GameState, command: LeaveGame, ctx: Context, *, actor: str | None = None
) -> list[GameEvent]:
    """Leave a seat or the waitlist; a freed seat goes to the head of the waitlist. With
    ``actor``, someone else (the host) took the player off."""
    state.require_open()
    user, s = command.user_id, stamp(command, ctx.now)
    if actor is not None:
        s["actor_id"] = actor
    cap = ctx.effective(state.details).max_players
    if not state.has(user):
        raise NotJoined(state.game_id, user)
    if user in state.joined:
        left = PlayerLeft(**s, user_id=user, from_waitlist=False)
        return [left, *promotions(len(state.joined) - 1, state.waitlist, cap, s)]
    left = PlayerLeft(**s, user_id=user, from_waitlist=True)
    rest = [w for w in state.waitlist if w != user]
    return [left, *promotions(len(state.joined), rest, cap, s)]


def reconcile_seats(state: GameState, command: ReconcileSeats, ctx: Context) -> list[GameEvent]:
    """Apply the cap in force now to a scheduled game (nothing to do for any other)."""
    if command.user_id != SYSTEM_USER_ID:
        raise NotAllowed("reconcile seats", "to be Muster itself (its reactions send this)")
    if state.status != "scheduled":
        return []
    cap = ctx.effective(state.details).max_players
    return [*rebalance(state.joined, state.waitlist, cap, stamp(command, ctx.now))]


def remove_player(state: GameState, command: RemovePlayer, ctx: Context) -> list[GameEvent]:
    """The host takes a player off the game (or its waitlist), as if they had left."""
    require_manager(state, command, "remove players")
    state.require_open()
    if not state.has(command.player_id):
        raise InvalidCommand(
            "player_id", f"<@{command.player_id}> is not in this game or its waitlist"
        )
    return leave(state, LeaveGame(command_id=command.command_id, user_id=command.player_id,
                                  game_id=command.game_id), ctx, actor=command.user_id)  # fmt: skip


def claim_placeholder(state: GameState, command: ClaimPlaceholder, ctx: Context) -> list[GameEvent]:
    """A user replaces a placeholder and is then placed like any joining player."""
    state.require_open()
    label = _placeholder(state, command.placeholder_id)
    _check_player(state, command.user_id)
    s = stamp(command, ctx.now)
    claimed = PlaceholderClaimed(
        **s, placeholder_id=command.placeholder_id, label=label, user_id=command.user_id
    )
    return [claimed, *_seat(state, command.user_id, ctx, s)]


def add_placeholder(state: GameState, command: AddPlaceholder, ctx: Context) -> list[GameEvent]:
    require_manager(state, command, "add placeholders")
    state.require_open()
    problems = Problems()
    problems.text("label", command.label, MAX_LABEL, required=True)
    if len(state.placeholders) >= MAX_PLACEHOLDERS:
        problems.add("label", f"a game lists at most {MAX_PLACEHOLDERS} placeholders")
    problems.raise_if_any()
    return [
        PlaceholderAdded(
            **stamp(command, ctx.now),
            placeholder_id=state.next_placeholder_id,
            label=command.label.strip(),
        )
    ]


def remove_placeholder(
    state: GameState, command: RemovePlaceholder, ctx: Context
) -> list[GameEvent]:
    require_manager(state, command, "remove placeholders")
    state.require_open()
    label = _placeholder(state, command.placeholder_id)
    return [
        PlaceholderRemoved(
            **stamp(command, ctx.now), placeholder_id=command.placeholder_id, label=label
        )
    ]


def _seat(state: GameState, user: str, ctx: Context, s: Stamp) -> list[GameEvent]:
    """Promote waiting players into free seats first, then place the newcomer."""
    eff = ctx.effective(state.details)
    promoted = promotions(len(state.joined), state.waitlist, eff.max_players, s)
    seated = len(state.joined) + len(promoted)
    waiting = len(state.waitlist) - len(promoted)
    return [
        *promoted,
        place(state.game_id, user, joined_count=seated, waiting=waiting, eff=eff, s=s),
    ]


def _check_player(state: GameState, user: str) -> None:
    if user == SYSTEM_USER_ID:
        raise InvalidCommand("user_id", "Muster itself cannot play")
    if state.has(user):
        raise AlreadyJoined(state.game_id, user, state.waitlist_position(user))


def _placeholder(state: GameState, placeholder_id: int) -> str:
    try:
        return state.placeholders[placeholder_id]
    except KeyError:
        raise PlaceholderNotFound(state.game_id, placeholder_id) from None
