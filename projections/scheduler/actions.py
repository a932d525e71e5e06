"""What the scheduler does at a due time: commands through the port, and the reminder DM.

Every command carries a deterministic id, so a second scheduler, or this one after a restart,
repeats nothing: ``start:<game>``, ``complete:<game>``, and per reminder
``reminder-intent:<key>`` then ``reminder:<key>`` with ``key = <game>:<offset>:<user>:<start>``
(the start time is part of the key: after a reschedule a reminder is due again).

A reminder goes: intent recorded → DM sent (nonce-enforced) → result recorded. If the intent
was already there, an earlier attempt may have sent the DM and died before recording it: the
player's recent DMs are searched for the reminder's nonce before anything is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from domain.commands import (
    SYSTEM_USER_ID,
    CompleteGame,
    RecordReminder,
    RecordReminderIntent,
    StartGame,
)
from domain.errors import (
    ConcurrencyConflict,
    DomainError,
    GameNotFound,
    InvalidStatusChange,
    ReminderAlreadyRecorded,
)
from domain.events import ReminderStatus
from domain.ports import CommandPort
from projections.scheduler.agenda import Due
from projections.scheduler.board import Board
from projections.scheduler.mailbox import Delivery, Mailbox, MailboxUnavailable
from projections.scheduler.message import nonce_of, reminder_body, start_of
from projections.scheduler.metrics import SchedulerMetrics

log = logging.getLogger(__name__)

Result = Literal["done", "retry", "dropped"]
STARTED = "the game had already started when the reminder was due"
MUTED = "the player muted these reminders"


class Retry(Exception):
    """Try this due time again later (the log or Discord did not answer)."""


@dataclass
class Actions:
    """Carries out due times; returns ``done``, ``retry`` or ``dropped`` for each."""

    port: CommandPort
    mailbox: Mailbox
    board: Board
    metrics: SchedulerMetrics

    async def run(self, due: Due, now: float) -> Result:
        try:
            if due.kind == "remind":
                return await self._remind(due, now)
            return await self._lifecycle(due)
        except Retry as why:
            log.info("%s %s: will retry (%s)", due.kind, due.key, why)
            return "retry"
        except (ConcurrencyConflict, TimeoutError, OSError) as error:
            log.warning("%s %s: will retry (%s)", due.kind, due.key, error)
            return "retry"

    async def _lifecycle(self, due: Due) -> Result:
        game = self.board.games.get(due.game_id)
        if game is None:
            log.info("%s of game %s skipped: the game is unknown or over", due.kind, due.game_id)
            return "dropped"
        if due.kind == "complete" and game.status == "scheduled":
            raise Retry("the game has not started yet")
        command = (
            StartGame(
                command_id=f"start:{due.game_id}", user_id=SYSTEM_USER_ID, game_id=due.game_id
            )
            if due.kind == "start"
            else CompleteGame(
                command_id=f"complete:{due.game_id}", user_id=SYSTEM_USER_ID, game_id=due.game_id
            )
        )
        try:
            outcome = await self.port.send(command)
        except (InvalidStatusChange, GameNotFound) as error:
            log.info("%s of game %s not needed: %s", due.kind, due.game_id, error)
            return "dropped"
        if not outcome.replayed:
            self.metrics.lifecycle.labels(due.kind).inc()
        return "done"

    async def _remind(self, due: Due, now: float) -> Result:  # noqa: PLR0911 one per outcome
        game = self.board.games.get(due.game_id)
        if game is None or due.user_id not in game.joined:
            log.info("reminder %s skipped: the game or the player is gone", due.key)
            return "dropped"
        if self.board.muted(game, due.user_id):
            return await self._record(due, "skipped", MUTED)
        if game.status != "scheduled" or now >= due.start:
            return await self._record(due, "skipped", STARTED)
        superseded = self.board.superseded(due, now)
        if superseded:
            return await self._record(due, "skipped", superseded)
        intent = RecordReminderIntent(
            command_id=f"reminder-intent:{due.key}", user_id=SYSTEM_USER_ID, game_id=due.game_id,
            recipient_id=due.user_id, offset_minutes=due.offset_minutes, scheduled_at=start_of(due),
        )  # fmt: skip
        try:
            outcome = await self.port.send(intent)
        except ReminderAlreadyRecorded:
            return "done"
        except DomainError as refused:  # rescheduled, left, muted, started meanwhile
            log.info("reminder %s not sent: %s", due.key, refused)
            return "dropped"
        nonce = nonce_of(due)
        if outcome.replayed or outcome.result == "unchanged":
            try:
                found = await self.mailbox.find(due.user_id, nonce)
            except MailboxUnavailable as error:
                raise Retry(f"cannot check earlier DMs: {error}") from error
            if found is not None:
                return await self._record(due, "sent", f"message {found} (found after a restart)")
        body = reminder_body(game, self.board.effective(game), due)
        delivery: Delivery = await self.mailbox.send(due.user_id, body, nonce)
        if delivery.status == "retry":
            raise Retry(delivery.detail)
        return await self._record(due, delivery.status, delivery.detail)

    async def _record(self, due: Due, status: ReminderStatus, detail: str) -> Result:
        command = RecordReminder(
            command_id=f"reminder:{due.key}", user_id=SYSTEM_USER_ID, game_id=due.game_id,
            recipient_id=due.user_id, offset_minutes=due.offset_minutes,
            scheduled_at=start_of(due), status=status, detail=detail[:500],
        )  # fmt: skip
        try:
            outcome = await self.port.send(command)
        except ReminderAlreadyRecorded:
            return "done"
        except DomainError as refused:
            log.info("reminder %s not recorded: %s", due.key, refused)
            return "dropped"
        if not outcome.replayed:
            self.metrics.reminders.labels(status).inc()
        return "done"
