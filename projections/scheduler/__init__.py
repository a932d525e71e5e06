"""The reminder and lifecycle scheduler: due times from the log, commands at their time.

* :mod:`.agenda` — ``Due`` (what) and ``Agenda`` (when: one heap, lazily invalidated);
* :mod:`.board` — the games, settings and mutes folded from the log, and each game's due times;
* :mod:`.actions` — what happens at a due time (commands, the reminder DM);
* :mod:`.message` — the DM's content and its nonce; :mod:`.mailbox` — where DMs go;
* :mod:`.service` — the loop that sleeps until the next due time; :mod:`.runner` — start-up
  from the read models and following the log; :mod:`.mute` — the mute buttons' handler.

See ``docs/scheduler.md``.
"""

from projections.scheduler.clock import Clock, ManualClock, WallClock
from projections.scheduler.mailbox import Delivery, DiscordMailbox, Mailbox, NoDiscord
from projections.scheduler.metrics import SchedulerMetrics
from projections.scheduler.mute import handle_mute
from projections.scheduler.runner import run_scheduler
from projections.scheduler.service import Scheduler

__all__ = [
    "Clock",
    "Delivery",
    "DiscordMailbox",
    "Mailbox",
    "ManualClock",
    "NoDiscord",
    "Scheduler",
    "SchedulerMetrics",
    "WallClock",
    "handle_mute",
    "run_scheduler",
]
