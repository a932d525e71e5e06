"""Live updates: one JetStream consumer on the log, fanned out to open pages as SSE.

:class:`LiveHub` follows ``<prefix>.game.>`` with an ordered push consumer starting at new
messages (no database polling). For each event it wakes the listeners of that game and of the
game's guild with the event's log position; a listener waits until the read models reached that
position, then sends a fragment rendered **once** per (topic, position) for all its viewers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from api.services import Web

log = logging.getLogger("muster.api.live")


class Listener:
    """One open page: the newest position seen for its topic (older wake-ups coalesce)."""

    def __init__(self) -> None:
        self.position = 0
        self.closed = False
        self.woken = asyncio.Event()

    def wake(self, position: int) -> None:
        self.position = max(self.position, position)
        self.woken.set()

    def close(self) -> None:
        self.closed = True
        self.woken.set()

    async def next(self) -> int | None:
        """The newest position, or ``None`` once the web is stopping (end the stream)."""
        await self.woken.wait()
        self.woken.clear()
        return None if self.closed else self.position


class LiveHub:
    """Fan-out from the log to listeners by topic (``game:<id>``, ``guild:<id>``)."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.topics: dict[str, set[Listener]] = {}
        self.guild_of: dict[str, str] = {}
        self.rendered: OrderedDict[tuple[str, int], asyncio.Task[str]] = OrderedDict()
        self.position = 0
        self._sub: Any = None

    async def start(self) -> None:
        js = self.web.nc.jetstream()
        self._sub = await js.subscribe(
            f"{self.web.layout.prefix}.game.>", stream=self.web.layout.stream,
            cb=self._on_message, ordered_consumer=True, idle_heartbeat=5.0,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
        )  # fmt: skip

    def close_streams(self) -> None:
        """End every open stream (the server is stopping; browsers reconnect elsewhere)."""
        for listeners in self.topics.values():
            for listener in listeners:
                listener.close()

    async def stop(self) -> None:
        self.close_streams()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        for task in self.rendered.values():
            task.cancel()

    async def _on_message(self, msg: Msg) -> None:
        position = msg.metadata.sequence.stream
        self.position = max(self.position, position)
        game_id = msg.subject.rsplit(".", 1)[-1]
        self.web.games.saw(game_id, position)
        guild_id = self.guild_of.get(game_id)
        if guild_id is None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                guild_id = json.loads(msg.data).get("guild_id")
            if guild_id is None:
                guild_id = await self._guild_from_db(game_id)
            if guild_id:
                self.guild_of[game_id] = guild_id
        self.publish(f"game:{game_id}", position)
        if guild_id:
            self.publish(f"guild:{guild_id}", position)

    async def _guild_from_db(self, game_id: str) -> str | None:
        with contextlib.suppress(Exception):
            async with self.web.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT guild_id FROM games WHERE game_id = %s::uuid", (game_id,)
                )
                row = await cur.fetchone()
                return str(row[0]) if row else None
        return None

    def publish(self, topic: str, position: int) -> None:
        for listener in self.topics.get(topic, ()):
            listener.wake(position)

    @contextlib.asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[Listener]:
        listener = Listener()
        self.topics.setdefault(topic, set()).add(listener)
        try:
            yield listener
        finally:
            self.topics[topic].discard(listener)
            if not self.topics[topic]:
                del self.topics[topic]

    def render_once(
        self, topic: str, position: int, render: Callable[[], Awaitable[str]]
    ) -> asyncio.Task[str]:
        """One rendering per (topic, position), shared by every viewer, once the read models
        reached ``position``."""
        key = (topic, position)
        task = self.rendered.get(key)
        if task is None:

            async def when_visible() -> str:
                from api.writes import visible

                await visible(self.web, position)  # the read models show this event
                return await render()

            task = asyncio.ensure_future(when_visible())
            self.rendered[key] = task
            while len(self.rendered) > 256:
                self.rendered.popitem(last=False)
        return task

    @property
    def viewers(self) -> int:
        return sum(len(s) for s in self.topics.values())
