"""Discord as a projection of the log: announcements (posted once, edited as games change) and
the DMs Muster owes members (promotion, cancellation, reschedule, removal, moved to the
waitlist), each sent once. See :mod:`projections.discord.projector`."""
