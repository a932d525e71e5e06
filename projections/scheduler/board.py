"""The scheduler's picture of the world, folded from the log: games still to start or end,
guild and channel settings, guild-wide mutes — and each game's due times.

Games are folded with the domain's own :func:`domain.game.evolve`, so the scheduler cannot
disagree with the rules about who has joined, what was recorded or when a game starts.
Completed and cancelled games are dropped; events of games it does not know (finished before
it started, or unreadable) are ignored.
"""

from __future__ import annotations

import logging
from datetime import datetime

from domain.events import (
    ChannelConfigured,
    Event,
    GameCreated,
    GameEvent,
    GuildConfigured,
    GuildRemindersMuted,
    GuildRemindersUnmuted,
    PlayerJoined,
    PlayerPromoted,
    Settings,
)
from domain.game import GameState, evolve
from domain.rules import Effective, resolve
from projections.feed import game_uuid
from projections.scheduler.agenda import Agenda, Due

log = logging.getLogger(__name__)

ACTIVE = ("scheduled", "in_progress")


def unix(when: datetime) -> int:
    return int(when.timestamp())


class Board:
    """Folded state plus the :class:`Agenda` of due times derived from it."""

    def __init__(self) -> None:
        self.games: dict[str, GameState] = {}
        self.channels: dict[str, Settings] = {}
        self.guilds: dict[str, Settings] = {}
        self.guild_muted: dict[str, set[str]] = {}
        self.agenda = Agenda()
        self.handled: dict[str, set[Due]] = {}
        """Due times this process took on (in flight or done), per game: a refresh from the log
        must not hand them out again before the log shows their effect."""
        self.joined_at: dict[str, dict[str, float]] = {}
        """When players took their seat, per game, as seen in the log since start-up."""
        self.deferred: dict[Due, float] = {}
        """Due times put back after a failure, and when to try again."""

    # -- state ------------------------------------------------------------------------------
    def effective(self, game: GameState) -> Effective:
        return resolve(
            game.details, self.channels.get(game.channel_id), self.guilds.get(game.guild_id)
        )

    def muted(self, game: GameState, user_id: str) -> bool:
        return user_id in game.muted or user_id in self.guild_muted.get(game.guild_id, ())

    def load_game(self, game_id: str, state: GameState) -> None:
        """A game as the read model holds it (at start-up)."""
        if state.status in ACTIVE:
            self.games[game_id] = state

    def apply(self, aggregate_id: str, event: Event) -> set[str]:
        """Fold one event from the log; returns the ids of games whose due times may change."""
        if aggregate_id.startswith("game.") and isinstance(event, GameEvent):
            try:
                key = game_uuid(aggregate_id)
            except ValueError:  # a subject another writer made up: no game of Muster's
                log.warning("%s is not a game's subject; its event is skipped", aggregate_id)
                return set()
            return self._apply_game(key, event)
        if isinstance(event, GuildConfigured):
            self.guilds[event.guild_id] = event.settings
            return {g for g, s in self.games.items() if s.guild_id == event.guild_id}
        if isinstance(event, ChannelConfigured):
            self.channels[event.channel_id] = event.settings
            return {g for g, s in self.games.items() if s.channel_id == event.channel_id}
        if isinstance(event, GuildRemindersMuted):
            self.guild_muted.setdefault(event.guild_id, set()).add(event.user_id)
        elif isinstance(event, GuildRemindersUnmuted):
            self.guild_muted.get(event.guild_id, set()).discard(event.user_id)
        return set()

    def _apply_game(self, game_id: str, event: GameEvent) -> set[str]:
        state = self.games.get(game_id)
        if state is None and not isinstance(event, GameCreated):
            return set()  # a game that ended before we started (or one we could not read)
        try:
            state = evolve(state, event, game_id)
        except (TypeError, ValueError, KeyError) as error:
            log.warning("game %s: cannot fold %s (%s); dropping the game", game_id, event, error)
            self.games.pop(game_id, None)
            return {game_id}
        if isinstance(event, PlayerJoined | PlayerPromoted):
            self.joined_at.setdefault(game_id, {})[event.user_id] = event.occurred_at.timestamp()
        if state.status in ACTIVE:
            self.games[game_id] = state
        else:
            self.games.pop(game_id, None)
            self.joined_at.pop(game_id, None)
        return {game_id}

    # -- due times --------------------------------------------------------------------------
    def dues_of(self, game_id: str) -> dict[Due, float]:
        """Every pending due time of a game, from its current state."""
        game = self.games.get(game_id)
        if game is None:
            return {}
        eff = self.effective(game)
        start = unix(game.scheduled_at)
        dues: dict[Due, float] = {}
        if game.status == "scheduled":
            dues[Due("start", game_id, 0, "", start)] = start
        for offset in eff.reminder_minutes:  # once started, those left are recorded skipped
            for user in game.joined:
                if (offset, user) not in game.reminders:
                    dues[Due("remind", game_id, offset, user, start)] = start - 60 * offset
        dues[Due("complete", game_id, 0, "", start)] = start + 60 * eff.duration_minutes
        handled = self.handled.get(game_id)
        if handled:
            for due in handled & dues.keys():
                del dues[due]
        if self.deferred:
            for due in dues.keys() & self.deferred.keys():
                dues[due] = max(dues[due], self.deferred[due])
        return dues

    def refresh(self, game_ids: set[str]) -> None:
        """Recompute the due times of these games (after events changed them)."""
        for game_id in game_ids:
            self.agenda.set_game(game_id, self.dues_of(game_id))
            if game_id not in self.games:
                for due in self.handled.pop(game_id, ()):
                    self.deferred.pop(due, None)

    def refresh_all(self) -> None:
        self.refresh(set(self.games))

    def take(self, due: Due) -> None:
        """This process is handling ``due`` (it was taken off the agenda)."""
        self.handled.setdefault(due.game_id, set()).add(due)

    def defer(self, due: Due, at: float) -> None:
        """Hand ``due`` out again at ``at`` (after a failure)."""
        self.deferred[due] = at
        taken = self.handled.get(due.game_id)
        if taken is not None:
            taken.discard(due)
        if due in self.dues_of(due.game_id):
            self.agenda.put(due, at)

    def done(self, due: Due) -> None:
        self.deferred.pop(due, None)

    def superseded(self, due: Due, now: float) -> str | None:
        """Why this reminder is not worth sending although it is due, or None.

        * A later reminder (smaller offset) of the same player is due too: only that one
          goes out — two reminders at once say nothing the last one does not.
        * The player joined after this reminder was due (a late joiner, or a game created
          inside its own reminder window) and a later reminder is still ahead: that one will
          do. Reminders missed while Muster was down are still sent late.
        """
        game = self.games.get(due.game_id)
        if game is None:
            return None
        later = [
            due.start - 60 * offset
            for offset in self.effective(game).reminder_minutes
            if offset < due.offset_minutes and (offset, due.user_id) not in game.reminders
        ]
        if any(at <= now for at in later):
            return "a later reminder was due at the same time"
        joined = self.joined_at.get(due.game_id, {}).get(due.user_id)
        if later and joined is not None and joined > due.start - 60 * due.offset_minutes:
            return "the player joined after this reminder was due; a later one will follow"
        return None
