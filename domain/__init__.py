"""Muster's domain: games, guild settings and channel settings, decided without I/O.

Where things happen:

* ``commands`` — what can be asked (``JoinGame``, ``CreateGame``, …);
  ``events`` — every fact the log can hold (``game.player_joined.v1``, …);
  ``errors`` — why a command is refused; ``outcome`` — what to tell the person.
* ``membership`` — joining, leaving, the waitlist, placeholders;
  ``lifecycle`` — create, update, reschedule, cancel, start, complete, announcements,
  reminders; ``settings`` — guild and channel settings; ``rules`` — limits, defaults,
  inheritance and permissions; ``game`` — a game's state and how events change it;
  ``decisions`` — which aggregate a command addresses and which decision applies.
* ``aggregates``, ``codec``, ``app`` — the eventsourcing plumbing: aggregate shells,
  the event mapper (versioned names, plain JSON) and ``MusterApp.handle``;
  ``catalogue`` — the event catalogue and JSON Schemas.
"""
