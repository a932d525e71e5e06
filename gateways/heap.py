"""The process heap of a long-running Muster process (bot, projector): settled once after start.

A full garbage collection stops the event loop for as long as it takes to walk every tracked
object, and a process that has just imported discord.py, nats-py, psycopg and the domain holds
hundreds of thousands of them: 45 to 85 ms per full collection in a projector worker of
``tests/bench/projections.py``, hundreds of milliseconds in the bot on a busy machine. Collecting
once and then freezing what is alive (``gc.freeze``) leaves later full collections only what
the process built since. What is frozen is never collected; it is what the process holds for
its whole life anyway (modules, classes, start-up caches).
"""

from __future__ import annotations

import gc

_settled = False


def settle_heap() -> bool:
    """Once per process: collect, then freeze every object alive now. True if this call did
    it (later calls, say from a restarted service in the same process, do nothing)."""
    global _settled  # noqa: PLW0603 once per process, whoever asks first
    if _settled:
        return False
    _settled = True
    gc.collect()
    gc.freeze()
    return True
