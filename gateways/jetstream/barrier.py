"""Wait until the server has every subscription a connection sent so far.

nats-py's ``flush()`` writes its PING straight to the socket, ahead of commands still waiting in
the client's buffer (a SUB just made), so its PONG does not prove the server has the SUB: another
connection's message published right after can still find no interest and be dropped (seen here:
at least 10 runs in 150). A message this connection sends to itself does prove it, since the server
handles one connection's commands in order.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg


async def subscriptions_in_place(nc: NATS, timeout: float = 5.0) -> None:
    """Return once the server has all of ``nc``'s earlier SUBs (else ``TimeoutError``)."""
    echoed = asyncio.Event()

    async def on_echo(msg: Msg) -> None:
        echoed.set()

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_echo)
    try:
        await nc.publish(inbox, b"")
        await asyncio.wait_for(echoed.wait(), timeout)
    finally:
        await sub.unsubscribe()
